"""The relay's challenges and sessions on PostgreSQL keep what SQLite keeps: opening a
challenge clears the expired challenges and sessions and keeps each table to its newest
``max_open`` rows (PostgreSQL does it in one statement), and a point lookup (no
transaction around it) sees what was committed last."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bcl_console.domain.errors import InvalidInput
from bcl_console.store import StoreUnavailable
from bcl_console.store import relay as sq_relay
from bcl_console.store.api import ChallengeRecord, SessionRecord
from bcl_console.store.db import Database
from bcl_console.store.pg import relay as pg_relay
from bcl_console.store.pg.db import Conn, PgDatabase, engine_error
from bcl_console.store.pg.relay import PgRelay
from bcl_console.store.relay import SqliteRelay
from tests.conftest import _migrated
from tests.pg import TestServer

NOW = "2026-06-17T01:00:00.000000+00:00"
PAST = "2026-06-17T00:59:00.000000+00:00"
LATER = "2026-06-17T01:01:00.000000+00:00"


@pytest.fixture
async def both(tmp_path: Path, pg_server: TestServer) -> AsyncIterator[tuple[Database, PgDatabase]]:
    sq = Database(tmp_path / "bcl.sqlite3")
    await sq.open()
    pg = PgDatabase(pg_server.fresh(pg_server.template_of("bcl_empty", _migrated)), pool_size=2)
    await pg.open()
    try:
        yield sq, pg
    finally:
        await pg.close()
        await sq.close()


def challenge(n: int, expires: str = LATER) -> ChallengeRecord:
    return ChallengeRecord(f"c{n}", "Seven Mart", bytes([n]) * 8, expires)


def session(n: int, expires: str) -> SessionRecord:
    return SessionRecord(f"s{n}", "Seven Mart", "993611", f"r{n}", f"serial{n}", expires, "kiosk")


async def kept(sq: Database, pg: PgDatabase) -> tuple[list[Any], list[Any]]:
    """(challenge ids, session ids) left, the same on both engines."""
    def sq_rows(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
        return ([r[0] for r in conn.execute("SELECT challenge_id FROM relay_challenges ORDER BY id")],
                [r[0] for r in conn.execute("SELECT session_id FROM relay_sessions ORDER BY id")])

    async def pg_rows(conn: Conn) -> tuple[list[Any], list[Any]]:
        return ([r[0] for r in await conn.fetch("SELECT challenge_id FROM relay_challenges ORDER BY id")],
                [r[0] for r in await conn.fetch("SELECT session_id FROM relay_sessions ORDER BY id")])

    a, b = await sq.read(sq_rows), await pg.read(pg_rows)
    assert a == b
    return a


async def test_opening_a_challenge_clears_expired_rows_and_keeps_the_newest(
        both: tuple[Database, PgDatabase]) -> None:
    sq, pg = both
    stores = (SqliteRelay(sq), PgRelay(pg))
    for store in stores:
        await store.open_session(session(1, PAST))   # expired by NOW
        await store.open_session(session(2, LATER))
        for n in range(1, 3):
            await store.open_challenge(challenge(n, PAST), now=PAST, max_open=3)
    assert await kept(sq, pg) == (["c1", "c2"], ["s1", "s2"])
    for store in stores:
        await store.open_challenge(challenge(3), now=NOW, max_open=3)
    # the expired challenges and session are gone, the new challenge is there
    assert await kept(sq, pg) == (["c3"], ["s2"])
    for store in stores:
        for n in range(4, 8):
            await store.open_challenge(challenge(n), now=NOW, max_open=3)
    # no more than max_open of each: the newest three challenges
    assert await kept(sq, pg) == (["c5", "c6", "c7"], ["s2"])
    for store in stores:
        for n in range(3, 7):
            await store.open_session(session(n, LATER))
        await store.open_challenge(challenge(8), now=NOW, max_open=3)
    assert await kept(sq, pg) == (["c6", "c7", "c8"], ["s4", "s5", "s6"])


async def test_a_point_lookup_sees_the_last_commit_and_a_taken_challenge_is_gone(
        both: tuple[Database, PgDatabase]) -> None:
    sq, pg = both
    for store in (SqliteRelay(sq), PgRelay(pg)):
        assert await store.session("s9") is None
        await store.open_session(session(9, LATER))
        assert await store.session("s9") == session(9, LATER)
        await store.close_session("s9")
        assert await store.session("s9") is None
        await store.open_challenge(challenge(9), now=NOW, max_open=3)
        assert await store.take_challenge("c9") == challenge(9)
        assert await store.take_challenge("c9") is None
    assert await sq.read(sq_relay.get_session, "s9") is None
    assert await pg.lookup(pg_relay.get_session, "s9") is None


async def test_what_the_engine_raises_is_an_answer_not_a_crash(both: tuple[Database, PgDatabase]) -> None:
    """A NUL PostgreSQL cannot keep is the caller's bad input (InvalidInput, 422), never a
    500 (the HTTP layer refuses it first with 400; this is the store's own guard); a connection asyncpg finds in
    the middle of another operation when the server shuts down fast is 'unavailable'."""
    _, pg = both
    relay = PgRelay(pg)
    with pytest.raises(InvalidInput, match="NUL"):
        await relay.take_challenge("c\x00")
    assert await relay.take_challenge("c1") is None  # the pool is fine afterwards
    assert isinstance(engine_error(asyncpg.InternalClientError("cannot switch to state 15; another operation "
                                                               "(2) is in progress")), StoreUnavailable)
