"""What one process's /metrics counts besides HTTP (linkage batches, scheduler jobs), and
that two runtimes in one process keep their own counts (a registry per runtime)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bcl_console.config import load_settings
from bcl_console.http.app import start_http
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str | bytes) -> Samples:
    text = text.decode() if isinstance(text, bytes) else text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_batches_and_jobs_are_counted_by_outcome(demo_runtime: Runtime, tmp_path: Path,
                                                       clock: FixedClock) -> None:
    rt = demo_runtime
    assert (await rt.linkage.link(FIX / "valid-full")).outcome == "applied"
    assert (await rt.linkage.link(FIX / "valid-full")).outcome == "already-applied"
    assert (await rt.linkage.link(tmp_path / "no-such-batch")).outcome == "rejected"
    assert (await rt.scheduler.run_now("nightly-backup-check"))[0] == "ok"
    server = await start_http(rt, "127.0.0.1", 0)
    async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        samples = parse(await r.text())
    assert samples[("bcl_linkage_batches_total", (("outcome", "applied"),))] == 1
    assert samples[("bcl_linkage_batches_total", (("outcome", "already-applied"),))] == 1
    assert samples[("bcl_linkage_batches_total", (("outcome", "rejected"),))] == 1
    assert samples[("bcl_scheduler_jobs_total", (("job", "nightly-backup-check"), ("outcome", "ok")))] == 1
    assert samples[("bcl_render_queue_depth", ())] == 0
    assert not any(name.endswith("_created") for name, _ in samples)

    # another runtime in this process starts from nothing and counts on its own
    other = Runtime(load_settings(str(tmp_path / "other")), clock=clock)
    await other.start()
    try:
        assert (await other.linkage.link(tmp_path / "nothing")).outcome == "rejected"
        mine = parse(other.metrics.render())
        assert mine[("bcl_linkage_batches_total", (("outcome", "rejected"),))] == 1
        assert ("bcl_linkage_batches_total", (("outcome", "applied"),)) not in mine
    finally:
        await other.stop()
    assert parse(rt.metrics.render())[("bcl_linkage_batches_total", (("outcome", "rejected"),))] == 1
