"""The Linkage screen with the pilot: ingest from a path, problems, backups, restore."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from bcl_console.app import BclApp
from bcl_console.screens import LinkageScreen
from bcl_console.services.platform.runtime import Runtime
from tests.screens.test_console import SIZE, fill, open_area, settle

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"


async def test_ingest_problems_backups_and_restore(demo_runtime: Runtime) -> None:
    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "l", LinkageScreen)
        table = screen.query_one("#linkage-table", DataTable)
        assert table.row_count == 4  # the demo's batches (東浜市's second came from its linkage agent)

        await pilot.press("a")
        await fill(app, pilot, {"path": str(FIX / "invalid" / "bad-dates")})
        await settle(app)
        assert table.row_count == 5
        table.move_cursor(row=0)
        screen.show_detail()
        detail = str(screen.query_one("#linkage-detail", Static).render())
        assert "rejected" in detail and "residents.csv:2 [birth_date]" in detail
        assert "'H31.5.1' is outside the 平成 era" in detail

        await pilot.press("a")
        await fill(app, pilot, {"path": "/no/such/batch"})
        assert "does not exist" in str(app.screen.query_one("#form-error", Static).render())
        await pilot.press("escape")

        await pilot.press("a")
        await fill(app, pilot, {"path": str(FIX / "valid-full")})
        await settle(app)
        held = await demo_runtime.municipalities.held_counts()
        assert held["993611"].residents == 10

        await pilot.press("b")
        await settle(app)
        assert screen.showing_backups and table.row_count == 2  # 東浜市's and the one just linked
        table.move_cursor(row=[b.municipality_code for b in screen._backups].index("993611"))
        assert table.cursor_row > 0
        screen.reload_now()  # any event reloads the screen: the operator's selection stays
        await settle(app)
        assert screen._backups[table.cursor_row].municipality_code == "993611"
        # restore asks for the code as a confirmation; a wrong one changes nothing
        await demo_runtime.db.write(lambda c: c.execute("DELETE FROM taxes WHERE municipality_code='993611'"))
        await pilot.press("R")
        await fill(app, pilot, {"confirm": "000000"})
        assert "type the municipality code 993611" in str(app.screen.query_one("#form-error", Static).render())
        await fill(app, pilot, {"confirm": "993611"})
        await settle(app)
        assert (await demo_runtime.municipalities.held_counts())["993611"].taxes == 6
