"""The test stages' facts (PostgreSQL): the counterpart of ``store/teststages.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from typing import Any

from bcl_console.domain.errors import Conflict
from bcl_console.domain.municipality import Municipality
from bcl_console.domain.onboarding import Outcome, Stage
from bcl_console.store.api import (
    AuditEntry,
    BackupRecord,
    BatchRecord,
    HeldCounts,
    PlanRow,
    StageRun,
    StepRow,
)
from bcl_console.store.pg import linkage as linkage_store
from bcl_console.store.pg import municipalities as muni_store
from bcl_console.store.pg import onboarding as store
from bcl_console.store.pg import residents as res_store
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase


async def finish_run(conn: Conn, run_id: int, code: str, stage: Stage, outcome: Outcome, reason: str,
                     evidence: dict[str, Any], log: str, today: date, audit: AuditEntry) -> None:
    """A run's outcome; a passed (or not required) stage ticks its plan step."""
    await store.finish_run(conn, run_id, audit.at, outcome, reason, evidence, log)
    if outcome in (Outcome.PASSED, Outcome.NOT_REQUIRED):
        await store.mark_stage_step_done(conn, code, stage, today, f"stage run {run_id} {outcome.value}")
    await append_audit(conn, audit)


async def confirm(conn: Conn, code: str, stage: Stage, note: str | None, today: date, audit: AuditEntry) -> int:
    """The newest run of a stage awaiting confirmation passes (Conflict when there is none)."""
    latest = (await store.latest_runs(conn, code)).get(stage)
    if latest is None:
        raise Conflict(f"stage {stage.value} of {code} has not run yet", field="stage")
    if latest.outcome is not Outcome.AWAITING_CONFIRMATION:
        raise Conflict(f"stage {stage.value} of {code} is {latest.outcome.value}, not awaiting confirmation",
                       field="stage")
    await store.confirm_run(conn, latest.id, audit.at, audit.actor, note)
    await store.mark_stage_step_done(conn, code, stage, today, f"stage run {latest.id} confirmed by {audit.actor}")
    await append_audit(conn, dataclasses.replace(audit, new_value=f"run {latest.id}: confirmed"))
    return latest.id


class PgTestStages:
    """``TestStageStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def municipality(self, code: str) -> Municipality | None:
        return await self._db.read(muni_store.get_municipality, code)

    async def municipality_exists(self, code: str) -> bool:
        return await self._db.read(muni_store.municipality_exists, code)

    async def plan(self, code: str) -> PlanRow | None:
        return await self._db.read(store.get_plan, code)

    async def plan_steps(self, code: str) -> list[StepRow]:
        return await self._db.read(store.plan_steps, code)

    async def passed_stages(self, code: str) -> set[Stage]:
        return await self._db.read(muni_store.passed_stage_set, code)

    async def runs(self, code: str) -> list[StageRun]:
        return await self._db.read(store.runs, code)

    async def run(self, run_id: int) -> StageRun | None:
        return await self._db.read(store.get_run, run_id)

    async def start_run(self, code: str, stage: Stage, at: str, by: str) -> int:
        return await self._db.write(store.start_run, code, stage, at, by)

    async def finish_run(self, run_id: int, code: str, stage: Stage, outcome: Outcome, reason: str,
                         evidence: dict[str, Any], log: str, today: date, audit: AuditEntry) -> None:
        await self._db.write(finish_run, run_id, code, stage, outcome, reason, evidence, log, today, audit)

    async def confirm(self, code: str, stage: Stage, note: str | None, today: date, audit: AuditEntry) -> int:
        return await self._db.write(confirm, code, stage, note, today, audit)

    async def start_drill(self, code: str, at: str) -> None:
        await self._db.write(store.start_drill, code, at)

    async def end_drill(self, code: str) -> None:
        await self._db.write(store.end_drill, code)

    async def batches(self, code: str, limit: int) -> list[BatchRecord]:
        return await self._db.read(linkage_store.list_batches, code, limit)

    async def backups(self, code: str) -> list[BackupRecord]:
        return await self._db.read(linkage_store.list_backups, code)

    async def last_applied_sequence(self, code: str) -> int:
        return await self._db.read(linkage_store.last_applied_sequence, code)

    async def held_counts(self) -> dict[str, HeldCounts]:
        return await self._db.read(res_store.held_counts)

    async def resident_values(self, code: str, resident_codes: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        return await self._db.read(res_store.resident_values, code, resident_codes)

    async def test_residents(self, code: str, limit: int) -> list[str]:
        return await self._db.read(res_store.test_residents, code, limit)

    async def latest_tax_year(self, code: str, resident_code: str) -> int | None:
        return await self._db.read(res_store.latest_tax_year, code, resident_code)
