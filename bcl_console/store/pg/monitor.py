"""The Issuance Monitor's reads (PostgreSQL): the counterpart of ``store/monitor.py``."""

from __future__ import annotations

from bcl_console.store.api import MonitorRecords
from bcl_console.store.pg import issuances
from bcl_console.store.pg.db import Conn, PgDatabase


async def monitor_records(conn: Conn, limit: int, since: str) -> MonitorRecords:
    return MonitorRecords(await issuances.recent(conn, limit), await issuances.counts_since(conn, since),
                          await issuances.refusals_since(conn, since))


class PgMonitor:
    """``MonitorStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def monitor(self, limit: int, since: str) -> MonitorRecords:
        return await self._db.read(monitor_records, limit, since)
