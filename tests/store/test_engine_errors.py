"""Engine errors do not cross the store's boundary: a database locked by another
process past the busy timeout is StoreBusy (HTTP 503 busy with Retry-After, CLI one
sentence); any other refusal of the engine is a StoreError with the engine's as cause."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store import StoreBusy, StoreError
from bcl_console.store.db import Database

#: About SQLite itself: not run again on PostgreSQL.
pytestmark = pytest.mark.sqlite_only


OP = Actor("tester", "cli")


def _short_busy_timeout(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout = 100")


def _insert_meta(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES ('probe', 'x')")


def _broken(conn: sqlite3.Connection) -> None:
    conn.execute("SELECT no_such_column FROM meta")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "bcl.sqlite3")
    await database.open()
    await database.write(_short_busy_timeout)
    yield database
    await database.close()


async def test_a_write_on_a_database_locked_by_another_process_is_store_busy(db: Database) -> None:
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreBusy) as caught:
            await db.write(_insert_meta)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        other.execute("ROLLBACK")
        other.close()
    await db.write(_insert_meta)  # the lock gone, the same write succeeds


async def test_any_other_engine_refusal_is_a_store_error_not_sqlite3(db: Database) -> None:
    for call in (db.write, db.read):
        with pytest.raises(StoreError) as caught:
            await call(_broken)
        assert not isinstance(caught.value, sqlite3.Error)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


@pytest.fixture
async def served(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, str, str]]:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.tokens.issue("kiosk", "Seven Mart", actor=OP)
    await demo_runtime.db.write(_short_busy_timeout)
    yield demo_runtime, server.url, token


async def test_http_answers_503_busy_with_retry_after_while_the_database_is_locked(
        served: tuple[Runtime, str, str]) -> None:
    rt, url, token = served
    other = sqlite3.connect(rt.settings.db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        async with aiohttp.ClientSession() as http, http.post(
                f"{url}/kiosk/v1/challenges", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "1"
            assert (await r.json())["error"]["code"] == "busy"
    finally:
        other.execute("ROLLBACK")
        other.close()
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/kiosk/v1/challenges", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 201
