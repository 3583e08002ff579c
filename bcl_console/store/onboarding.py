"""Onboarding plans, their steps, test-stage runs, reminders and failure drills."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.domain.municipality import Municipality
from bcl_console.domain.onboarding import (
    Outcome,
    PlannedStep,
    Stage,
    StepStatus,
    Template,
    check_manual_done,
    step_status,
)
from bcl_console.domain.onboarding import (
    make_plan as lay_out_plan,
)
from bcl_console.store.api import AuditEntry, PlanRecord, PlanRequest, Reminder
from bcl_console.store.api import PlanRow as PlanRow
from bcl_console.store.api import StageRun as StageRun
from bcl_console.store.api import StepRow as StepRow
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import (
    get_municipality,
    list_municipalities,
    set_service_start,
)
from bcl_console.store.municipalities import passed_stage_set as passed_stage_set

_PLAN_COLUMNS = ("municipality_code, service_start, made_on, offers_seal, template_version, created_at, "
                 "created_by, override_reason, override_by, override_at")


def _plan(row: Sequence[Any]) -> PlanRow:
    return PlanRow(row[0], date.fromisoformat(row[1]), date.fromisoformat(row[2]), bool(row[3]), int(row[4]),
                   row[5], row[6], row[7], row[8], row[9])


def get_plan(conn: sqlite3.Connection, code: str) -> PlanRow | None:
    row = conn.execute(f"SELECT {_PLAN_COLUMNS} FROM onboarding_plans WHERE municipality_code = ?",  # noqa: S608
                       (code,)).fetchone()
    return None if row is None else _plan(row)


def list_plans(conn: sqlite3.Connection) -> list[PlanRow]:
    return [_plan(r) for r in conn.execute(
        f"SELECT {_PLAN_COLUMNS} FROM onboarding_plans ORDER BY service_start, municipality_code")]  # noqa: S608


def replace_plan(conn: sqlite3.Connection, code: str, *, service_start: date, made_on: date, offers_seal: bool,
                 template_version: int, at: str, by: str, steps: Sequence[PlannedStep],
                 keep_done: dict[str, tuple[str, str | None, str | None]]) -> None:
    """Write a plan and its steps (a re-plan keeps what was already done, by step key)."""
    conn.execute("DELETE FROM onboarding_steps WHERE municipality_code = ?", (code,))
    conn.execute(
        "INSERT INTO onboarding_plans (municipality_code, service_start, made_on, offers_seal, template_version, "
        "created_at, created_by) VALUES (?,?,?,?,?,?,?) ON CONFLICT (municipality_code) DO UPDATE SET "
        "service_start = excluded.service_start, made_on = excluded.made_on, offers_seal = excluded.offers_seal, "
        "template_version = excluded.template_version",
        (code, service_start.isoformat(), made_on.isoformat(), int(offers_seal), template_version, at, by),
    )
    conn.executemany(
        "INSERT INTO onboarding_steps (municipality_code, step_key, seq, phase, title_ja, title_en, starts_on, "
        "due_on, stage, operation_checklist, fits, done_on, done_by, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(code, s.key, s.seq, s.phase, s.title_ja, s.title_en, s.starts_on.isoformat(), s.due_on.isoformat(),
          s.stage.value if s.stage else None, int(s.operation_checklist), int(s.fits),
          *keep_done.get(s.key, (None, None, None))) for s in steps],
    )


def plan_steps(conn: sqlite3.Connection, code: str) -> list[StepRow]:
    rows = conn.execute(
        "SELECT seq, step_key, phase, title_ja, title_en, starts_on, due_on, stage, operation_checklist, fits, "
        "done_on, done_by, note, reminded FROM onboarding_steps WHERE municipality_code = ? ORDER BY seq",
        (code,),
    ).fetchall()
    return [StepRow(r[0], r[1], r[2], r[3], r[4], date.fromisoformat(r[5]), date.fromisoformat(r[6]),
                    Stage(r[7]) if r[7] else None, bool(r[8]), bool(r[9]),
                    date.fromisoformat(r[10]) if r[10] else None, r[11], r[12], r[13]) for r in rows]


def mark_step_done(conn: sqlite3.Connection, code: str, key: str, done_on: date, by: str, note: str | None) -> bool:
    cur = conn.execute(
        "UPDATE onboarding_steps SET done_on = ?, done_by = ?, note = ? "
        "WHERE municipality_code = ? AND step_key = ? AND done_on IS NULL",
        (done_on.isoformat(), by, note, code, key),
    )
    return cur.rowcount == 1


def mark_stage_step_done(conn: sqlite3.Connection, code: str, stage: Stage, done_on: date, note: str) -> None:
    conn.execute(
        "UPDATE onboarding_steps SET done_on = ?, done_by = 'teststage', note = ? "
        "WHERE municipality_code = ? AND stage = ? AND done_on IS NULL",
        (done_on.isoformat(), note, code, stage.value),
    )


def set_override(conn: sqlite3.Connection, code: str, reason: str | None, by: str | None, at: str | None) -> bool:
    cur = conn.execute(
        "UPDATE onboarding_plans SET override_reason = ?, override_by = ?, override_at = ? WHERE municipality_code = ?",
        (reason, by, at, code),
    )
    return cur.rowcount == 1


# -- stage runs --------------------------------------------------------------------------------

_RUN_COLUMNS = ("id, municipality_code, stage, started_at, finished_at, outcome, reason, evidence, log, run_by, "
                "confirmed_by, confirmed_at, confirm_note")


def _run(r: Sequence[Any]) -> StageRun:
    return StageRun(r[0], r[1], Stage(r[2]), r[3], r[4], Outcome(r[5]), r[6], json.loads(r[7]), r[8], r[9],
                    r[10], r[11], r[12])


def start_run(conn: sqlite3.Connection, code: str, stage: Stage, at: str, by: str) -> int:
    cur = conn.execute(
        "INSERT INTO stage_runs (municipality_code, stage, started_at, outcome, run_by) VALUES (?,?,?,?,?)",
        (code, stage.value, at, Outcome.RUNNING.value, by),
    )
    return int(cur.lastrowid or 0)


def finish_run(conn: sqlite3.Connection, run_id: int, at: str, outcome: Outcome, reason: str,
               evidence: dict[str, Any], log: str) -> None:
    conn.execute(
        "UPDATE stage_runs SET finished_at = ?, outcome = ?, reason = ?, evidence = ?, log = ? WHERE id = ?",
        (at, outcome.value, reason, json.dumps(evidence, ensure_ascii=False, sort_keys=True), log, run_id),
    )


def confirm_run(conn: sqlite3.Connection, run_id: int, at: str, by: str, note: str | None) -> bool:
    cur = conn.execute(
        "UPDATE stage_runs SET outcome = 'passed', confirmed_by = ?, confirmed_at = ?, confirm_note = ?, "
        "reason = ? WHERE id = ? AND outcome = 'awaiting-confirmation'",
        (by, at, note, f"the documents' content was confirmed by {by}" + (f": {note}" if note else ""), run_id),
    )
    return cur.rowcount == 1


def get_run(conn: sqlite3.Connection, run_id: int) -> StageRun | None:
    row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM stage_runs WHERE id = ?", (run_id,)).fetchone()  # noqa: S608
    return None if row is None else _run(row)


def runs(conn: sqlite3.Connection, code: str) -> list[StageRun]:
    return [_run(r) for r in conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM stage_runs WHERE municipality_code = ? ORDER BY id", (code,))]  # noqa: S608


def latest_runs(conn: sqlite3.Connection, code: str) -> dict[Stage, StageRun]:
    """The newest run of each stage."""
    out: dict[Stage, StageRun] = {}
    for run in runs(conn, code):
        out[run.stage] = run
    return out


# -- reminders -------------------------------------------------------------------------------------

def set_reminded(conn: sqlite3.Connection, code: str, key: str, kind: str, due_on: date, at: str) -> None:
    conn.execute("UPDATE onboarding_steps SET reminded = ? WHERE municipality_code = ? AND step_key = ?",
                 (kind, code, key))
    conn.execute(
        "INSERT INTO onboarding_reminders (at, municipality_code, step_key, kind, due_on) VALUES (?,?,?,?,?)",
        (at, code, key, kind, due_on.isoformat()),
    )


def recent_reminders(conn: sqlite3.Connection, limit: int = 20) -> list[Reminder]:
    """(at, municipality_code, step_key, kind, due_on, step title), newest first, of steps still not done."""
    return [Reminder(r[0], r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(
        "SELECT r.at, r.municipality_code, r.step_key, r.kind, r.due_on, s.title_ja FROM onboarding_reminders r "
        "JOIN onboarding_steps s ON s.municipality_code = r.municipality_code AND s.step_key = r.step_key "
        "WHERE s.done_on IS NULL ORDER BY r.id DESC LIMIT ?", (limit,))]


# -- failure drills ----------------------------------------------------------------------------------

def start_drill(conn: sqlite3.Connection, code: str, at: str) -> None:
    conn.execute("INSERT OR REPLACE INTO failure_drills (municipality_code, started_at) VALUES (?,?)", (code, at))


def end_drill(conn: sqlite3.Connection, code: str) -> None:
    conn.execute("DELETE FROM failure_drills WHERE municipality_code = ?", (code,))


# -- facts (``OnboardingStore``) -------------------------------------------------------------------


def make_plan(conn: sqlite3.Connection, request: PlanRequest, audit: AuditEntry) -> None:
    """Lay the schedule back from a service start; the municipality's start moves with it."""
    code, start, today = request.code, request.service_start, request.made_on
    m = get_municipality(conn, code)
    if m is None:
        raise NotFound(f"municipality {code} is not registered", field="code")
    existing = get_plan(conn, code)
    if existing is not None and not request.replace:
        raise Conflict(f"municipality {code} already has a plan (service start "
                       f"{existing.service_start.isoformat()}); use --replace to re-plan", field="code")
    if existing is None and m.service_start is not None and m.service_start <= today:
        raise Conflict(f"municipality {code} is already in service since {m.service_start.isoformat()}",
                       field="code")
    steps = lay_out_plan(request.template, service_start=start, made_on=today, hosting=m.hosting,
                         offers_seal=request.offers_seal)
    keep = {s.key: (s.done_on.isoformat(), s.done_by, s.note)
            for s in plan_steps(conn, code) if s.done_on is not None} if existing else {}
    replace_plan(conn, code, service_start=start, made_on=today, offers_seal=request.offers_seal,
                 template_version=request.template.version, at=audit.at, by=audit.actor, steps=steps,
                 keep_done=keep)
    set_service_start(conn, code, start)
    old = m.service_start.isoformat() if m.service_start else None
    append_audit(conn, replace(audit, action="replan" if existing else audit.action, old_value=old))


def plan_record(conn: sqlite3.Connection, code: str) -> PlanRecord | None:
    m = get_municipality(conn, code)
    if m is None:
        raise NotFound(f"municipality {code} is not registered", field="code")
    plan = get_plan(conn, code)
    if plan is None:
        return None
    return PlanRecord(m, plan, plan_steps(conn, code), latest_runs(conn, code))


def plans_of_all(conn: sqlite3.Connection) -> list[tuple[Municipality, PlanRow | None, list[StepRow]]]:
    out = []
    for m in list_municipalities(conn):
        plan = get_plan(conn, m.code)
        out.append((m, plan, plan_steps(conn, m.code) if plan else []))
    return out


def tick_step(conn: sqlite3.Connection, code: str, step: str, template: Template, done_on: date,
              note: str | None, audit: AuditEntry) -> None:
    """Tick one checklist step (not a stage's step: passing the stage ticks that)."""
    if get_plan(conn, code) is None:
        raise NotFound(f"municipality {code} has no onboarding plan", field="code")
    rows = {r.key: r for r in plan_steps(conn, code)}
    if step not in rows:
        template.step(step)  # an unknown key: the error lists the known ones
        raise NotFound(f"step {step} is not part of {code}'s plan", field="step")
    check_manual_done(rows[step], rows[step].done_on)
    mark_step_done(conn, code, step, done_on, audit.actor, note)
    append_audit(conn, audit)


def override(conn: sqlite3.Connection, code: str, reason: str | None, audit: AuditEntry) -> None:
    plan = get_plan(conn, code)
    if plan is None:
        raise NotFound(f"municipality {code} has no onboarding plan", field="code")
    set_override(conn, code, reason, audit.actor if reason else None, audit.at if reason else None)
    append_audit(conn, audit.was(plan.override_reason))


def mark_reminders(conn: sqlite3.Connection, today: date, at: str) -> list[tuple[str, str, str]]:
    """Mark steps that became due or late since the last reminder: (code, step, kind)."""
    given = []
    for plan in list_plans(conn):
        for r in plan_steps(conn, plan.municipality_code):
            status = step_status(r.due_on, r.done_on, today)
            kind = {StepStatus.DUE: "due", StepStatus.LATE: "late"}.get(status)
            if kind is None or r.reminded == kind or (r.stage is None and r.key == "service-start"):
                continue
            set_reminded(conn, plan.municipality_code, r.key, kind, r.due_on, at)
            given.append((plan.municipality_code, r.key, kind))
    return given


class SqliteOnboarding:
    """``OnboardingStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def make_plan(self, request: PlanRequest, audit: AuditEntry) -> None:
        await self._db.write(make_plan, request, audit)

    async def plan_record(self, code: str) -> PlanRecord | None:
        return await self._db.read(plan_record, code)

    async def plans_of_all(self) -> list[tuple[Municipality, PlanRow | None, list[StepRow]]]:
        return await self._db.read(plans_of_all)

    async def tick_step(self, code: str, step: str, template: Template, done_on: date, note: str | None,
                        audit: AuditEntry) -> None:
        await self._db.write(tick_step, code, step, template, done_on, note, audit)

    async def set_override(self, code: str, reason: str | None, audit: AuditEntry) -> None:
        await self._db.write(override, code, reason, audit)

    async def mark_reminders(self, today: date, at: str) -> list[tuple[str, str, str]]:
        return await self._db.write(mark_reminders, today, at)

    async def recent_reminders(self, limit: int = 20) -> list[Reminder]:
        return await self._db.read(recent_reminders, limit)
