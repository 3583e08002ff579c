"""Small facts about the centre itself (PostgreSQL): the counterpart of ``store/meta.py``."""

from __future__ import annotations

from bcl_console.store.pg.db import Conn


async def get_meta(conn: Conn, key: str) -> str | None:
    value = await conn.fetchval("SELECT value FROM meta WHERE key = $1", key)
    return None if value is None else str(value)


async def set_meta(conn: Conn, key: str, value: str) -> None:
    await conn.execute("INSERT INTO meta (key, value) VALUES ($1, $2) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
