"""Settlement queries: billable issuances grouped for a fiscal year, and closed years.

All grouping happens in SQLite (one pass over the year's rows), so ten million issuances
settle in seconds. Months are Japan's (UTC + 9 h).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from bcl_console.store.api import AuditEntry, StatementInputs
from bcl_console.store.api import Group as Group
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import list_municipalities

# One ordered scan of the partial index issuances_settle_key (migration 11): it holds
# exactly the billable, not yet settled issuances, by the fiscal year they settle in and
# one key per group (municipality, type, Japan month, copies, fee, operator).
_KEY_COUNTS_SQL = "SELECT settle_key, count(*) FROM issuances WHERE settle_year = ? GROUP BY settle_key"
_SEP = "\x1f"


def year_groups(conn: sqlite3.Connection, fiscal_year: int) -> list[Group]:
    """The year's own billable issuances not yet counted by a statement."""
    groups: list[Group] = []
    for key, n in conn.execute(_KEY_COUNTS_SQL, (fiscal_year,)):
        code, type_, month, copies, fee, operator = str(key).split(_SEP, 5)
        groups.append((code, operator, type_, month, int(copies) * n, int(fee) * n))
    return groups


def late_groups(conn: sqlite3.Connection, fiscal_year: int, closed: Sequence[int]) -> list[Group]:
    """Billable issuances of closed earlier years that no statement counted yet (late events)."""
    out: list[Group] = []
    for year in closed:
        if year < fiscal_year:
            out.extend(year_groups(conn, year))
    return out


def voided_after_close(conn: sqlite3.Connection, before_year: int) -> list[Group]:
    """Issuances counted by an earlier statement and voided since: to be taken back."""
    sql = (
        "SELECT municipality_code, coalesce(operator, ''), type, "
        "strftime('%Y-%m', issued_at, '+9 hours'), sum(copies), sum(fee) FROM issuances "
        "WHERE state = 'voided' AND void_settled_year IS NULL AND settled_year IS NOT NULL "
        "AND settled_year < ? GROUP BY 1, 2, 3, 4"
    )
    return [tuple(r) for r in conn.execute(sql, (before_year,))]


def mark_settled(conn: sqlite3.Connection, fiscal_year: int, closed: Sequence[int]) -> None:
    """Mark what the statement of ``fiscal_year`` counted: its own year and late events."""
    for year in {fiscal_year, *(y for y in closed if y < fiscal_year)}:
        # settle_year is exactly "billable, not settled, of this year"; a settled row holds no
        # key, and clearing it here spares the update trigger a second write of every row
        conn.execute("UPDATE issuances SET settled_year = ?, settle_year = NULL, settle_key = NULL "
                     "WHERE settle_year = ?", (fiscal_year, year))
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
    closed = closed_years(conn)
    return StatementInputs(fiscal_year, list_municipalities(conn), year_groups(conn, fiscal_year),
                           late_groups(conn, fiscal_year, closed), voided_after_close(conn, fiscal_year))


def close_year(conn: sqlite3.Connection, fiscal_year: int, compose: Callable[[StatementInputs], str],
               audit: AuditEntry) -> str:
    """Store the statement, mark what it counted and audit it, in one transaction."""
    again = closed_document(conn, fiscal_year)
    if again is not None:  # closed by a concurrent run a moment ago
        return again
    document = compose(statement_inputs(conn, fiscal_year))
    insert_settlement(conn, fiscal_year, audit.at, document)
    mark_settled(conn, fiscal_year, closed_years(conn))
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
