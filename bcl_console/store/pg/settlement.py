"""Settlement (PostgreSQL): billable issuances grouped for a fiscal year, and closed
years; the counterpart of ``store/settlement.py`` (same function names, same results).

Which statement counts an issuance is decided when it becomes billable, not when a year
closes (the design is in ``store/api/settlement.py``): the ``issuances_derive`` trigger
(0001_schema.sql, SQLite's migration 21) keeps on every billable row not yet counted its
Japan fiscal year (``settle_year``), one group key (``settle_key``) and ``settled_year``:
its own year while that year is open, NULL for a late event. A close writes only its
statement, the late events it counts and the voids it takes back, never the year's rows.

The grouping happens in the database, over the partial indexes ``issuances_settle_key``
(a year's own rows) and ``issuances_settle_late`` (late events). Months are Japan's.
A close is one SERIALIZABLE transaction: of two concurrent closes of one year, the second
is undone (its settlements row collides with the first's) and, run again, returns the
first one's document; of a close and an issuance write that overlap (the trigger reads
``settlements``, the close reads the issuances and inserts into ``settlements``), one is
undone and run again, so an issuance is either in the year or late, never neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from bcl_console.store.api import AuditEntry, Group, StatementInputs
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.municipalities import list_municipalities

_SEP = "\x1f"
# Late events waiting for a statement of a later year: the partial index
# issuances_settle_late, whose condition both statements repeat.
_LATE_COUNTS_SQL = (
    "SELECT settle_key, count(*) FROM issuances WHERE settle_year IS NOT NULL AND settled_year IS NULL "
    "AND settle_year < $1 AND settle_year IN (SELECT fiscal_year FROM settlements) "
    'GROUP BY settle_year, settle_key ORDER BY settle_year, settle_key COLLATE "C"')
_MARK_LATE_SQL = (
    "UPDATE issuances SET settled_year = $1 WHERE settle_year IS NOT NULL AND settled_year IS NULL "
    "AND settle_year < $1 AND settle_year IN (SELECT fiscal_year FROM settlements)")


def _groups(rows: Sequence[asyncpg.Record]) -> list[Group]:
    groups: list[Group] = []
    for key, n in rows:
        code, type_, month, copies, fee, operator = str(key).split(_SEP, 5)
        groups.append((code, operator, type_, month, int(copies) * int(n), int(fee) * int(n)))
    return groups


async def year_groups(conn: Conn, fiscal_year: int) -> list[Group]:
    """The own billable issuances of a year not closed yet (in key order, as SQLite's scan
    of its index gives them)."""
    return _groups(await conn.fetch(
        "SELECT settle_key, count(*) FROM issuances WHERE settle_year = $1 "
        'GROUP BY settle_key ORDER BY settle_key COLLATE "C"', fiscal_year))


async def late_groups(conn: Conn, fiscal_year: int) -> list[Group]:
    """Billable issuances of closed earlier years that no statement counted yet (late
    events), by year and key as SQLite gives them."""
    return _groups(await conn.fetch(_LATE_COUNTS_SQL, fiscal_year))


async def voided_after_close(conn: Conn, before_year: int) -> list[Group]:
    """Issuances counted by an earlier statement and voided since: to be taken back.

    A voided row keeps its settled_year only if a closed year had counted it (the trigger
    clears it on a row voided before its year closed)."""
    rows = await conn.fetch(
        "SELECT code, operator_, type_, month, certificates, fees FROM ("
        "SELECT municipality_code AS code, coalesce(operator, '') AS operator_, type AS type_, "
        "to_char(issued_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM') AS month, sum(copies)::bigint AS certificates, "
        "sum(fee)::bigint AS fees FROM issuances "
        "WHERE state = 'voided' AND void_settled_year IS NULL AND settled_year IS NOT NULL AND settled_year < $1 "
        "GROUP BY 1, 2, 3, 4) g "
        'ORDER BY code COLLATE "C", operator_ COLLATE "C", type_ COLLATE "C", month COLLATE "C"', before_year)
    return [(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]


async def mark_settled(conn: Conn, fiscal_year: int) -> None:
    """Mark what the statement of ``fiscal_year`` counted beyond its own year (whose rows
    already name it): the late events it counted and the voids it took back. Neither
    update sets a column the trigger derives from, so neither is re-derived."""
    await conn.execute(_MARK_LATE_SQL, fiscal_year)
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
    return StatementInputs(fiscal_year, await list_municipalities(conn), await year_groups(conn, fiscal_year),
                           await late_groups(conn, fiscal_year), await voided_after_close(conn, fiscal_year))


async def close_year(conn: Conn, fiscal_year: int, compose: Callable[[StatementInputs], str],
                     audit: AuditEntry) -> str:
    """Store the statement, mark what it counted beyond its year and audit it, in one
    transaction (``compose`` is a plain function: it may run again with the transaction)."""
    again = await closed_document(conn, fiscal_year)
    if again is not None:  # closed by a concurrent run a moment ago
        return again
    document = compose(await statement_inputs(conn, fiscal_year))
    # marked before the year's row is inserted: the late events counted are exactly those read
    await mark_settled(conn, fiscal_year)
    await insert_settlement(conn, fiscal_year, audit.at, document)
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
