"""The Disaster screen's reports of harm (view 7) at 80×24, keyboard only: the list, the
footer's keys, a report recorded, a second one refused in the form, an amendment."""

from __future__ import annotations

from textual.widgets import DataTable, Footer

from bcl_console.app import BclApp
from bcl_console.screens import DisasterScreen
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.screens.rendered import lines_of
from tests.screens.test_console import SIZE, fill, open_area, settle
from tests.screens.test_console import text_of as text


async def test_reports_of_harm_on_the_disaster_screen(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    db = rt.settings.db_path
    resident, name = query(db, "SELECT resident_code, name FROM residents WHERE municipality_code = '993611' AND "
                           "status = 'active' AND resident_code NOT IN (SELECT resident_code FROM victim_reports) "
                           "ORDER BY resident_code LIMIT 1")[0]
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "z", DisasterScreen)
        table = screen.query_one("#disaster-table", DataTable)
        await pilot.press("7")
        await settle(app)
        assert "7:reports" in text(app, "#disaster-title")
        assert table.row_count == 5 and "5 reports of harm" in text(app, "#disaster-detail")
        footer = "".join(lines_of(app, app.screen.query_one(Footer)))
        assert "v Report harm" in footer and "V Amend report" in footer  # at 80 columns, on this view

        await pilot.press("v")
        await fill(app, pilot, {"resident": resident, "harm": "", "date": ""})
        assert "harm is empty" in text(app, "#form-error")
        await fill(app, pilot, {"resident": resident, "harm": "車庫と自家用車が浸水した", "date": "2026-06-01"})
        await settle(app)
        assert query(db, "SELECT harm, reported_on, revision FROM victim_reports WHERE resident_code = ?",
                     resident) == [("車庫と自家用車が浸水した", "2026-06-01", 1)]
        assert table.row_count == 6
        # the same person again: refused in the form, nothing changed
        await pilot.press("v")
        await fill(app, pilot, {"resident": resident, "harm": "別の被害", "date": ""})
        assert "already reported harm" in text(app, "#form-error")
        await pilot.press("escape")
        await settle(app)

        # select the person's row and amend the report (V)
        table.move_cursor(row=table.get_row_index(f"reports:993611/{resident}"))
        await pilot.pause()
        await settle(app)
        assert name in text(app, "#disaster-detail") and "車庫と自家用車が浸水した" in text(app, "#disaster-detail")
        await pilot.press("V")
        await fill(app, pilot, {"harm": "車庫と自家用車が浸水した。家財も損傷", "date": ""})
        await settle(app)
        assert query(db, "SELECT harm, reported_on, revision FROM victim_reports WHERE resident_code = ?",
                     resident) == [("車庫と自家用車が浸水した。家財も損傷", "2026-06-17", 2)]
        assert "amended (rev. 2)" in text(app, "#disaster-detail")

        # on another view the footer is as before and V does nothing
        await pilot.press("2")
        await settle(app)
        assert "V Amend" not in "".join(lines_of(app, app.screen.query_one(Footer)))
