"""The intermediate DB's references on PostgreSQL are checked per statement by triggers
(migration 0006), not per row by foreign keys: whatever a foreign key refused is still
refused (SQLSTATE 23503, the statement undone), on both sides of the reference, also
when two transactions race on the same resident."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bcl_console.store.pg.db import IntegrityError, PgDatabase
from tests.conftest import _migrated
from tests.pg import TestServer

TOWN = "993611"
PNG = "a" * 64
RESIDENT_COLUMNS = ["municipality_code", "resident_code", "household_number", "name", "name_kana", "birth_date",
                    "sex", "relationship", "address", "resident_since", "status"]


def resident(code: str, n: int) -> tuple[object, ...]:
    return (code, f"2{n:010d}", f"H{n}", "試験 太郎", "シケン タロウ", "1980-01-01", 1, "世帯主",
            "東雲県北山町1番地", "2000-01-01", "active")


@pytest.fixture
def url(pg_server: TestServer) -> str:
    return pg_server.fresh(pg_server.template_of("bcl_empty", _migrated))


@pytest.fixture
async def conn(url: str) -> AsyncIterator[asyncpg.Connection]:
    db = PgDatabase(url, pool_size=1)
    await db.open()  # at the latest schema
    await db.close()
    c = await asyncpg.connect(url)
    await c.execute("INSERT INTO municipalities (code, name, kind, population, hosting, created_at) "
                    "VALUES ($1, '北山町', 'town', 6200, 'bcl', now())", TOWN)
    await c.execute("INSERT INTO seal_impressions (sha256, png) VALUES ($1, '\\x00')", PNG)
    await c.copy_records_to_table("residents", records=[resident(TOWN, n) for n in range(3)],
                                  columns=RESIDENT_COLUMNS)
    await c.execute("INSERT INTO seals (municipality_code, resident_code, seal_number, registered_on, status, "
                    "impression_sha256) VALUES ($1, $2, 'S1', '2020-01-01', 'active', $3)", TOWN, "20000000000", PNG)
    await c.execute("INSERT INTO taxes (municipality_code, resident_code, fiscal_year, total_income, salary_income, "
                    "deductions, taxable_income, municipal_tax, prefectural_tax) "
                    "VALUES ($1, $2, 2025, 1, 1, 0, 1, 0, 0)", TOWN, "20000000001")
    try:
        yield c
    finally:
        await c.close()


async def counts(c: asyncpg.Connection) -> tuple[int, ...]:
    return tuple([await c.fetchval(f"SELECT count(*) FROM {t}")  # noqa: S608 - constant names
                  for t in ("municipalities", "residents", "seals", "taxes", "seal_impressions")])


async def refused(c: asyncpg.Connection, sql: str, *args: object) -> str:
    before = await counts(c)
    with pytest.raises(IntegrityError) as err:
        await c.execute(sql, *args)
    assert err.value.sqlstate == "23503"
    assert await counts(c) == before
    return str(err.value)


async def test_rows_that_would_refer_to_nothing_are_refused_whole(conn: asyncpg.Connection) -> None:
    # a COPY whose last row names an unknown municipality: none of its rows stay
    before = await counts(conn)
    with pytest.raises(IntegrityError) as err:
        await conn.copy_records_to_table("residents", records=[resident(TOWN, 10), resident("999999", 11)],
                                         columns=RESIDENT_COLUMNS)
    assert err.value.sqlstate == "23503" and "999999" in str(err.value.detail)
    assert await counts(conn) == before
    await refused(conn, "INSERT INTO seals (municipality_code, resident_code, seal_number, registered_on, status, "
                        "impression_sha256) VALUES ($1, '29999999999', 'S1', '2020-01-01', 'active', $2)", TOWN, PNG)
    await refused(conn, "INSERT INTO seals (municipality_code, resident_code, seal_number, registered_on, status, "
                        "impression_sha256) VALUES ($1, '20000000002', 'S1', '2020-01-01', 'active', 'b')", TOWN)
    await refused(conn, "INSERT INTO taxes (municipality_code, resident_code, fiscal_year, total_income, "
                        "salary_income, deductions, taxable_income, municipal_tax, prefectural_tax) "
                        "VALUES ($1, '29999999999', 2025, 1, 1, 0, 1, 0, 0)", TOWN)
    await refused(conn, "UPDATE seals SET resident_code = '29999999999'")
    await refused(conn, "UPDATE residents SET municipality_code = '999999' WHERE resident_code = '20000000002'")


async def test_rows_still_referred_to_cannot_go(conn: asyncpg.Connection) -> None:
    assert "seals" in await refused(conn, "DELETE FROM residents WHERE resident_code = '20000000000'")
    assert "taxes" in await refused(conn, "DELETE FROM residents WHERE resident_code = '20000000001'")
    await refused(conn, "UPDATE residents SET resident_code = '20000000009' WHERE resident_code = '20000000000'")
    assert "residents" in await refused(conn, "DELETE FROM municipalities WHERE code = $1", TOWN)
    assert "seals" in await refused(conn, "DELETE FROM seal_impressions")
    # a resident nothing refers to may go; in the full replace's order everything may
    await conn.execute("DELETE FROM residents WHERE resident_code = '20000000002'")
    for table in ("taxes", "seals", "residents"):
        await conn.execute(f"DELETE FROM {table} WHERE municipality_code = $1", TOWN)  # noqa: S608 - constants
    await conn.execute("DELETE FROM seal_impressions")
    assert await counts(conn) == (1, 0, 0, 0, 0)


async def test_a_seal_racing_its_residents_deletion_never_outlives_it(conn: asyncpg.Connection, url: str) -> None:
    """The inserting side locks the resident FOR KEY SHARE: in either order, one of the two
    transactions fails and no seal is left without its resident."""
    other = await asyncpg.connect(url)
    seal = ("INSERT INTO seals (municipality_code, resident_code, seal_number, registered_on, status, "
            "impression_sha256) VALUES ($1, '20000000002', 'S9', '2020-01-01', 'active', $2)")
    try:
        for isolation in ("read committed", "serializable"):
            for deleting_first in (True, False):
                await conn.execute("DELETE FROM seals WHERE seal_number = 'S9'")
                if not await conn.fetchval("SELECT 1 FROM residents WHERE resident_code = '20000000002'"):
                    await conn.copy_records_to_table("residents", records=[resident(TOWN, 2)],
                                                     columns=RESIDENT_COLUMNS)
                first, second = (conn, other) if deleting_first else (other, conn)
                await first.execute(f"BEGIN ISOLATION LEVEL {isolation}")
                await second.execute(f"BEGIN ISOLATION LEVEL {isolation}")
                await second.fetchval("SELECT 1")  # the second's snapshot is taken now
                if deleting_first:
                    await first.execute("DELETE FROM residents WHERE resident_code = '20000000002'")
                    waiting = asyncio.ensure_future(second.execute(seal, TOWN, PNG))
                else:
                    await first.execute(seal, TOWN, PNG)
                    waiting = asyncio.ensure_future(
                        second.execute("DELETE FROM residents WHERE resident_code = '20000000002'"))
                await asyncio.sleep(0.3)
                assert not waiting.done()  # it waits for the first's lock
                await first.execute("COMMIT")
                with pytest.raises(asyncpg.PostgresError) as err:
                    await waiting
                assert err.value.sqlstate in ("23503", "40001"), err.value
                await second.execute("ROLLBACK")
                orphans = await conn.fetchval(
                    "SELECT count(*) FROM seals s WHERE NOT EXISTS (SELECT 1 FROM residents r "
                    "WHERE r.municipality_code = s.municipality_code AND r.resident_code = s.resident_code)")
                assert orphans == 0, (isolation, deleting_first)
    finally:
        await other.close()


async def test_a_referred_table_is_emptied_only_with_what_refers_to_it(conn: asyncpg.Connection) -> None:
    assert "seals" in await refused(conn, "TRUNCATE residents")
    assert "seals" in await refused(conn, "TRUNCATE seal_impressions")
    await refused(conn, "TRUNCATE seals, residents")  # the taxes still refer to residents
    await conn.execute("TRUNCATE taxes, seals, residents, seal_impressions")  # all at once, as the wipe does
    assert await counts(conn) == (1, 0, 0, 0, 0)


async def test_a_write_in_repeatable_read_is_refused(conn: asyncpg.Connection) -> None:
    """Its snapshot could miss a row another transaction committed meanwhile (the
    migration's comment): refused, not checked wrongly."""
    with pytest.raises(asyncpg.FeatureNotSupportedError, match="READ COMMITTED or SERIALIZABLE"):
        async with conn.transaction(isolation="repeatable_read"):
            await conn.execute("DELETE FROM residents WHERE resident_code = '20000000002'")
    assert await conn.fetchval("SELECT count(*) FROM residents") == 3
