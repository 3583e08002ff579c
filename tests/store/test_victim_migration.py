"""Migration 18: issuances.type accepts disaster-victim, with every row, column, index and
trigger of the table kept (the CHECK is widened in place, not by a rebuild)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bcl_console.config import load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, query

#: About SQLite itself: not run again on PostgreSQL.
pytestmark = pytest.mark.sqlite_only


ROW = ("INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, fee, state, "
       "created_at, issued_at) VALUES (?, ?, '993611', '00000000001', 'store', 'Seven Mart', 300, 'printed', "
       "'2026-06-01T01:00:00+00:00', '2026-06-01T01:00:00+00:00')")


async def test_version_18_widens_the_type_check_in_place(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await old.start(target_version=17)
    await old.municipalities.add(code="993611", name="北山町", kind="town", population=6200, actor=Actor("op", "cli"))
    await old.db.write(lambda conn: conn.execute(ROW, ("old-1", "disaster")))
    await old.stop()
    db = data / "bcl.sqlite3"
    objects = "SELECT type, name FROM sqlite_master WHERE tbl_name = 'issuances' ORDER BY 1, 2"
    before = (query(db, "SELECT * FROM issuances"), query(db, objects))
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
        conn.execute(ROW, ("refused-at-17", "disaster-victim"))

    new = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await new.start(target_version=18)  # migration 18 alone: later ones may touch issuances
    try:
        assert new.schema_versions[0] == 17
        await new.db.write(lambda conn: conn.execute(ROW, ("new-1", "disaster-victim")))  # the running writer
    finally:
        await new.stop()
    assert (query(db, "SELECT * FROM issuances WHERE request_id = 'old-1'"), query(db, objects)) == before
    # the triggers still fire (the settlement key of the new row is made) and other types are refused
    assert query(db, "SELECT settle_key IS NOT NULL FROM issuances WHERE request_id = 'new-1'") == [(1,)]
    with sqlite3.connect(db) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
            conn.execute(ROW, ("bogus", "marriage"))
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'migration_18_check'").fetchone() == (0,)
        assert conn.execute("PRAGMA writable_schema").fetchone() == (0,)
