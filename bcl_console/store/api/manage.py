"""What management terminals (管理端末) read: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DayIssuance:
    """One issuance as a municipality's terminal lists it: no resident, no document."""

    request_id: str
    type: str
    channel: str
    operator: str | None
    fee: int
    state: str
    created_at: str
    issued_at: str | None
    completed_at: str | None
    voided_at: str | None
    certificate_number: str | None


@dataclass(frozen=True)
class DayIssuances:
    """A page of one municipality's issuances asked for between two instants, with the
    counts of all of them (not only the page's)."""

    rows: list[DayIssuance]
    total: int
    #: (type, channel, state, n) over the whole interval.
    counts: list[tuple[str, str, str, int]]


class ManageStore(Protocol):
    """What a management terminal reads beyond the controls (its terminal itself is a
    ``TerminalStore`` record)."""

    async def day_issuances(self, code: str, since: str, until: str, limit: int, offset: int) -> DayIssuances:
        """``code``'s issuances asked for in [since, until), oldest first, one snapshot."""
        ...
