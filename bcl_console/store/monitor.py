"""The Issuance Monitor's reads: the newest requests, today's counts and refusals."""

from __future__ import annotations

import sqlite3

from bcl_console.store import issuances
from bcl_console.store.api import MonitorRecords
from bcl_console.store.db import Database


def monitor_records(conn: sqlite3.Connection, limit: int, since: str) -> MonitorRecords:
    return MonitorRecords(issuances.recent(conn, limit), issuances.counts_since(conn, since),
                          issuances.refusals_since(conn, since))


class SqliteMonitor:
    """``MonitorStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def monitor(self, limit: int, since: str) -> MonitorRecords:
        return await self._db.read(monitor_records, limit, since)
