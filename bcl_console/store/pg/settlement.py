"""Settlement (PostgreSQL): billable issuances grouped for a fiscal year, and closed
years; the counterpart of ``store/settlement.py`` (same function names, same results).

The grouping happens in the database, over the partial index ``issuances_settle_key``
that the ``issuances_derive`` trigger keeps (0001_schema.sql). Months are Japan's.
A close is one SERIALIZABLE transaction: of two concurrent closes of one year, the second
is undone (its settlements row collides with the first's) and, run again, returns the
first one's document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bcl_console.store.api import AuditEntry, Group, StatementInputs
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.municipalities import list_municipalities

_SEP = "\x1f"


async def year_groups(conn: Conn, fiscal_year: int) -> list[Group]:
    """The year's own billable issuances not yet counted by a statement (in key order,
    as SQLite's scan of its index gives them)."""
    groups: list[Group] = []
    for key, n in await conn.fetch(
            "SELECT settle_key, count(*) FROM issuances WHERE settle_year = $1 "
            'GROUP BY settle_key ORDER BY settle_key COLLATE "C"', fiscal_year):
        code, type_, month, copies, fee, operator = str(key).split(_SEP, 5)
        groups.append((code, operator, type_, month, int(copies) * int(n), int(fee) * int(n)))
    return groups


async def late_groups(conn: Conn, fiscal_year: int, closed: Sequence[int]) -> list[Group]:
    """Billable issuances of closed earlier years that no statement counted yet (late events)."""
    out: list[Group] = []
    for year in closed:
        if year < fiscal_year:
            out.extend(await year_groups(conn, year))
    return out


async def voided_after_close(conn: Conn, before_year: int) -> list[Group]:
    """Issuances counted by an earlier statement and voided since: to be taken back."""
    rows = await conn.fetch(
        "SELECT code, operator_, type_, month, certificates, fees FROM ("
        "SELECT municipality_code AS code, coalesce(operator, '') AS operator_, type AS type_, "
        "to_char(issued_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM') AS month, sum(copies)::bigint AS certificates, "
        "sum(fee)::bigint AS fees FROM issuances "
        "WHERE state = 'voided' AND void_settled_year IS NULL AND settled_year IS NOT NULL AND settled_year < $1 "
        "GROUP BY 1, 2, 3, 4) g "
        'ORDER BY code COLLATE "C", operator_ COLLATE "C", type_ COLLATE "C", month COLLATE "C"', before_year)
    return [(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]


async def mark_settled(conn: Conn, fiscal_year: int, closed: Sequence[int]) -> None:
    """Mark what the statement of ``fiscal_year`` counted: its own year and late events."""
    years = sorted({fiscal_year, *(y for y in closed if y < fiscal_year)})
    # settled_year set, the trigger clears settle_year and settle_key (no longer billable)
    await conn.execute("UPDATE issuances SET settled_year = $1 WHERE settle_year = ANY($2::integer[])",
                       fiscal_year, years)
    await conn.execute(
        "UPDATE issuances SET void_settled_year = $1 WHERE settled_year IS NOT NULL AND settled_year < $1 "
        "AND state = 'voided' AND void_settled_year IS NULL", fiscal_year)


async def closed_years(conn: Conn) -> list[int]:
    return [int(r[0]) for r in await conn.fetch("SELECT fiscal_year FROM settlements ORDER BY 1")]


async def closed_document(conn: Conn, fiscal_year: int) -> str | None:
    value = await conn.fetchval("SELECT document FROM settlements WHERE fiscal_year = $1", fiscal_year)
    return None if value is None else str(value)


async def insert_settlement(conn: Conn, fiscal_year: int, closed_at: str, document: str) -> None:
    await conn.execute("INSERT INTO settlements (fiscal_year, closed_at, document) VALUES ($1,$2,$3)",
                       fiscal_year, closed_at, document)


async def statement_inputs(conn: Conn, fiscal_year: int) -> StatementInputs:
    closed = await closed_years(conn)
    return StatementInputs(fiscal_year, await list_municipalities(conn), await year_groups(conn, fiscal_year),
                           await late_groups(conn, fiscal_year, closed), await voided_after_close(conn, fiscal_year))


async def close_year(conn: Conn, fiscal_year: int, compose: Callable[[StatementInputs], str],
                     audit: AuditEntry) -> str:
    """Store the statement, mark what it counted and audit it, in one transaction
    (``compose`` is a plain function: it may run again with the transaction)."""
    again = await closed_document(conn, fiscal_year)
    if again is not None:  # closed by a concurrent run a moment ago
        return again
    document = compose(await statement_inputs(conn, fiscal_year))
    await insert_settlement(conn, fiscal_year, audit.at, document)
    await mark_settled(conn, fiscal_year, await closed_years(conn))
    await append_audit(conn, audit)
    return document


class PgSettlement:
    """``SettlementStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
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
