"""What management terminals (管理端末) read: the day's issuances a terminal lists (the
terminals themselves are ``store/terminals.py``)."""

from __future__ import annotations

import sqlite3

from bcl_console.store.api import DayIssuance, DayIssuances
from bcl_console.store.db import Database


def day_issuances(conn: sqlite3.Connection, code: str, since: str, until: str, limit: int,
                  offset: int) -> DayIssuances:
    rows = conn.execute(
        "SELECT request_id, type, channel, operator, fee, state, created_at, issued_at, completed_at, "
        "voided_at, certificate_number FROM issuances "
        "WHERE municipality_code = ? AND created_at >= ? AND created_at < ? "
        "ORDER BY created_at, id LIMIT ? OFFSET ?", (code, since, until, limit, offset)).fetchall()
    counts = [(r[0], r[1], r[2], int(r[3])) for r in conn.execute(
        "SELECT type, channel, state, count(*) FROM issuances "
        "WHERE municipality_code = ? AND created_at >= ? AND created_at < ? "
        "GROUP BY type, channel, state ORDER BY type, channel, state", (code, since, until))]
    return DayIssuances([DayIssuance(*r) for r in rows], sum(n for *_, n in counts), counts)


class SqliteManage:
    """``ManageStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def day_issuances(self, code: str, since: str, until: str, limit: int, offset: int) -> DayIssuances:
        return await self._db.read(day_issuances, code, since, until, limit, offset)
