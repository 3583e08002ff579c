"""The channel that carries events between the processes on one PostgreSQL database:
what was sent before ``close`` arrives, the statement in flight included, and nothing is
left behind for asyncio to complain about (a connection closed under a statement)."""

from __future__ import annotations

import asyncio
import gc

import asyncpg

from bcl_console.store.pg.notify import CHANNEL, PgChannel
from tests.pg import TestServer


async def test_what_is_sent_before_close_arrives_and_nothing_is_left_unread(pg_server: TestServer) -> None:
    url = pg_server.fresh()
    listener = await asyncpg.connect(url)
    heard: list[str] = []
    await listener.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: heard.append(payload))
    loop = asyncio.get_running_loop()
    complaints: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: complaints.append(str(context.get("message"))))
    try:
        for round_ in range(5):
            channel = PgChannel(url)
            for i in range(200):
                channel.send(f"{round_}:{i}")
            await asyncio.sleep(0)  # the sender has its first batch in flight
            await channel.close()
        for _ in range(100):
            if len(heard) == 1000:
                break
            await asyncio.sleep(0.05)
        assert sorted(heard) == sorted(f"{r}:{i}" for r in range(5) for i in range(200))
        gc.collect()
        await asyncio.sleep(0.1)
        assert complaints == []
    finally:
        loop.set_exception_handler(previous)
        await listener.close()
