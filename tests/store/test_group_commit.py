"""Group commit: writes queued together share one transaction, each in a savepoint of its
own, so one that fails is rolled back alone; no caller hears of its write before the
COMMIT, and when that fails every write of the transaction fails."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bcl_console.domain.errors import Conflict
from bcl_console.store import StoreError
from bcl_console.store.db import Database

#: About SQLite itself: not run again on PostgreSQL.
pytestmark = pytest.mark.sqlite_only


def _put(conn: sqlite3.Connection, key: str) -> str:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, 'x')", (key,))
    return key


def _put_then_refuse(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, 'x')", (key,))
    raise Conflict("refused after writing", code="refused")


def _keys(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT key FROM meta WHERE key LIKE 'g-%' ORDER BY key")]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "bcl.sqlite3")
    await database.open()
    yield database
    await database.close()


async def test_a_failing_write_is_rolled_back_alone(db: Database) -> None:
    results = await asyncio.gather(
        db.write(_put, "g-1"), db.write(_put_then_refuse, "g-2"), db.write(_put, "g-3"),
        db.write(_put, "g-1"),  # a duplicate key: the engine's IntegrityError, as a StoreError
        return_exceptions=True)
    assert results[0] == "g-1" and results[2] == "g-3"
    assert isinstance(results[1], Conflict)
    assert isinstance(results[3], StoreError) and isinstance(results[3].__cause__, sqlite3.IntegrityError)
    assert await db.read(_keys) == ["g-1", "g-3"]


async def test_when_the_commit_fails_every_write_of_it_fails(db: Database, tmp_path: Path) -> None:
    await db.read(_keys)
    # A deferred foreign-key violation fails only at COMMIT: the writes beside it fail with it.
    def violate(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO meta (key, value) VALUES ('g-0', 'x')")
        conn.execute("CREATE TABLE IF NOT EXISTS g_parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE IF NOT EXISTS g_child (p INTEGER REFERENCES g_parent(id))")
        conn.execute("INSERT INTO g_child (p) VALUES (42)")

    results = await asyncio.gather(db.write(_put, "g-a"), db.write(violate), db.write(_put, "g-b"),
                                   return_exceptions=True)
    assert isinstance(results[0], StoreError) and isinstance(results[1], StoreError)
    assert results[2] == "g-b"  # a write deferring its checks ends its transaction
    assert await db.read(_keys) == ["g-b"]


async def test_many_concurrent_writes_all_commit_in_order(db: Database) -> None:
    keys = [f"g-{i:03d}" for i in range(200)]
    assert await asyncio.gather(*(db.write(_put, k) for k in keys)) == keys
    assert await db.read(_keys) == keys


async def test_close_commits_what_was_accepted(tmp_path: Path) -> None:
    database = Database(tmp_path / "bcl.sqlite3")
    await database.open()
    tasks = [asyncio.ensure_future(database.write(_put, f"g-{i}")) for i in range(5)]
    await asyncio.sleep(0)
    await database.close()
    assert [t.result() for t in tasks] == [f"g-{i}" for i in range(5)]
    conn = sqlite3.connect(tmp_path / "bcl.sqlite3")
    try:
        assert len(_keys(conn)) == 5
    finally:
        conn.close()
