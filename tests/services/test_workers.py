"""Several `serve` workers on one PostgreSQL centre, and a console attached to the same
database that sees what every one of them serves, as it happens (contract §10)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bcl_console.clients.simulator import Simulator, load_cards
from bcl_console.config import load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import Event, IssuanceChanged
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, execute, stop_gracefully


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])  # several workers are for the PostgreSQL store only
async def test_two_workers_serve_one_centre_and_the_console_sees_them_live(
        demo_dir: Path, backend: str) -> None:
    console = Runtime(load_settings(str(demo_dir), now=TEST_NOW.isoformat()))
    await console.start(create=False)
    seen: list[IssuanceChanged] = []

    def heard(event: Event) -> None:
        if isinstance(event, IssuanceChanged) and event.operator == "simulator":
            seen.append(event)

    console.bus.subscribe(heard)
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any traffic
        [sys.executable, "-m", "bcl_console", "--data-dir", str(demo_dir), "--now", TEST_NOW.isoformat(),
         "serve", "--port", "0", "--workers", "2", "--trusted-proxies", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    try:
        assert server.stdout is not None
        lines: list[str] = []
        url = None
        while len([ln for ln in lines if "worker " in ln and " on http" in ln]) < 2 or url is None:
            line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 90)
            assert line, "serve stopped: " + "".join(lines)
            lines.append(line)
            if m := re.search(r"listening on (http://\S+) with 2 workers", line):
                url = m.group(1)
        token = await console.tokens.issue("kiosk", "simulator", actor=Actor("t", "cli"))
        cards = load_cards(demo_dir / "cards")
        sim = Simulator(url, token, cards, kiosks=6, rate=30, duration=4, failed_print=0.0,
                        wrong_payment=0.0, seed=3)
        report = (await sim.run()).as_dict()
        printed = report["outcomes"].get("printed", 0)
        assert printed >= 20, report
        for _ in range(100):  # the events of the last flows are on their way
            if len([e for e in seen if e.state == "printed"]) >= printed:
                break
            await asyncio.sleep(0.1)
        assert len({e.request_id for e in seen if e.state == "printed"}) == printed
        rows = await execute(console, "SELECT count(*) FROM issuances WHERE operator = 'simulator' "
                                      "AND state = 'printed'")
        assert rows == [(printed,)]
        # both workers served: each has its own connections on the server
        pids = await execute(console, "SELECT count(DISTINCT pid) FROM pg_stat_activity "
                                      "WHERE application_name = 'bcl-console'")
        assert pids[0][0] >= 3  # two workers' pools and the console's
        # the per-address limit is one bucket across the workers, and each worker believes
        # the trusted proxy (--trusted-proxies, handed down to the workers) about the client
        (code,), *_ = await execute(console, "SELECT verification_code FROM issuances WHERE operator = 'simulator' "
                                             "AND state = 'printed'")
        statuses = []
        for forwarded in ["203.0.113.5"] * 11 + ["203.0.113.6"]:
            async with aiohttp.ClientSession() as http, http.get(  # a new connection: either worker
                    f"{url}/verify/v1/{code}", headers={"X-Forwarded-For": forwarded}) as r:
                statuses.append(r.status)
        assert statuses == [200] * 10 + [429, 200]
    finally:
        stop_gracefully(server)
        await console.stop()
    assert server.returncode == 0
