"""What management terminals read (PostgreSQL): the counterpart of ``store/manage.py``."""

from __future__ import annotations

from bcl_console.store.api import DayIssuance, DayIssuances
from bcl_console.store.pg.db import Conn, PgDatabase


async def day_issuances(conn: Conn, code: str, since: str, until: str, limit: int, offset: int) -> DayIssuances:
    rows = await conn.fetch(
        "SELECT request_id, type, channel, operator, fee, state, created_at, issued_at, completed_at, "
        "voided_at, certificate_number FROM issuances "
        "WHERE municipality_code = $1 AND created_at >= $2 AND created_at < $3 "
        "ORDER BY created_at, id LIMIT $4 OFFSET $5", code, since, until, limit, offset)
    counts = [(r[0], r[1], r[2], int(r[3])) for r in await conn.fetch(
        "SELECT type, channel, state, count(*) FROM issuances "
        "WHERE municipality_code = $1 AND created_at >= $2 AND created_at < $3 "
        'GROUP BY type, channel, state ORDER BY type COLLATE "C", channel COLLATE "C", state COLLATE "C"',
        code, since, until)]
    return DayIssuances([DayIssuance(*r) for r in rows], sum(n for *_, n in counts), counts)


class PgManage:
    """``ManageStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def day_issuances(self, code: str, since: str, until: str, limit: int, offset: int) -> DayIssuances:
        return await self._db.read(day_issuances, code, since, until, limit, offset)
