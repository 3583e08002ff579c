from __future__ import annotations

import sqlite3
from pathlib import Path

from bcl_console.config import load_settings
from bcl_console.services.clock import FixedClock
from bcl_console.services.runtime import Runtime
from bcl_console.store.db import LATEST_VERSION, Database, migration_files
from tests.conftest import TEST_NOW


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [v for v, _, _ in migration_files()]
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert LATEST_VERSION >= 2


async def test_a_version_1_directory_opens_in_the_current_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await old.start(target_version=1)
    assert old.schema_versions == (0, 1)
    # A municipality written by the version-1 program.
    await old.db.write(
        lambda conn: conn.execute(
            "INSERT INTO municipalities (code, name, kind, population, hosting, created_at) "
            "VALUES ('131016', '千代田区', 'special-ward', 68000, 'bcl', '2020-01-01T00:00:00+00:00')"
        )
    )
    await old.stop()
    with sqlite3.connect(data / "bcl.sqlite3") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "residents" not in tables

    new = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await new.start()
    try:
        assert new.schema_versions == (1, LATEST_VERSION)
        view = await new.municipalities.get("131016")
        assert view.municipality.name == "千代田区"
        assert view.municipality.prefecture == ""  # added by migration 2 with its default
        assert await new.municipalities.held_counts() == {}
    finally:
        await new.stop()


async def test_a_newer_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "bcl.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    db = Database(path)
    try:
        await db.open()
    except Exception as exc:  # StoreError
        assert "newer than this program" in str(exc)
    else:
        raise AssertionError("a newer schema must not be opened")
    finally:
        await db.close()


async def test_a_failed_write_changes_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3")
    await db.open()
    try:
        def half_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")

        try:
            await db.write(half_then_fail)
        except RuntimeError:
            pass
        assert await db.read(lambda c: c.execute("SELECT count(*) FROM meta").fetchone()[0]) == 0
    finally:
        await db.close()
