"""``LimitStore`` on PostgreSQL: one row per bucket in an UNLOGGED table (migration 0008),
taken by one INSERT … ON CONFLICT DO UPDATE whose row lock orders concurrent takes, so
every worker and machine on the database counts against the same bucket. A standby (or a
fenced centre) writes nothing: it counts in its own memory."""

from __future__ import annotations

import random

from bcl_console.store.errors import StoreStandby
from bcl_console.store.limits import MemoryLimits
from bcl_console.store.pg.db import Conn, PgDatabase

#: One take in this many also drops the limit's buckets idle long enough to be full again.
PRUNE_ONE_IN = 256

#: A bucket is refilled since its last take (never past full: $3; a take whose statement
#: began before the last one's, but waited for its row lock, counts as no time and leaves
#: the bucket's time where it was), then one is taken if there is one.
_TAKE = """
INSERT INTO rate_buckets AS b (key, tokens, allowed, at) VALUES ($1, $3::float8 - 1, true, now())
ON CONFLICT (key) DO UPDATE SET
    allowed = least($3::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.at)) * $2::float8) >= 1,
    tokens = least($3::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.at)) * $2::float8)
             - CASE WHEN least($3::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.at)) * $2::float8) >= 1
                    THEN 1 ELSE 0 END,
    at = greatest(b.at, now())
RETURNING allowed, tokens
"""


async def take(conn: Conn, name: str, key: str, per_second: float, burst: float, prune: bool) -> float:
    row = await conn.fetchrow(_TAKE, f"{name}:{key}", per_second, burst)
    assert row is not None
    if prune:  # a second statement, rarely: the buckets of this limit that are full again
        await conn.execute("DELETE FROM rate_buckets WHERE starts_with(key, $1) AND at < now() - "
                           "make_interval(secs => $2)", f"{name}:", burst / per_second)
    return 0.0 if row["allowed"] else (1 - float(row["tokens"])) / per_second


class PgLimits:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        self._own = MemoryLimits()

    async def take(self, name: str, key: str, per_second: float, burst: float) -> float:
        if self._db.standby or self._db.fenced is not None:
            return await self._own.take(name, key, per_second, burst)
        try:
            return await self._db.write_committed(take, name, key, per_second, burst,
                                                  random.randrange(PRUNE_ONE_IN) == 0)
        except StoreStandby:  # found to be the standby (or fenced) just now
            return await self._own.take(name, key, per_second, burst)
