"""Settlement: what crosses the store boundary, and the design every store implements.

A statement counts each billable issuance exactly once: its own year's issuances, plus (as
adjustments) issuances of closed earlier years that became billable after those years
closed (late events), minus issuances an earlier statement counted that were voided since.

Who counts an issuance is decided when it becomes billable, not when its year closes, so a
close costs what a settle costs (one grouped scan of the year) and rewrites no row of it:

- Every issuance row carries ``settled_year``: the fiscal year whose statement counts it.
  When a row becomes billable (inserted or updated into a billable state, or re-keyed while
  not yet counted), the store sets it, in the same transaction, to the row's own Japan
  fiscal year if that year has no settlement yet, and to NULL if it has (a late event).
  A row that stops being billable before it is counted (a failed print) loses it again.
- A row is *counted* once the year in its ``settled_year`` is closed; counted rows are
  frozen (later changes to them are not re-keyed), and a counted row voided later is taken
  back once, by the next statement of a later year (``void_settled_year``).
- ``statement_inputs(Y)`` for a year not closed: own = billable rows of Y; late = billable
  rows of closed years before Y with ``settled_year`` NULL; voided = voided rows with
  ``settled_year`` < Y and ``void_settled_year`` NULL. Each is one grouped query.
- ``close_year(Y)``: compute those inputs, store the document, set ``settled_year = Y`` on
  the late rows and ``void_settled_year = Y`` on the voided ones (a handful, in small
  partial indexes), audit, commit. The year's own rows already name Y and are not written.
- The boundary between "in the year" and "late" is the close's transaction itself, never a
  clock: the store must make "this row became billable" and "year Y closed" serialise.
  SQLite has one writer, so the triggers' look-up of ``settlements`` and the close cannot
  interleave. On PostgreSQL every write is SERIALIZABLE (store/pg/db.py): the row
  trigger's look-up of ``settlements`` and the close's reads of the issuances and insert
  into ``settlements`` conflict, so of a write and a close that overlap one is undone and
  run again (a row is then either in the year or late, never neither). The late and voided
  look-ups are partial indexes there too
  (``WHERE settle_year IS NOT NULL AND settled_year IS NULL``).
"""

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
    own: list[Group]  # the year's own billable issuances (the year is not closed)
    late: list[Group]  # of closed earlier years, arrived after they closed
    voided: list[Group]  # counted by an earlier statement and voided since


class SettlementStore(Protocol):
    async def closed_years(self) -> list[int]: ...

    async def closed_document(self, fiscal_year: int) -> str | None:
        """The stored statement (JSON) of a closed year."""
        ...

    async def statement_inputs(self, fiscal_year: int) -> StatementInputs:
        """Of a year not closed: grouped in the database in one pass (ten million rows never
        cross as rows)."""
        ...

    async def close_year(self, fiscal_year: int, compose: Callable[[StatementInputs], str],
                         audit: AuditEntry) -> str:
        """Close a year in one transaction: store the document ``compose`` writes from the
        inputs, mark the late events and voids it counted (never the year's own rows), audit
        it; the stored document (a concurrent close's, if one came first)."""
        ...
