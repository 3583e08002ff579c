"""Audit: written inside the facts it records, read by the console: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    interface: str
    municipality_code: str | None
    action: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None

    def was(self, old_value: str | None) -> AuditEntry:
        """This entry with the old value a fact read inside its transaction."""
        return replace(self, old_value=old_value)


class AuditStore(Protocol):
    async def audit_trail(self, municipality_code: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest control changes first (of one municipality, or all)."""
        ...
