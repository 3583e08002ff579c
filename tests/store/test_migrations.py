from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bcl_console.config import load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store.db import LATEST_VERSION, Database, StoreError, migration_files
from tests.conftest import TEST_NOW, query

#: About SQLite itself: not run again on PostgreSQL.
pytestmark = pytest.mark.sqlite_only


FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "linkage" / "valid-full"


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
        with pytest.raises(StoreError, match="newer than this program"):
            await db.open()
    finally:
        await db.close()


async def test_a_failed_write_changes_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3")
    await db.open()
    try:
        def half_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")

        # the function's own error reaches the caller, and its half-done insert is rolled back
        with pytest.raises(RuntimeError, match="boom"):
            await db.write(half_then_fail)
        assert await db.read(lambda c: c.execute("SELECT count(*) FROM meta").fetchone()[0]) == 0
        # and the writer is left outside any transaction: the next write commits
        await db.write(lambda c: c.execute("INSERT INTO meta (key, value) VALUES ('b', '2')"))
        assert await db.read(lambda c: [tuple(r) for r in c.execute("SELECT key, value FROM meta")]) == [("b", "2")]
    finally:
        await db.close()


async def test_version_10_rebuilds_residents_and_seals_keeping_every_row_and_rule(tmp_path: Path) -> None:
    fixture = FIXTURE
    data = tmp_path / "data"
    old = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await old.start(target_version=9)
    await old.municipalities.add(code="993611", name="北山町", kind="town", population=6200,
                                 actor=Actor("op", "cli"))
    assert (await old.linkage.link(fixture)).outcome == "applied"
    await old.stop()
    tables = ("residents", "seals", "taxes")
    db = data / "bcl.sqlite3"
    before = {t: query(db, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in tables}  # noqa: S608
    assert before["residents"] and before["seals"]

    new = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await new.start()
    await new.stop()
    assert new.schema_versions == (9, LATEST_VERSION)
    after = {t: query(db, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in tables}  # noqa: S608
    # later migrations may add nullable columns (15: tax details): the old columns keep every value
    assert {t: [r[:len(before[t][0])] if before[t] else r for r in rows] for t, rows in after.items()} == before
    assert all(v is None for r in after["taxes"] for v in r[len(before["taxes"][0]):]) if before["taxes"] else True
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "residents_household" in indexes
        row = conn.execute("SELECT * FROM residents LIMIT 1").fetchone()
        for column, bad in ((6, 3), (13, "away"), (15, 2), (16, 7)):  # sex, status, flags
            changed = (*row[:column], bad, *row[column + 1:])
            changed = (changed[0], "99999999999", *changed[2:])
            try:
                conn.execute(f"INSERT INTO residents VALUES ({', '.join('?' * len(row))})", changed)  # noqa: S608
            except sqlite3.IntegrityError as exc:
                assert "CHECK constraint failed" in str(exc)
            else:
                raise AssertionError(f"column {column} = {bad!r} must be refused")
        seal = conn.execute("SELECT * FROM seals LIMIT 1").fetchone()
        try:
            conn.execute("INSERT INTO seals VALUES (?, ?, 'X9', ?, 'lost', ?)", (seal[0], seal[1], seal[3], seal[5]))
        except sqlite3.IntegrityError as exc:
            assert "CHECK constraint failed" in str(exc)
        else:
            raise AssertionError("a seal status outside the rule must be refused")


def test_a_rebuilding_migration_may_not_break_references_but_old_breaks_do_not_block(tmp_path: Path) -> None:
    from bcl_console.store.db import StoreError, _apply_migration

    conn = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)
    conn.executescript(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));"
        "INSERT INTO parent VALUES (1), (2);"
        "INSERT INTO child VALUES (10, 1), (11, 2), (12, 99);"  # 12: broken before any migration
    )
    keep = ("CREATE TABLE parent_new (id INTEGER PRIMARY KEY); INSERT INTO parent_new SELECT * FROM parent; "
            "DROP TABLE parent; ALTER TABLE parent_new RENAME TO parent;")
    _apply_migration(conn, 1, "0001_keep.sql", keep)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    lose = ("CREATE TABLE parent_new (id INTEGER PRIMARY KEY); INSERT INTO parent_new SELECT * FROM parent "
            "WHERE id = 1; DROP TABLE parent; ALTER TABLE parent_new RENAME TO parent;")
    try:
        _apply_migration(conn, 2, "0002_lose.sql", lose)
    except StoreError as exc:
        assert "would leave 1 row(s) of child pointing at missing parent rows" in str(exc)
    else:
        raise AssertionError("a migration that breaks references must be refused")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT id FROM parent ORDER BY id").fetchall() == [(1,), (2,)]
    conn.close()
