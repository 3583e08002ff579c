"""Onboarding plans, their steps, test-stage runs, reminders and failure drills
(PostgreSQL): the counterpart of ``store/onboarding.py``."""

from __future__ import annotations

import json
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
from bcl_console.store.api import (
    AuditEntry,
    PlanRecord,
    PlanRequest,
    PlanRow,
    Reminder,
    StageRun,
    StepRow,
)
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.municipalities import (
    get_municipality,
    list_municipalities,
    set_service_start,
)
from bcl_console.store.pg.municipalities import passed_stage_set as passed_stage_set

_PLAN_COLUMNS = ("municipality_code, service_start, made_on, offers_seal, template_version, created_at, "
                 "created_by, override_reason, override_by, override_at")


def _changed(status: str) -> int:
    """The rows an UPDATE or DELETE touched, from its command status (``UPDATE 1``)."""
    return int(status.rsplit(" ", 1)[-1])


def _plan(row: Sequence[Any]) -> PlanRow:
    return PlanRow(row[0], date.fromisoformat(row[1]), date.fromisoformat(row[2]), bool(row[3]), int(row[4]),
                   row[5], row[6], row[7], row[8], row[9])


async def get_plan(conn: Conn, code: str) -> PlanRow | None:
    row = await conn.fetchrow(f"SELECT {_PLAN_COLUMNS} FROM onboarding_plans "  # noqa: S608 - constant columns
                              "WHERE municipality_code = $1", code)
    return None if row is None else _plan(row)


async def list_plans(conn: Conn) -> list[PlanRow]:
    return [_plan(r) for r in await conn.fetch(
        f"SELECT {_PLAN_COLUMNS} FROM onboarding_plans "  # noqa: S608 - constant columns
        'ORDER BY service_start, municipality_code COLLATE "C"')]


async def replace_plan(conn: Conn, code: str, *, service_start: date, made_on: date, offers_seal: bool,
                       template_version: int, at: str, by: str, steps: Sequence[PlannedStep],
                       keep_done: dict[str, tuple[str, str | None, str | None]]) -> None:
    """Write a plan and its steps (a re-plan keeps what was already done, by step key)."""
    await conn.execute("DELETE FROM onboarding_steps WHERE municipality_code = $1", code)
    await conn.execute(
        "INSERT INTO onboarding_plans (municipality_code, service_start, made_on, offers_seal, template_version, "
        "created_at, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (municipality_code) DO UPDATE SET "
        "service_start = excluded.service_start, made_on = excluded.made_on, offers_seal = excluded.offers_seal, "
        "template_version = excluded.template_version",
        code, service_start.isoformat(), made_on.isoformat(), int(offers_seal), template_version, at, by)
    await conn.executemany(
        "INSERT INTO onboarding_steps (municipality_code, step_key, seq, phase, title_ja, title_en, starts_on, "
        "due_on, stage, operation_checklist, fits, done_on, done_by, note) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        [(code, s.key, s.seq, s.phase, s.title_ja, s.title_en, s.starts_on.isoformat(), s.due_on.isoformat(),
          s.stage.value if s.stage else None, int(s.operation_checklist), int(s.fits),
          *keep_done.get(s.key, (None, None, None))) for s in steps])


async def plan_steps(conn: Conn, code: str) -> list[StepRow]:
    rows = await conn.fetch(
        "SELECT seq, step_key, phase, title_ja, title_en, starts_on, due_on, stage, operation_checklist, fits, "
        "done_on, done_by, note, reminded FROM onboarding_steps WHERE municipality_code = $1 ORDER BY seq", code)
    return [StepRow(r[0], r[1], r[2], r[3], r[4], date.fromisoformat(r[5]), date.fromisoformat(r[6]),
                    Stage(r[7]) if r[7] else None, bool(r[8]), bool(r[9]),
                    date.fromisoformat(r[10]) if r[10] else None, r[11], r[12], r[13]) for r in rows]


async def mark_step_done(conn: Conn, code: str, key: str, done_on: date, by: str, note: str | None) -> bool:
    status = await conn.execute(
        "UPDATE onboarding_steps SET done_on = $1, done_by = $2, note = $3 "
        "WHERE municipality_code = $4 AND step_key = $5 AND done_on IS NULL",
        done_on.isoformat(), by, note, code, key)
    return _changed(status) == 1


async def mark_stage_step_done(conn: Conn, code: str, stage: Stage, done_on: date, note: str) -> None:
    await conn.execute(
        "UPDATE onboarding_steps SET done_on = $1, done_by = 'teststage', note = $2 "
        "WHERE municipality_code = $3 AND stage = $4 AND done_on IS NULL",
        done_on.isoformat(), note, code, stage.value)


async def set_override(conn: Conn, code: str, reason: str | None, by: str | None, at: str | None) -> bool:
    status = await conn.execute(
        "UPDATE onboarding_plans SET override_reason = $1, override_by = $2, override_at = $3 "
        "WHERE municipality_code = $4", reason, by, at, code)
    return _changed(status) == 1


# -- stage runs --------------------------------------------------------------------------------

_RUN_COLUMNS = ("id, municipality_code, stage, started_at, finished_at, outcome, reason, evidence, log, run_by, "
                "confirmed_by, confirmed_at, confirm_note")


def _run(r: Sequence[Any]) -> StageRun:
    return StageRun(int(r[0]), r[1], Stage(r[2]), r[3], r[4], Outcome(r[5]), r[6], json.loads(r[7]), r[8], r[9],
                    r[10], r[11], r[12])


async def start_run(conn: Conn, code: str, stage: Stage, at: str, by: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO stage_runs (municipality_code, stage, started_at, outcome, run_by) VALUES ($1,$2,$3,$4,$5) "
        "RETURNING id", code, stage.value, at, Outcome.RUNNING.value, by))


async def finish_run(conn: Conn, run_id: int, at: str, outcome: Outcome, reason: str,
                     evidence: dict[str, Any], log: str) -> None:
    await conn.execute(
        "UPDATE stage_runs SET finished_at = $1, outcome = $2, reason = $3, evidence = $4, log = $5 WHERE id = $6",
        at, outcome.value, reason, json.dumps(evidence, ensure_ascii=False, sort_keys=True), log, run_id)


async def confirm_run(conn: Conn, run_id: int, at: str, by: str, note: str | None) -> bool:
    status = await conn.execute(
        "UPDATE stage_runs SET outcome = 'passed', confirmed_by = $1, confirmed_at = $2, confirm_note = $3, "
        "reason = $4 WHERE id = $5 AND outcome = 'awaiting-confirmation'",
        by, at, note, f"the documents' content was confirmed by {by}" + (f": {note}" if note else ""), run_id)
    return _changed(status) == 1


async def get_run(conn: Conn, run_id: int) -> StageRun | None:
    row = await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM stage_runs WHERE id = $1", run_id)  # noqa: S608
    return None if row is None else _run(row)


async def runs(conn: Conn, code: str) -> list[StageRun]:
    return [_run(r) for r in await conn.fetch(
        f"SELECT {_RUN_COLUMNS} FROM stage_runs WHERE municipality_code = $1 ORDER BY id", code)]  # noqa: S608


async def latest_runs(conn: Conn, code: str) -> dict[Stage, StageRun]:
    """The newest run of each stage."""
    out: dict[Stage, StageRun] = {}
    for run in await runs(conn, code):
        out[run.stage] = run
    return out


# -- reminders -------------------------------------------------------------------------------------

async def set_reminded(conn: Conn, code: str, key: str, kind: str, due_on: date, at: str) -> None:
    await conn.execute("UPDATE onboarding_steps SET reminded = $1 WHERE municipality_code = $2 AND step_key = $3",
                       kind, code, key)
    await conn.execute(
        "INSERT INTO onboarding_reminders (at, municipality_code, step_key, kind, due_on) VALUES ($1,$2,$3,$4,$5)",
        at, code, key, kind, due_on.isoformat())


async def recent_reminders(conn: Conn, limit: int = 20) -> list[Reminder]:
    """(at, municipality_code, step_key, kind, due_on, step title), newest first, of steps still not done."""
    return [Reminder(r[0], r[1], r[2], r[3], r[4], r[5]) for r in await conn.fetch(
        "SELECT r.at, r.municipality_code, r.step_key, r.kind, r.due_on, s.title_ja FROM onboarding_reminders r "
        "JOIN onboarding_steps s ON s.municipality_code = r.municipality_code AND s.step_key = r.step_key "
        "WHERE s.done_on IS NULL ORDER BY r.id DESC LIMIT $1", limit)]


# -- failure drills ----------------------------------------------------------------------------------

async def start_drill(conn: Conn, code: str, at: str) -> None:
    await conn.execute("INSERT INTO failure_drills (municipality_code, started_at) VALUES ($1,$2) "
                       "ON CONFLICT (municipality_code) DO UPDATE SET started_at = excluded.started_at", code, at)


async def end_drill(conn: Conn, code: str) -> None:
    await conn.execute("DELETE FROM failure_drills WHERE municipality_code = $1", code)


# -- facts (``OnboardingStore``) -------------------------------------------------------------------


async def make_plan(conn: Conn, request: PlanRequest, audit: AuditEntry) -> None:
    """Lay the schedule back from a service start; the municipality's start moves with it."""
    code, start, today = request.code, request.service_start, request.made_on
    m = await get_municipality(conn, code)
    if m is None:
        raise NotFound(f"municipality {code} is not registered", field="code")
    existing = await get_plan(conn, code)
    if existing is not None and not request.replace:
        raise Conflict(f"municipality {code} already has a plan (service start "
                       f"{existing.service_start.isoformat()}); use --replace to re-plan", field="code")
    if existing is None and m.service_start is not None and m.service_start <= today:
        raise Conflict(f"municipality {code} is already in service since {m.service_start.isoformat()}",
                       field="code")
    steps = lay_out_plan(request.template, service_start=start, made_on=today, hosting=m.hosting,
                         offers_seal=request.offers_seal)
    keep = {s.key: (s.done_on.isoformat(), s.done_by, s.note)
            for s in await plan_steps(conn, code) if s.done_on is not None} if existing else {}
    await replace_plan(conn, code, service_start=start, made_on=today, offers_seal=request.offers_seal,
                       template_version=request.template.version, at=audit.at, by=audit.actor, steps=steps,
                       keep_done=keep)
    await set_service_start(conn, code, start)
    old = m.service_start.isoformat() if m.service_start else None
    await append_audit(conn, replace(audit, action="replan" if existing else audit.action, old_value=old))


async def plan_record(conn: Conn, code: str) -> PlanRecord | None:
    m = await get_municipality(conn, code)
    if m is None:
        raise NotFound(f"municipality {code} is not registered", field="code")
    plan = await get_plan(conn, code)
    if plan is None:
        return None
    return PlanRecord(m, plan, await plan_steps(conn, code), await latest_runs(conn, code))


async def plans_of_all(conn: Conn) -> list[tuple[Municipality, PlanRow | None, list[StepRow]]]:
    out = []
    for m in await list_municipalities(conn):
        plan = await get_plan(conn, m.code)
        out.append((m, plan, await plan_steps(conn, m.code) if plan else []))
    return out


async def tick_step(conn: Conn, code: str, step: str, template: Template, done_on: date,
                    note: str | None, audit: AuditEntry) -> None:
    """Tick one checklist step (not a stage's step: passing the stage ticks that)."""
    if await get_plan(conn, code) is None:
        raise NotFound(f"municipality {code} has no onboarding plan", field="code")
    rows = {r.key: r for r in await plan_steps(conn, code)}
    if step not in rows:
        template.step(step)  # an unknown key: the error lists the known ones
        raise NotFound(f"step {step} is not part of {code}'s plan", field="step")
    check_manual_done(rows[step], rows[step].done_on)
    await mark_step_done(conn, code, step, done_on, audit.actor, note)
    await append_audit(conn, audit)


async def override(conn: Conn, code: str, reason: str | None, audit: AuditEntry) -> None:
    plan = await get_plan(conn, code)
    if plan is None:
        raise NotFound(f"municipality {code} has no onboarding plan", field="code")
    await set_override(conn, code, reason, audit.actor if reason else None, audit.at if reason else None)
    await append_audit(conn, audit.was(plan.override_reason))


async def mark_reminders(conn: Conn, today: date, at: str) -> list[tuple[str, str, str]]:
    """Mark steps that became due or late since the last reminder: (code, step, kind)."""
    given = []
    for plan in await list_plans(conn):
        for r in await plan_steps(conn, plan.municipality_code):
            status = step_status(r.due_on, r.done_on, today)
            kind = {StepStatus.DUE: "due", StepStatus.LATE: "late"}.get(status)
            if kind is None or r.reminded == kind or (r.stage is None and r.key == "service-start"):
                continue
            await set_reminded(conn, plan.municipality_code, r.key, kind, r.due_on, at)
            given.append((plan.municipality_code, r.key, kind))
    return given


class PgOnboarding:
    """``OnboardingStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
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
