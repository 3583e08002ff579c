"""Events between the processes of one centre (PostgreSQL LISTEN/NOTIFY).

Each process sends the events it publishes on the channel ``bcl_events`` and listens to
it, so a console attached to the database sees what every ``serve`` worker did, as it
happens. Sending never waits: payloads are queued and sent in batches (one
``pg_notify`` per payload, one statement per batch) on a connection of their own.
Listening holds another connection; when it is lost, it is made again, and the listener
is told to resynchronise, because notifications sent while nobody listened are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from bcl_console.store.pg.db import ENGINE_ERRORS

log = logging.getLogger(__name__)

CHANNEL = "bcl_events"
#: PostgreSQL refuses a payload of 8000 bytes or more.
MAX_PAYLOAD = 7900
#: Payloads waiting to be sent; beyond it the oldest are dropped (a console then misses
#: a line of the live feed, never data: every screen reads the database).
MAX_QUEUED = 10_000
#: Seconds between checks that the listening connection is alive.
PING = 5.0


class PgChannel:
    """``EventChannel`` over one PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self._url = url
        #: Payloads to send; None asks the sender to finish (``close``).
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(MAX_QUEUED + 1)
        self._sender: asyncio.Task[None] | None = None

    def send(self, payload: str) -> None:
        if len(payload.encode()) > MAX_PAYLOAD:
            return
        self._put(payload)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_forever())

    def _put(self, item: str | None) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(item)

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._url, timeout=10, server_settings={"application_name": "bcl-events"})

    async def _send_forever(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            finished = False
            while not finished:
                batch: list[str] = []
                item = await self._queue.get()
                while True:
                    if item is None:
                        finished = True
                    else:
                        batch.append(item)
                    if finished or self._queue.empty() or len(batch) >= 500:
                        break
                    item = self._queue.get_nowait()
                if not batch:
                    continue
                try:
                    if conn is None or conn.is_closed():
                        conn = await self._connect()
                    await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", CHANNEL, batch)
                except ENGINE_ERRORS as exc:
                    log.warning("%d event(s) could not be sent to other processes: %s", len(batch), exc)
                    conn = None
                    if not finished:
                        await asyncio.sleep(1)
            if conn is not None:  # asked to finish, nothing in flight: a clean goodbye
                with contextlib.suppress(*ENGINE_ERRORS):
                    await conn.close(timeout=2)
        finally:
            # cancelled (the close's wait ran out): a statement may be in flight, and a
            # connection closed under it leaves asyncpg a future nobody reads
            if conn is not None and not conn.is_closed():
                conn.terminate()

    async def listen(self, on_payload: Callable[[str], None], on_resync: Callable[[], None]) -> None:
        first = True
        while True:
            conn: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                conn = await self._connect()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: on_payload(payload))
                if not first:
                    log.info("events from other processes: listening again")
                    on_resync()
                first = False
                while not lost.is_set():
                    # asyncio.timeout, not wait_for: on 3.11 a wait_for whose inner await
                    # finishes as the task is cancelled swallows the cancellation, and a
                    # listener busy with notifications then outlived its runtime's stop
                    try:
                        async with asyncio.timeout(PING):
                            await lost.wait()
                    except TimeoutError:
                        async with asyncio.timeout(PING):
                            await conn.execute("SELECT 1")
            except ENGINE_ERRORS as exc:
                log.warning("events from other processes: connection lost (%s); retrying", exc)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            first = False
            await asyncio.sleep(1)

    async def close(self) -> None:
        if self._sender is not None:
            sender, self._sender = self._sender, None
            # what is queued (and the statement in flight) is sent first, briefly: a
            # sender cancelled mid-statement has its connection closed under it
            self._put(None)
            try:
                async with asyncio.timeout(2):
                    await asyncio.shield(sender)
            except TimeoutError:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
