"""Management terminals (管理端末) and what they read: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bcl_console.store.api.audit import AuditEntry


@dataclass(frozen=True)
class TerminalRecord:
    """A municipality's management terminal (its token is never read back: only its hash
    is kept, and only to find the terminal that presents it)."""

    id: int
    municipality_code: str
    name: str
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


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
    async def add_terminal(self, code: str, name: str, token_sha256: str, audit: AuditEntry) -> TerminalRecord:
        """Register a terminal and audit it; NotFound for an unknown municipality, Conflict
        when one of its terminals in use already has the name."""
        ...

    async def terminals(self, code: str | None = None) -> list[TerminalRecord]:
        """Terminals (of one municipality, or all), in the order registered."""
        ...

    async def revoke_terminal(self, code: str, which: str, audit: AuditEntry) -> tuple[TerminalRecord, bool]:
        """Revoke a terminal of ``code`` named by id or name, and audit it; whether it was in
        use until now (a terminal already revoked is returned as it is, nothing written).
        NotFound when the municipality has no such terminal."""
        ...

    async def terminal_by_token(self, token_sha256: str) -> TerminalRecord | None:
        """The terminal in use that holds this token, or None (unknown or revoked)."""
        ...

    async def day_issuances(self, code: str, since: str, until: str, limit: int, offset: int) -> DayIssuances:
        """``code``'s issuances asked for in [since, until), oldest first, one snapshot."""
        ...
