"""The Issuance Monitor with the pilot: live feed from simulated traffic, suspend/resume."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Static

from bcl_console.app import BclApp
from bcl_console.http.app import start_http
from bcl_console.screens import MonitorScreen
from bcl_console.services.platform.runtime import Runtime
from tests.screens.test_console import SIZE, fill, open_area, settle


async def test_traffic_feed_and_controls(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    await start_http(rt, "127.0.0.1", 0)
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "i", MonitorScreen)
        # The feed is newest first, as the service gives it: today's rows by time of day, the
        # history below them by date (a bare 21:33 of last week would sort above today's 10:00).
        feed = screen.query_one("#monitor-feed", DataTable)
        snap = await rt.monitor.snapshot(feed.row_count)
        assert [r.key.value for r in feed.ordered_rows] == [row.request_id for row in snap.feed]
        shown = [str(feed.get_row_at(i)[0]) for i in range(feed.row_count)]
        assert shown[0] == "10:00:00" and shown[-1] == "05-10", shown  # TEST_NOW is 06-17 10:00 JST
        # The demo already holds today's test-stage issuances of 東浜市: wait for the traffic's own.
        live = {v.code for v in await rt.municipalities.all() if v.municipality.name in ("北山町", "桜川村")}
        assert len(live) == 2
        before = (await rt.monitor.snapshot()).today_total
        await pilot.press("t")
        for _ in range(300):  # traffic runs in a worker: wait for its issuances, at most 30 s
            await asyncio.sleep(0.1)
            snap = await rt.monitor.snapshot()
            if snap.today_total >= before + 3 and live & set(snap.by_municipality):
                break
        await pilot.press("t")  # stop the traffic
        for _ in range(100):
            await asyncio.sleep(0.05)
            if screen._simulator is None:
                break
        screen.reload_now()
        await settle(app)
        assert feed.row_count >= 5
        summary = str(screen.query_one("#monitor-summary", Static).render())
        assert "issued" in summary and ("北山町" in summary or "桜川村" in summary)
        assert (await rt.monitor.snapshot()).today_total >= before + 3
        snap = await rt.monitor.snapshot(feed.row_count)
        assert [r.key.value for r in feed.ordered_rows] == [row.request_id for row in snap.feed]
        # rows name municipalities and types, never a person
        first = [str(c) for c in feed.get_row_at(0)]
        assert first[1] in ("北山町", "桜川村") and first[2] in ("住民票", "印鑑", "税")
        # suspend the selected row's municipality, one key away
        feed.move_cursor(row=0)
        code = next(c for c, n in screen._names.items() if n == first[1])
        await pilot.press("s")
        await fill(app, pilot, {"reason": "点検"})
        assert (await rt.municipalities.get(code)).municipality.suspended
        await pilot.press("r")
        await settle(app)
        assert not (await rt.municipalities.get(code)).municipality.suspended
