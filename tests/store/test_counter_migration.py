"""Migration 19: the management terminals of a version-18 database become terminals of kind
manage in the one table of terminals, their tokens still working; counter terminals join
them, a name unique per kind among a municipality's terminals in use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bcl_console.config import load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from bcl_console.services.platform.tokens import token_hash
from tests.conftest import TEST_NOW, query

#: About SQLite itself: not run again on PostgreSQL.
pytestmark = pytest.mark.sqlite_only


OP = Actor("op", "cli")
TOKEN = "bcl_mgt_" + "m" * 43


async def test_version_19_keeps_the_management_terminals(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await old.start(target_version=18)
    await old.municipalities.add(code="993611", name="北山町", kind="town", population=6200, actor=OP)
    await old.db.write(lambda conn: conn.execute(
        "INSERT INTO management_terminals (municipality_code, name, token_sha256, created_at, created_by) "
        "VALUES ('993611', '総務課', ?, '2026-06-01T01:00:00+00:00', 'op')", (token_hash(TOKEN),)))
    await old.stop()

    new = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await new.start(target_version=19)  # version 19 alone: later versions may add columns of their own
    try:
        assert new.schema_versions == (18, 19)
        [kept] = await new.terminals.list()
        assert (kept.name, kept.kind, kept.active) == ("総務課", "manage", True)
        assert await new.terminals.authenticate(TOKEN) == kept
        assert await new.counters.list() == [] and await new.counters.authenticate(TOKEN) is None
        counter = await new.counters.add("993611", "総務課", actor=OP)  # the same name, another kind
        assert counter.terminal.kind == "counter" and await new.counters.authenticate(counter.token) == counter.terminal
        assert await new.terminals.authenticate(counter.token) is None
    finally:
        await new.stop()
    db = data / "bcl.sqlite3"
    assert query(db, "SELECT name FROM sqlite_master WHERE name LIKE 'management_terminals%'") == []
    with sqlite3.connect(db) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute("INSERT INTO terminals (kind, municipality_code, name, token_sha256, created_at, created_by) "
                         "VALUES ('counter', '993611', '総務課', 'x', 'now', 'op')")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("INSERT INTO terminals (kind, municipality_code, name, token_sha256, created_at, created_by) "
                         "VALUES ('kiosk', '993611', 'k', 'y', 'now', 'op')")
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
