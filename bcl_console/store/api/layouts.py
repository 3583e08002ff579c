"""Layout versions (法改正対応) and the centre's re-tests of them: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bcl_console.store.api.audit import AuditEntry


@dataclass(frozen=True)
class LayoutRow:
    """A layout version the centre staged at some time (never-staged versions have none)."""

    type: str
    version: int
    state: str  # staged | active | retired
    staged_at: str | None
    staged_by: str | None
    activated_at: str | None
    activated_by: str | None
    retired_at: str | None


@dataclass(frozen=True)
class RetestRecord:
    """One municipality's re-test of a staged layout version, with its evidence."""

    id: int
    type: str
    version: int
    municipality_code: str
    started_at: str
    finished_at: str
    run_by: str
    outcome: str  # passed | failed
    reason: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "version": self.version,
                "municipality_code": self.municipality_code, "started_at": self.started_at,
                "finished_at": self.finished_at, "run_by": self.run_by, "outcome": self.outcome,
                "reason": self.reason, "evidence": self.evidence}


class LayoutStore(Protocol):
    async def active_version(self, type_: str) -> int:
        """The version every channel prints (1 when none was ever activated)."""
        ...

    async def layouts(self) -> list[LayoutRow]: ...

    async def stage(self, type_: str, version: int, audit: AuditEntry) -> bool:
        """Stage a version (False when it already is); Conflict when it is not newer than
        the active one or another version of the type is staged."""
        ...

    async def record_retest(self, retest: RetestRecord, audit: AuditEntry) -> int:
        """Record one municipality's re-test of the staged version; Conflict when that
        version is no longer staged. Returns its id."""
        ...

    async def retests(self, type_: str | None = None, version: int | None = None) -> list[RetestRecord]:
        """Re-tests, newest first."""
        ...

    async def activate(self, type_: str, version: int, required: list[str], audit: AuditEntry) -> None:
        """staged → active (the active one → retired) in one transaction, only when the
        latest re-test of that version of every municipality in ``required`` passed;
        Conflict naming what is missing or failed otherwise."""
        ...

    async def resident_with_additions(self, code: str, limit: int) -> list[str]:
        """Active, unrestricted residents of a municipality whose 旧氏 or ローマ字 is held."""
        ...
