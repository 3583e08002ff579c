"""Emptying a data directory's database (the demo command recreates everything)."""

from __future__ import annotations

import sqlite3


def wipe_all(conn: sqlite3.Connection) -> None:
    """Delete every row of every table in one transaction, foreign keys checked at commit."""
    conn.execute("PRAGMA defer_foreign_keys = ON")
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for table in tables:
        # Names come from sqlite_master, never from input; quoted as identifiers.
        conn.execute(f'DELETE FROM "{table}"')  # noqa: S608
