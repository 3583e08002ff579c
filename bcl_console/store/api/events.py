"""Events between processes: what a store may offer to carry them (contract §10)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class EventChannel(Protocol):
    """How a store carries events between the processes of one centre (PostgreSQL's
    LISTEN/NOTIFY); SQLite offers none (one process serves a SQLite centre)."""

    def send(self, payload: str) -> None:
        """Queue one payload for every other listener; never waits, never raises."""
        ...

    async def listen(self, on_payload: Callable[[str], None], on_resync: Callable[[], None]) -> None:
        """Deliver every payload sent by any process until cancelled; after a lost
        connection is back, call ``on_resync`` (what was sent meanwhile is lost)."""
        ...

    async def close(self) -> None: ...
