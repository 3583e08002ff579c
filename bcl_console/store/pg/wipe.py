"""Emptying a data directory's database (PostgreSQL): the counterpart of ``store/wipe.py``."""

from __future__ import annotations

from bcl_console.store.pg.db import Conn


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def wipe_all(conn: Conn) -> None:
    """Delete every row of every table of the centre in one statement (so references
    between them never stand in the way), keeping the schema version (``bcl_schema``).
    Identities restart at 1, as SQLite's rowids do in an emptied table."""
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'bcl_schema' "
        "ORDER BY tablename")
    if rows:
        # Names come from the catalog, never from input; quoted as identifiers.
        await conn.execute(f"TRUNCATE {', '.join(_quoted(r[0]) for r in rows)} RESTART IDENTITY")  # noqa: S608
