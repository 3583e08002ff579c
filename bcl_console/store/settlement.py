"""Settlement queries: billable issuances grouped for a fiscal year, and closed years.

All grouping happens in SQLite (one pass over the year's rows), so ten million issuances
settle in seconds. Months are Japan's (UTC + 9 h).

Which statement counts an issuance is decided when it becomes billable, not when a year
closes (migration 21; the design is in ``store/api/settlement.py``). The triggers keep, on
every billable row not yet counted, its Japan fiscal year (``settle_year``), one group key
(``settle_key``: municipality, type, Japan month, copies, fee, operator) and
``settled_year``: its own year while that year is open, NULL for a late event (its year
was already closed). A row is counted once the year in its ``settled_year`` is closed, so
closing a year writes only its statement, the late events it counts and the voids it
takes back, never the year's own rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from bcl_console.store.api import AuditEntry, StatementInputs
from bcl_console.store.api import Group as Group
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import list_municipalities

# One ordered scan of the partial index issuances_settle_key (migration 11) for one year:
# for a year not closed it holds exactly the year's own billable issuances (a late event
# only ever belongs to a closed year), counted per key with one comparison per row.
_KEY_COUNTS_SQL = "SELECT settle_key, count(*) FROM issuances WHERE settle_year = ? GROUP BY settle_key"
# Late events waiting for a statement of a later year: the small partial index
# issuances_settle_late (migration 21), whose condition both queries repeat word for word
# so that SQLite uses it.
_LATE_COUNTS_SQL = (
    "SELECT settle_key, count(*) FROM issuances WHERE settle_year IS NOT NULL AND settled_year IS NULL "
    "AND settle_year < ? AND settle_year IN (SELECT fiscal_year FROM settlements) GROUP BY settle_year, settle_key")
_MARK_LATE_SQL = (
    "UPDATE issuances SET settled_year = ? WHERE rowid IN (SELECT rowid FROM issuances "
    "WHERE settle_year IS NOT NULL AND settled_year IS NULL "
    "AND settle_year < ? AND settle_year IN (SELECT fiscal_year FROM settlements))")
_SEP = "\x1f"


def _groups(rows: Sequence[tuple[object, int]] | sqlite3.Cursor) -> list[Group]:
    groups: list[Group] = []
    for key, n in rows:
        code, type_, month, copies, fee, operator = str(key).split(_SEP, 5)
        groups.append((code, operator, type_, month, int(copies) * n, int(fee) * n))
    return groups


def year_groups(conn: sqlite3.Connection, fiscal_year: int) -> list[Group]:
    """The own billable issuances of a year not closed yet."""
    return _groups(conn.execute(_KEY_COUNTS_SQL, (fiscal_year,)))


def late_groups(conn: sqlite3.Connection, fiscal_year: int) -> list[Group]:
    """Billable issuances of closed earlier years that no statement counted yet (late events)."""
    return _groups(conn.execute(_LATE_COUNTS_SQL, (fiscal_year,)))


def voided_after_close(conn: sqlite3.Connection, before_year: int) -> list[Group]:
    """Issuances counted by an earlier statement and voided since: to be taken back.

    A voided row keeps its settled_year only if a closed year had counted it (the triggers
    clear it on a row voided before its year closed)."""
    sql = (
        "SELECT municipality_code, coalesce(operator, ''), type, "
        "strftime('%Y-%m', issued_at, '+9 hours'), sum(copies), sum(fee) FROM issuances "
        "WHERE state = 'voided' AND void_settled_year IS NULL AND settled_year IS NOT NULL "
        "AND settled_year < ? GROUP BY 1, 2, 3, 4"
    )
    return [tuple(r) for r in conn.execute(sql, (before_year,))]


def mark_settled(conn: sqlite3.Connection, fiscal_year: int) -> None:
    """Mark what the statement of ``fiscal_year`` counted beyond its own year (whose rows
    already name it): the late events it counted and the voids it took back. Both are the
    few rows of small partial indexes; the year's own rows are not written."""
    conn.execute(_MARK_LATE_SQL, (fiscal_year, fiscal_year))
    conn.execute(
        "UPDATE issuances SET void_settled_year = ? WHERE settled_year IS NOT NULL AND settled_year < ? "
        "AND state = 'voided' AND void_settled_year IS NULL", (fiscal_year, fiscal_year))


def closed_years(conn: sqlite3.Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT fiscal_year FROM settlements ORDER BY 1")]


def closed_document(conn: sqlite3.Connection, fiscal_year: int) -> str | None:
    row = conn.execute("SELECT document FROM settlements WHERE fiscal_year = ?", (fiscal_year,)).fetchone()
    return None if row is None else str(row[0])


def insert_settlement(conn: sqlite3.Connection, fiscal_year: int, closed_at: str, document: str) -> None:
    conn.execute("INSERT INTO settlements (fiscal_year, closed_at, document) VALUES (?,?,?)",
                 (fiscal_year, closed_at, document))


# -- facts (``SettlementStore``) -------------------------------------------------------------------


def statement_inputs(conn: sqlite3.Connection, fiscal_year: int) -> StatementInputs:
    return StatementInputs(fiscal_year, list_municipalities(conn), year_groups(conn, fiscal_year),
                           late_groups(conn, fiscal_year), voided_after_close(conn, fiscal_year))


def close_year(conn: sqlite3.Connection, fiscal_year: int, compose: Callable[[StatementInputs], str],
               audit: AuditEntry) -> str:
    """Store the statement, mark what it counted beyond its year and audit it, in one
    transaction (SQLite's one writer: no issuance changes between the reads and the close)."""
    again = closed_document(conn, fiscal_year)
    if again is not None:  # closed by a concurrent run a moment ago
        return again
    document = compose(statement_inputs(conn, fiscal_year))
    # marked before the year's row is inserted: the late events counted are exactly those read
    mark_settled(conn, fiscal_year)
    insert_settlement(conn, fiscal_year, audit.at, document)
    append_audit(conn, audit)
    return document


class SqliteSettlement:
    """``SettlementStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def closed_years(self) -> list[int]:
        return await self._db.read(closed_years)

    async def closed_document(self, fiscal_year: int) -> str | None:
        return await self._db.read(closed_document, fiscal_year)

    async def statement_inputs(self, fiscal_year: int) -> StatementInputs:
        return await self._db.read(statement_inputs, fiscal_year)

    async def close_year(self, fiscal_year: int, compose: Callable[[StatementInputs], str],
                         audit: AuditEntry) -> str:
        return await self._db.write(close_year, fiscal_year, compose, audit)
