"""The Settlement screen with the pilot: a year's table, operators, closing, statements, jobs."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from bcl_console.app import BclApp
from bcl_console.screens import SettlementScreen
from bcl_console.services.platform.runtime import Runtime
from tests.screens.test_console import SIZE, fill, open_area, settle


async def test_year_operators_close_and_jobs(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    await rt.scheduler.start()
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "e", SettlementScreen)
        assert screen.fiscal_year == 2026  # the clock's fiscal year (#18 item 16)
        await pilot.press("left_square_bracket")  # the last fiscal year that ended
        await settle(app)
        assert screen.fiscal_year == 2025
        table = screen.query_one("#settle-table", DataTable)
        assert "993611" in [k.value for k in table.rows] and "__total__" in [k.value for k in table.rows]
        doc = await rt.settlement.settle(2025)
        assert str(table.get_row("__total__")[2]) == f"{doc['totals']['billable']:,}"
        assert "open" in str(screen.query_one("#settle-title", Static).render())
        # every issuance reloads the screen: the municipality the operator drilled into stays selected
        table.move_cursor(row=table.get_row_index("994821"))
        assert table.get_row_index("994821") > 0
        screen.reload_now()
        await settle(app)
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "994821"
        await pilot.press("o")
        await settle(app)
        assert table.row_count == len(doc["operators"]) == 3
        await pilot.press("o")
        await settle(app)
        await pilot.press("right_square_bracket")  # FY2026 has begun
        await settle(app)
        assert screen.fiscal_year == 2026
        await pilot.press("right_square_bracket")  # FY2027 has not
        await settle(app)
        assert screen.fiscal_year == 2026
        await pilot.press("c")  # closing a year that has not ended is refused in the form
        await fill(app, pilot, {"confirm": "2026"})
        assert "cannot be closed before" in str(app.screen.query_one("#form-error", Static).render())
        await pilot.press("escape")
        await pilot.press("left_square_bracket")
        await settle(app)
        await pilot.press("c")
        await fill(app, pilot, {"confirm": "1999"})
        assert "type 2025" in str(app.screen.query_one("#form-error", Static).render())
        await fill(app, pilot, {"confirm": "2025"})
        await settle(app)
        assert 2025 in await rt.settlement.closed_years()
        assert (rt.settings.data_dir / "statements" / "2025" / "summary-2025.csv").exists()
        assert "closed" in str(screen.query_one("#settle-title", Static).render())
        await pilot.press("j")
        await fill(app, pilot, {"job": "nightly-backup-check"})
        await settle(app)
        last = (await rt.scheduler.history())[0]
        assert (last.job, last.outcome) == ("nightly-backup-check", "ok")
        assert "nightly-backup-check" in str(screen.query_one("#settle-jobs", Static).render())
