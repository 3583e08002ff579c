"""Settlement: what crosses the store boundary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bcl_console.domain.municipality import Municipality
from bcl_console.store.api.audit import AuditEntry

#: Billable issuances grouped: (municipality, operator, type, month, certificates, fees).
Group = tuple[str, str, str, str, int, int]


@dataclass(frozen=True)
class StatementInputs:
    """What a fiscal year's statement is made of, from one snapshot."""

    fiscal_year: int
    municipalities: list[Municipality]
    own: list[Group]  # the year's own billable issuances not yet counted
    late: list[Group]  # of closed earlier years, arrived after they closed
    voided: list[Group]  # counted by an earlier statement and voided since


class SettlementStore(Protocol):
    async def closed_years(self) -> list[int]: ...

    async def closed_document(self, fiscal_year: int) -> str | None:
        """The stored statement (JSON) of a closed year."""
        ...

    async def statement_inputs(self, fiscal_year: int) -> StatementInputs:
        """Grouped in the database in one pass (ten million rows never cross as rows)."""
        ...

    async def close_year(self, fiscal_year: int, compose: Callable[[StatementInputs], str],
                         audit: AuditEntry) -> str:
        """Close a year in one transaction: store the document ``compose`` writes from the
        inputs, mark what it counted, audit it; the stored document (a concurrent close's,
        if one came first)."""
        ...
