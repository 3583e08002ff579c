"""The dashboard's read: municipalities, what the intermediate DB holds of each, and each
one's newest applied linkage batch, from one snapshot."""

from __future__ import annotations

import sqlite3

from bcl_console.store.api import LastLinkage, OverviewRecords
from bcl_console.store.db import Database
from bcl_console.store.linkage import last_applied_batches
from bcl_console.store.municipalities import list_municipalities
from bcl_console.store.residents import held_counts


def overview(conn: sqlite3.Connection) -> OverviewRecords:
    return OverviewRecords(
        list_municipalities(conn),
        held_counts(conn),
        {code: LastLinkage(b.sequence, b.kind, b.received_at) for code, b in last_applied_batches(conn).items()},
    )


class SqliteOverview:
    """``OverviewStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def overview(self) -> OverviewRecords:
        return await self._db.read(overview)
