"""The Issuance Monitor as an operator reads it (#18 items 7-9): whole values in every
column at 80 columns and after a resize, every refusal reason of the day, today's counts
of store issuance only, and a chart that takes the width the feed leaves."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from textual.widgets import DataTable

from bcl_console.app import BclApp
from bcl_console.http.app import start_http
from bcl_console.screens import MonitorScreen
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.screens.rendered import lines_of
from tests.screens.test_console import SIZE, open_area, settle
from tests.services.relay_client import Kiosk

OP = Actor("op", "cli")
TOWN, VILLAGE, CITY = "993611", "994821", "992054"
SHORT = {"residence": "住民票", "seal": "印鑑", "tax": "税", "disaster": "罹災"}


def resident(rt: Runtime, code: str, where: str = "status='active' AND restricted=0") -> str:
    sql = f"SELECT resident_code FROM residents WHERE municipality_code=? AND {where} LIMIT 1"  # noqa: S608
    return str(query(rt.settings.db_path, sql, code)[0][0])


async def card(rt: Runtime, code: str, where: str = "status='active' AND restricted=0") -> bytes:
    return (await rt.pki.issue_card(code, resident(rt, code, where), actor=OP)).pem


@pytest.fixture
async def kiosk(demo_runtime: Runtime) -> AsyncIterator[Kiosk]:
    """A kiosk of the demo's operator with the longest name, over the real HTTP API."""
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.tokens.issue("kiosk", "ファミリーストア", actor=OP)
    async with aiohttp.ClientSession() as http:
        yield Kiosk(server.url, token, http)


async def slow_issuance(kiosk: Kiosk, rt: Runtime, clock: FixedClock) -> None:
    """One printed residence certificate at 北山町 that took 115 ms from request to issue
    (the relay measures on the centre's clock): a three-digit latency."""
    status, s = await kiosk.session(await card(rt, TOWN))
    assert status == 201, s
    status, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                   {"Idempotency-Key": "slow"})
    assert status == 201, req
    clock.advance(timedelta(milliseconds=115))
    status, _ = await kiosk.call("POST", f"/requests/{req['request_id']}/payment", {"amount": req["fee_total"]})
    assert status == 200
    status, _ = await kiosk.call("POST", f"/requests/{req['request_id']}/completion", {"result": "printed"})
    assert status == 200


async def assert_feed_shows_whole_values(app: BclApp, rt: Runtime) -> None:
    """Every feed row on screen reads as its whole values: time, municipality, type, the
    operator's whole name, state and latency, none cut by a column or hidden under the
    scrollbar."""
    screen = app.screen
    assert isinstance(screen, MonitorScreen)
    feed = screen.query_one("#monitor-feed", DataTable)
    names = {v.code: v.municipality.name for v in await rt.municipalities.all()}
    snap = await rt.monitor.snapshot(feed.row_count)
    lines = lines_of(app, feed, right=feed.scrollbar_size_vertical)
    assert lines[0].split() == ["time", "団体", "type", "operator", "state", "ms"], lines[0]
    first = int(feed.scroll_offset.y)
    shown = lines[1:1 + min(feed.row_count - first, len(lines) - 1)]
    assert len(shown) >= 10
    for line, row in zip(shown, snap.feed[first:], strict=False):
        words = line.split()
        assert re.fullmatch(r"\d\d:\d\d:\d\d|\d\d-\d\d", words[0]), line
        expected = [names[row.municipality_code], SHORT[row.type], row.operator or row.channel,
                    row.state.replace("awaiting_payment", "awaiting")]
        if row.latency_ms is not None:
            expected.append(str(row.latency_ms))
        assert words[1:] == expected, line


async def test_feed_shows_whole_values_at_80_columns_and_after_a_resize(
        demo_runtime: Runtime, clock: FixedClock, kiosk: Kiosk) -> None:
    rt = demo_runtime
    await slow_issuance(kiosk, rt, clock)
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        await open_area(app, pilot, "i", MonitorScreen)
        await pilot.pause()
        feed = app.screen.query_one("#monitor-feed", DataTable)
        ops = [str(feed.get_row_at(i)[3]).strip() for i in range(feed.row_count)]
        assert "ファミリーストア" in ops and "擬似評価環境" in ops  # whole names (were cut to 7 characters)
        assert int(str(feed.get_row_at(0)[5])) >= 115
        await assert_feed_shows_whole_values(app, rt)
        await pilot.resize_terminal(160, 45)
        await settle(app)
        await pilot.pause()
        await assert_feed_shows_whole_values(app, rt)
        await pilot.resize_terminal(*SIZE)
        await settle(app)
        await pilot.pause()
        await assert_feed_shows_whole_values(app, rt)


async def test_the_chart_takes_the_width_the_feed_leaves(demo_runtime: Runtime) -> None:
    """At 160×45 the feed is as wide as its columns and the chart has the rest (it kept 24
    columns beside ~90 blank ones); at 80×24 both still fit side by side."""
    app = BclApp(demo_runtime)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_area(app, pilot, "i", MonitorScreen)
        await pilot.pause()
        feed = screen.query_one("#monitor-feed", DataTable)
        chart = screen.query_one("#monitor-chart")
        columns = sum(c.get_render_width(feed) for c in feed.ordered_columns)
        assert feed.region.width == columns + feed.scrollbar_size_vertical  # no blank columns in the feed
        assert feed.region.width + chart.region.width == 160 and chart.region.width >= 100
        await pilot.resize_terminal(*SIZE)
        await settle(app)
        await pilot.pause()
        assert feed.region.width + chart.region.width == 80 and chart.region.width >= 22


async def test_every_refusal_reason_of_today_shows_with_its_count(demo_runtime: Runtime, kiosk: Kiosk) -> None:
    """Four reasons refused twice each, then 桜川村 suspended and refused once: "suspended"
    is the sixth reason of the day (the demo's drill is another), and it shows, with every
    other reason and its count, on screen at 80 columns."""
    rt = demo_runtime
    cards = [await card(rt, CITY), await card(rt, TOWN, "status='moved-out'"),
             await card(rt, TOWN, "status='active' AND restricted=1"),
             (await rt.pki.issue_card(TOWN, "12345678901", actor=OP)).pem]
    for pem in cards * 2:
        status, _ = await kiosk.session(pem)
        assert status in (403, 404, 503)
    await rt.municipalities.suspend(VILLAGE, "点検", actor=OP)
    status, err = await kiosk.session(await card(rt, VILLAGE))
    assert status == 503 and err["error"]["code"] == "suspended"
    refusals = (await rt.monitor.snapshot()).refusals
    assert dict(refusals) == {"not_live": 2, "not_a_resident": 2, "restricted": 2, "unknown_resident": 2,
                              "failure_drill": 1, "suspended": 1}
    assert [r for r, _ in refusals].index("suspended") >= 4  # beyond the four the line used to show
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "i", MonitorScreen)
        await pilot.pause()
        text = "\n".join(lines_of(app, screen.query_one("#monitor-summary")))
        for reason, n in refusals:
            assert re.search(rf"\b{reason} {n}\b", text), (reason, text)
        assert "suspended 1" in text


async def test_today_counts_store_issuances_and_shows_test_stages_apart(
        demo_runtime: Runtime, clock: FixedClock, kiosk: Kiosk) -> None:
    """The demo's test stages issued six certificates for 東浜市 today (not live), and the
    centre's re-test of the 住民票's layout version 2 two each for 北山町 and 桜川村: they
    are not counted as store issuance, and are shown apart, by channel; a store issuance
    at 北山町 is counted."""
    rt = demo_runtime
    before = await rt.monitor.snapshot()
    assert before.today_total == 0 and CITY not in before.by_municipality
    assert before.other_channels == {"test-stage-2": {CITY: 3, TOWN: 2, VILLAGE: 2}, "test-stage-3": {CITY: 3}}
    await slow_issuance(kiosk, rt, clock)
    snap = await rt.monitor.snapshot()
    assert snap.today_total == 1 and snap.by_municipality == {TOWN: 1} and snap.by_type == {"residence": 1}
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "i", MonitorScreen)
        await pilot.pause()
        text = " ".join(lines_of(app, screen.query_one("#monitor-summary")))
        assert "Today 1 issued at stores" in text and "住民票 1" in text
        by_municipality = text.split("by municipality:")[1].split("not at stores")[0]
        assert "北山町 1" in by_municipality and "東浜市" not in by_municipality
        assert "test-stage-2 東浜市 3" in text and "test-stage-3 東浜市 3" in text
