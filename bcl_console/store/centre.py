"""``CentreStore`` on SQLite: one centre on one machine, nothing replicated (contract §11:
``single``)."""

from __future__ import annotations

from bcl_console.store.api import AuditEntry, CentreState
from bcl_console.store.errors import StoreError


class SqliteCentre:
    async def state(self) -> CentreState:
        return CentreState("single", 1, None, None)

    async def promote(self, at: str, reason: str, audit: AuditEntry) -> int:
        raise StoreError("a centre on SQLite is a single centre: there is no standby to promote")

    async def require_standby(self, name: str | None, at: str, audit: AuditEntry, *,
                              within: float = 60) -> CentreState:
        raise StoreError(_SINGLE)

    async def peer(self, url: str) -> CentreState:
        raise StoreError(_SINGLE)

    async def same_system(self, url: str) -> bool:
        raise StoreError(_SINGLE)

    async def checkpoint_peer(self, url: str) -> None:
        raise StoreError(_SINGLE)

    async def data_directory(self) -> str:
        raise StoreError(_SINGLE)

    async def name_standby(self, url: str, name: str, at: str, audit: AuditEntry, *,
                           within: float = 60) -> CentreState:
        raise StoreError(_SINGLE)


_SINGLE = "a centre on SQLite is a single centre: nothing is replicated to or from it"
