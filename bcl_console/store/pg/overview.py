"""The dashboard's read (PostgreSQL): the counterpart of ``store/overview.py``."""

from __future__ import annotations

from bcl_console.store.api import LastLinkage, OverviewRecords
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.linkage import last_applied_batches
from bcl_console.store.pg.municipalities import list_municipalities
from bcl_console.store.pg.residents import held_counts


async def overview(conn: Conn) -> OverviewRecords:
    batches = await last_applied_batches(conn)
    return OverviewRecords(
        await list_municipalities(conn),
        await held_counts(conn),
        {code: LastLinkage(b.sequence, b.kind, b.received_at) for code, b in batches.items()},
    )


class PgOverview:
    """``OverviewStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def overview(self) -> OverviewRecords:
        return await self._db.read(overview)
