"""The embedded store: SQLite through one writer and a pool of readers (``db.Database``),
with each area's facts as async methods over it."""

from __future__ import annotations

from pathlib import Path

from bcl_console.store.api import CardStore, IssuanceStore, RelayStore, TestStageStore, TokenStore
from bcl_console.store.cards import SqliteCards
from bcl_console.store.db import Database
from bcl_console.store.issuances import SqliteIssuances
from bcl_console.store.relay import SqliteRelay
from bcl_console.store.teststages import SqliteTestStages
from bcl_console.store.tokens import SqliteTokens


class SqliteStore:
    """``Store`` on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path)
        self.tokens: TokenStore = SqliteTokens(self.db)
        self.issuances: IssuanceStore = SqliteIssuances(self.db)
        self.cards: CardStore = SqliteCards(self.db)
        self.relay: RelayStore = SqliteRelay(self.db)
        self.teststages: TestStageStore = SqliteTestStages(self.db)

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        return await self.db.open(target_version=target_version)

    async def close(self) -> None:
        await self.db.close()
