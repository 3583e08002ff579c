"""The per-address limits of the routes anyone may call (verification by code, a
resident's challenges): on PostgreSQL every worker and machine takes from one bucket per
address (two pools here, as two processes would have); on SQLite, one process's memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bcl_console.store.limits import MemoryLimits
from bcl_console.store.pg import limits as pg_limits
from bcl_console.store.pg.db import PgDatabase
from bcl_console.store.pg.limits import PgLimits
from tests.conftest import _migrated
from tests.pg import TestServer


@pytest.fixture
async def two_workers(pg_server: TestServer) -> AsyncIterator[tuple[PgDatabase, PgLimits, PgLimits]]:
    url = pg_server.fresh(pg_server.template_of("bcl_empty", _migrated))
    first, second = PgDatabase(url, pool_size=4), PgDatabase(url, pool_size=4)
    await first.open()
    await second.open()
    try:
        yield first, PgLimits(first), PgLimits(second)
    finally:
        await second.close()
        await first.close()


async def test_two_workers_take_from_one_bucket_per_address_even_at_once(
        two_workers: tuple[PgDatabase, PgLimits, PgLimits]) -> None:
    db, one, other = two_workers
    takes = [(one if i % 2 else other).take("verify", "192.0.2.7", 10 / 60, 10) for i in range(40)]
    waits = await asyncio.gather(*takes)
    assert sorted(waits)[:10] == [0.0] * 10 and all(w > 0 for w in sorted(waits)[10:])
    # the next one refills at 10 a minute: about 6 s away, from either worker
    assert 5.0 < await one.take("verify", "192.0.2.7", 10 / 60, 10) <= 6.0
    # another address, and the same address under another limit, are buckets of their own
    assert await other.take("verify", "192.0.2.8", 10 / 60, 10) == 0.0
    assert await other.take("resident", "192.0.2.7", 5.0, 20.0) == 0.0
    async with db._require().acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM rate_buckets") == 3


async def test_a_bucket_refills_and_full_ones_are_dropped(two_workers: tuple[PgDatabase, PgLimits, PgLimits],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db, one, other = two_workers
    assert await one.take("resident", "a", 20.0, 1) == 0.0
    assert 0 < await other.take("resident", "a", 20.0, 1) <= 0.05
    await asyncio.sleep(0.1)
    assert await other.take("resident", "a", 20.0, 1) == 0.0
    await asyncio.sleep(0.1)
    monkeypatch.setattr(pg_limits, "PRUNE_ONE_IN", 1)  # this take also drops the full buckets
    assert await one.take("resident", "b", 20.0, 1) == 0.0
    async with db._require().acquire() as conn:
        assert [r[0] for r in await conn.fetch("SELECT key FROM rate_buckets")] == ["resident:b"]


async def test_a_standby_counts_in_its_own_memory(two_workers: tuple[PgDatabase, PgLimits, PgLimits]) -> None:
    db, one, _ = two_workers
    db.standby = True  # a hot standby writes nothing, not even the limits' counts
    try:
        assert [await one.take("verify", "c", 10 / 60, 2) == 0.0 for _ in range(3)] == [True, True, False]
    finally:
        db.standby = False
    async with db._require().acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM rate_buckets") == 0


async def test_one_process_counts_in_memory() -> None:
    limits = MemoryLimits()
    waits = [await limits.take("verify", "192.0.2.7", 10 / 60, 10) for _ in range(11)]
    assert waits[:10] == [0.0] * 10 and 5.0 < waits[10] <= 6.0
    assert await limits.take("resident", "192.0.2.7", 5.0, 20.0) == 0.0
