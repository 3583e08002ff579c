"""The Layouts area (L) at 80x24, driven with the pilot: the demo's staged 住民票 version 2
and its re-tests with their evidence; r re-tests it, a activates it (refused with the
reason while a re-test failed), s stages; every key in the footer."""

from __future__ import annotations

from textual.widgets import DataTable

from bcl_console.app import BclApp
from bcl_console.screens.layouts import LayoutsScreen
from bcl_console.services.platform.runtime import Runtime
from tests.screens.rendered import lines_of
from tests.screens.test_console import SIZE, settle, text_of

VILLAGE = "994821"


async def test_layouts_retest_and_activate_at_80x24(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        await pilot.press("L")
        await settle(app)
        screen = app.screen
        assert isinstance(screen, LayoutsScreen)
        footer = "".join(lines_of(app, screen.query_one("Footer")))
        for key, label in (("s", "Stage"), ("r", "Re-test"), ("a", "Activate")):
            assert f"{key} {label}" in footer, footer
        assert "Staged: residence v2 (ready to activate)" in text_of(app, "#layouts-title")
        table = screen.query_one("#layouts-table", DataTable)
        assert table.row_count == 6
        shown = "\n".join(lines_of(app, screen))
        assert "住民票  2   staged     ✔2 ✘0 ·0" in shown, shown

        await pilot.press("down")  # residence v2: its re-tests, evidence per municipality
        await settle(app)
        detail = text_of(app, "#layouts-detail")
        assert "旧氏・ローマ字併記" in detail and "passed 993611" in detail and f"passed {VILLAGE}" in detail
        assert " v2" in detail

        # the village's relay is closed by a drill: its re-test fails, activation is refused
        await rt.store.teststages.start_drill(VILLAGE, "2026-06-17T01:00:00+00:00")
        await pilot.press("r")
        await settle(app)
        assert f"failed {VILLAGE}" in text_of(app, "#layouts-detail")
        await pilot.press("a")
        await settle(app)
        assert await rt.store.layouts.active_version("residence") == 1
        assert any(f"the re-test failed for {VILLAGE}" in str(n.message) for n in app._notifications)

        await rt.store.teststages.end_drill(VILLAGE)
        await pilot.press("r")
        await settle(app)
        await pilot.press("a")
        await settle(app)
        assert await rt.store.layouts.active_version("residence") == 2
        shown = "\n".join(lines_of(app, screen))
        assert "住民票  2   active" in shown and "住民票  1   retired" in shown, shown
        assert "Staged: none" in text_of(app, "#layouts-title")
