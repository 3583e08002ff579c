"""/metrics under `serve --workers 2` on PostgreSQL: every scrape, whichever worker answers
it, is the whole centre's (prometheus_client's multiprocess mode), and stays so when a
worker dies and is restarted."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bcl_console.config import load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, execute, stop_gracefully
from tests.services.relay_client import Kiosk

FLOWS = 100
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of one scrape, read by prometheus_client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


async def scrape(http: aiohttp.ClientSession, url: str) -> Samples:
    async with http.get(url + "/metrics") as r:
        assert r.status == 200
        return parse(await r.text())


async def read_until(server: subprocess.Popen[str], lines: list[str], pattern: str) -> re.Match[str]:
    assert server.stdout is not None
    while True:
        line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 90)
        assert line, "serve stopped: " + "".join(lines)
        lines.append(line)
        if m := re.search(pattern, line):
            return m


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])  # several workers are for the PostgreSQL store only
async def test_two_workers_count_one_hundred_flows_exactly_once(demo_dir: Path, backend: str) -> None:
    console = Runtime(load_settings(str(demo_dir), now=TEST_NOW.isoformat()))
    await console.start(create=False)
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any traffic
        [sys.executable, "-m", "bcl_console", "--data-dir", str(demo_dir), "--now", TEST_NOW.isoformat(),
         "serve", "--port", "0", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    lines: list[str] = []
    try:
        url = (await read_until(server, lines, r"listening on (http://\S+) with 2 workers")).group(1)
        for _ in range(2):
            await read_until(server, lines, r"worker \d/2 on http")
        shared = demo_dir / "tmp" / f"metrics-{server.pid}"
        assert shared.is_dir()
        token = await console.tokens.issue("kiosk", "metrics-test", actor=Actor("t", "cli"))
        cards = [p.read_bytes() for p in sorted((demo_dir / "cards").glob("993611-*.pem"))
                 if "revoked" not in p.name]
        # A new connection per call: the kernel hands each to either worker.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            kiosk = Kiosk(url, token, http)
            usable = []
            for card in cards:
                status, _ = await kiosk.session(card)
                if status == 201:
                    usable.append(card)
            assert len(usable) >= 8
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(FLOWS):
                queue.put_nowait(n)

            async def kiosk_loop(k: int) -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    await kiosk.flow(usable[n % len(usable)], key=f"metrics-{n}")

            await asyncio.gather(*(kiosk_loop(k) for k in range(8)))
            rows = await execute(console, "SELECT count(*) FROM issuances WHERE operator = 'metrics-test' "
                                          "AND state = 'printed'")
            assert rows == [(FLOWS,)]
            # both workers served calls: each has its own file of counters
            pids = {int(p.stem.split("_")[-1]) for p in shared.glob("counter_*.db")}
            assert len(pids) == 2, sorted(p.name for p in shared.iterdir())
            completion = "/kiosk/v1/requests/{id}/completion"
            for _ in range(6):  # whichever worker answers: the same, whole numbers
                samples = await scrape(http, url)
                assert total(samples, "bcl_issuances_total") == FLOWS
                assert total(samples, "bcl_issuances_total", municipality="993611") == FLOWS
                assert total(samples, "bcl_http_requests_total", route=completion, status="200") == FLOWS
                assert total(samples, "bcl_http_request_seconds_count", route=completion) == FLOWS
                assert total(samples, "bcl_render_queue_depth") == 0

            # a worker killed: the supervisor restarts it and marks its files; what it
            # served is still counted, its live gauge is not
            victim = min(pids)
            os.kill(victim, signal.SIGKILL)
            await read_until(server, lines, r"worker \d exited \(-9\); restarting")
            await read_until(server, lines, r"worker \d/2 on http")
            assert not (shared / f"gauge_livesum_{victim}.db").exists()
            samples = await scrape(http, url)
            assert total(samples, "bcl_issuances_total") == FLOWS
            assert total(samples, "bcl_http_requests_total", route=completion, status="200") == FLOWS
    finally:
        stop_gracefully(server)
        await console.stop()
    assert server.returncode == 0
    assert not shared.exists()  # serve removes its workers' files when it stops
