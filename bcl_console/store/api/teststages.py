"""Test stages (the onboarding area's runs, with what the stages read to check): what crosses the store boundary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from bcl_console.domain.municipality import Municipality
from bcl_console.domain.onboarding import Outcome, Stage
from bcl_console.store.api.audit import AuditEntry
from bcl_console.store.api.linkage import BackupRecord, BatchRecord
from bcl_console.store.api.residents import HeldCounts

if TYPE_CHECKING:
    from bcl_console.store.api.onboarding import PlanRow, StageRun, StepRow


class TestStageStore(Protocol):
    """The facts of the test stages (``services.onboarding.teststages``); a finish or a
    confirmation carries its audit line."""

    async def municipality(self, code: str) -> Municipality | None: ...

    async def municipality_exists(self, code: str) -> bool: ...

    async def plan(self, code: str) -> PlanRow | None: ...

    async def plan_steps(self, code: str) -> list[StepRow]: ...

    async def passed_stages(self, code: str) -> set[Stage]: ...

    async def runs(self, code: str) -> list[StageRun]: ...

    async def run(self, run_id: int) -> StageRun | None: ...

    async def start_run(self, code: str, stage: Stage, at: str, by: str) -> int: ...

    async def finish_run(self, run_id: int, code: str, stage: Stage, outcome: Outcome, reason: str,
                         evidence: dict[str, Any], log: str, today: date, audit: AuditEntry) -> None:
        """A run's outcome, its plan step ticked when it passed, and its audit line."""
        ...

    async def confirm(self, code: str, stage: Stage, note: str | None, today: date, audit: AuditEntry) -> int:
        """The stage's newest run awaiting confirmation passes; Conflict when there is none.
        The audit's ``new_value`` is filled with the run's number; returns the run id."""
        ...

    async def start_drill(self, code: str, at: str) -> None: ...

    async def end_drill(self, code: str) -> None: ...

    async def batches(self, code: str, limit: int) -> list[BatchRecord]: ...

    async def backups(self, code: str) -> list[BackupRecord]: ...

    async def last_applied_sequence(self, code: str) -> int: ...

    async def held_counts(self) -> dict[str, HeldCounts]: ...

    async def resident_values(self, code: str, resident_codes: Sequence[str]) -> dict[str, tuple[Any, ...]]: ...

    async def test_residents(self, code: str, limit: int) -> list[str]: ...

    async def latest_tax_year(self, code: str, resident_code: str) -> int | None: ...
