"""The centre's terminals of a municipality (management and counter terminals, by kind):
what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bcl_console.store.api.audit import AuditEntry


@dataclass(frozen=True)
class TerminalRecord:
    """A municipality's terminal of one kind (``manage`` or ``counter``). Its token is never
    read back: only its hash is kept, and only to find the terminal that presents it."""

    id: int
    municipality_code: str
    name: str
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None
    kind: str = "manage"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class TerminalStore(Protocol):
    """Every method names the kind: a terminal of one kind is never found as the other."""

    async def add_terminal(self, kind: str, code: str, name: str, token_sha256: str,
                           audit: AuditEntry) -> TerminalRecord:
        """Register a terminal and audit it; NotFound for an unknown municipality, Conflict
        when one of its terminals of that kind in use already has the name."""
        ...

    async def terminals(self, kind: str, code: str | None = None) -> list[TerminalRecord]:
        """Terminals of a kind (of one municipality, or all), in the order registered."""
        ...

    async def revoke_terminal(self, kind: str, code: str, which: str,
                              audit: AuditEntry) -> tuple[TerminalRecord, bool]:
        """Revoke a terminal of ``code`` named by id or name, and audit it; whether it was in
        use until now (a terminal already revoked is returned as it is, nothing written).
        NotFound when the municipality has no such terminal of that kind."""
        ...

    async def terminal_by_token(self, kind: str, token_sha256: str) -> TerminalRecord | None:
        """The terminal of that kind in use that holds this token, or None (unknown or revoked)."""
        ...
