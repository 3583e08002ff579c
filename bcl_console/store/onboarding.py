"""Onboarding plans, their steps, test-stage runs, reminders and failure drills."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bcl_console.domain.onboarding import Outcome, PlannedStep, Stage


@dataclass(frozen=True)
class PlanRow:
    municipality_code: str
    service_start: date
    made_on: date
    offers_seal: bool
    template_version: int
    created_at: str
    created_by: str
    override_reason: str | None
    override_by: str | None
    override_at: str | None


@dataclass(frozen=True)
class StepRow:
    seq: int
    key: str
    phase: str
    title_ja: str
    title_en: str
    starts_on: date
    due_on: date
    stage: Stage | None
    operation_checklist: bool
    fits: bool
    done_on: date | None
    done_by: str | None
    note: str | None
    reminded: str | None


@dataclass(frozen=True)
class StageRun:
    id: int
    municipality_code: str
    stage: Stage
    started_at: str
    finished_at: str | None
    outcome: Outcome
    reason: str
    evidence: dict[str, Any]
    log: str
    run_by: str
    confirmed_by: str | None
    confirmed_at: str | None
    confirm_note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "stage": self.stage.value, "outcome": self.outcome.value, "reason": self.reason,
            "started_at": self.started_at, "finished_at": self.finished_at, "run_by": self.run_by,
            "confirmed_by": self.confirmed_by, "confirmed_at": self.confirmed_at,
            "confirm_note": self.confirm_note, "evidence": self.evidence,
        }


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


def passed_stage_set(conn: sqlite3.Connection, code: str) -> set[Stage]:
    """Stages whose newest run passed (or was recorded as not required); reads no evidence,
    since the relay asks on every session."""
    latest: dict[str, str] = {}
    for stage, outcome in conn.execute(
            "SELECT stage, outcome FROM stage_runs WHERE municipality_code = ? ORDER BY id", (code,)):
        latest[stage] = outcome
    return {Stage(s) for s, o in latest.items() if o in (Outcome.PASSED.value, Outcome.NOT_REQUIRED.value)}


# -- reminders -------------------------------------------------------------------------------------

def set_reminded(conn: sqlite3.Connection, code: str, key: str, kind: str, due_on: date, at: str) -> None:
    conn.execute("UPDATE onboarding_steps SET reminded = ? WHERE municipality_code = ? AND step_key = ?",
                 (kind, code, key))
    conn.execute(
        "INSERT INTO onboarding_reminders (at, municipality_code, step_key, kind, due_on) VALUES (?,?,?,?,?)",
        (at, code, key, kind, due_on.isoformat()),
    )


def recent_reminders(conn: sqlite3.Connection, limit: int = 20) -> list[tuple[str, str, str, str, str, str]]:
    """(at, municipality_code, step_key, kind, due_on, step title), newest first, of steps still not done."""
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(
        "SELECT r.at, r.municipality_code, r.step_key, r.kind, r.due_on, s.title_ja FROM onboarding_reminders r "
        "JOIN onboarding_steps s ON s.municipality_code = r.municipality_code AND s.step_key = r.step_key "
        "WHERE s.done_on IS NULL ORDER BY r.id DESC LIMIT ?", (limit,))]


# -- failure drills ----------------------------------------------------------------------------------

def start_drill(conn: sqlite3.Connection, code: str, at: str) -> None:
    conn.execute("INSERT OR REPLACE INTO failure_drills (municipality_code, started_at) VALUES (?,?)", (code, at))


def end_drill(conn: sqlite3.Connection, code: str) -> None:
    conn.execute("DELETE FROM failure_drills WHERE municipality_code = ?", (code,))
