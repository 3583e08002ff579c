"""The Disaster support screen with the pilot: views, a check-in, an assessment, decisions."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from bcl_console.app import BclApp
from bcl_console.screens import DisasterScreen
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.screens.test_console import SIZE, fill, open_area, settle
from tests.screens.test_console import text_of as text


async def test_disaster_views_and_actions(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "z", DisasterScreen)
        assert "令和8年" in text(app, "#disaster-title") or "東雲県豪雨" in text(app, "#disaster-title")
        assert "北山小学校 体育館 23/80" in text(app, "#disaster-detail")
        assert "Applications waiting 5" in text(app, "#disaster-detail")
        table = screen.query_one("#disaster-table", DataTable)

        await pilot.press("3")
        await settle(app)
        assert table.row_count == 2
        table.move_cursor(row=1)
        await pilot.pause()
        resident = query(rt.settings.db_path, "SELECT resident_code FROM residents WHERE municipality_code = "
                         "'993611' AND status = 'active' AND resident_code NOT IN (SELECT resident_code FROM "
                         "shelter_stays) ORDER BY resident_code LIMIT 1")[0][0]
        await pilot.press("k")
        await fill(app, pilot, {"resident": resident})
        await settle(app)
        assert "23/40" in str(table.get_row("centres:2")[2])
        assert "06-17 10:00 (hand)" in text(app, "#disaster-detail")  # checked in now, in Japan time
        await pilot.press("k")
        await fill(app, pilot, {"resident": resident})
        assert "already checked in at 北山町 公民館" in text(app, "#form-error")
        await pilot.press("escape")
        await settle(app)
        # by name instead of the 11-digit code: several 太田 → the candidates are listed;
        # the whole name (with its reading's spaces ignored) names one person
        await pilot.press("k")
        await settle(app)
        assert "Check in at 北山町 公民館" in str(app.screen.query_one(".title", Static).render())
        await fill(app, pilot, {"resident": "太田"})
        assert "residents match" in text(app, "#form-error") and "太田" in text(app, "#form-error")
        (code, name), = query(rt.settings.db_path, "SELECT resident_code, name_kana FROM residents WHERE "
                              "municipality_code = '993611' AND status = 'active' AND resident_code NOT IN "
                              "(SELECT resident_code FROM shelter_stays) AND name_kana NOT IN (SELECT name_kana "
                              "FROM residents GROUP BY name_kana HAVING count(*) > 1) ORDER BY resident_code "
                              "LIMIT 1")
        await fill(app, pilot, {"resident": name.replace(" ", "")})
        await settle(app)
        assert query(rt.settings.db_path, "SELECT shelter_id FROM shelter_stays WHERE resident_code = ? AND "
                     "checked_out_at IS NULL", code) == [(2,)]

        await pilot.press("2")
        await settle(app)
        people = table.row_count
        await pilot.press("f")
        await fill(app, pilot, {"min_class": "大規模半壊", "needs_help": "n", "whereabouts": ""})
        await settle(app)
        assert 0 < table.row_count < people
        await pilot.press("w")
        await settle(app)
        out = rt.settings.data_dir / "exports" / "ledger-1.csv"
        assert len(out.read_text(encoding="utf-8-sig").splitlines()) == table.row_count + 1

        household = query(rt.settings.db_path, "SELECT household_number FROM damage_assessments WHERE "
                          "damage_class = '準半壊' ORDER BY household_number LIMIT 1")[0][0]
        await pilot.press("A")
        await fill(app, pilot, {"household": household, "ratio": "150", "class": "", "inspector": "調査員"})
        assert "outside 0–100" in text(app, "#form-error")
        error = app.screen.query_one("#form-error")
        assert error.region.height >= 1 and app.screen.region.contains_region(error.region)  # seen at 80×24
        await fill(app, pilot, {"household": household, "ratio": "52", "class": "", "inspector": "調査員"})
        assert query(rt.settings.db_path, "SELECT damage_class, revision FROM damage_assessments WHERE "
                     "household_number = ? AND current = 1", household) == [("全壊", 2)]

        await pilot.press("6")
        await settle(app)
        assert table.row_count == 5
        await pilot.press("r")
        await settle(app)
        assert "Reject online application" in text(app, "#confirm-title")
        await pilot.press("y")
        await settle(app)
        assert query(rt.settings.db_path, "SELECT count(*) FROM online_applications WHERE state = 'rejected'") == [(1,)]

        await pilot.press("5")
        await settle(app)
        applied = next(k.value for k in table.rows if str(table.get_row(k)[6]) == "applied")
        table.move_cursor(row=table.get_row_index(applied))
        await pilot.pause()
        support_id = int(applied.split(":")[1])
        await pilot.press("a")
        await settle(app)
        assert f"Approve support application #{support_id}?" in text(app, "#confirm-title")
        await pilot.press("y")
        await settle(app)
        await pilot.press("y")
        await settle(app)
        assert f"Pay support application #{support_id}?" in text(app, "#confirm-title")
        total = next(r.total for r in await rt.ledger.payments.support_list(1) if r.id == support_id)
        assert f"Pay {total:,}円" in text(app, "#confirm-what")
        # money is typed: the key that opened the dialog (a double tap, auto-repeat) and a
        # bare Enter pay nothing
        await pilot.press("y", "y", "enter")
        await settle(app)
        assert query(rt.settings.db_path, "SELECT state FROM support_applications WHERE id = ?",
                     support_id) == [("approved",)]
        await pilot.press("escape")  # a second thought: nothing is paid
        await settle(app)
        assert query(rt.settings.db_path, "SELECT state FROM support_applications WHERE id = ?",
                     support_id) == [("approved",)]
        await pilot.press("y")
        await settle(app)
        await pilot.press("p", "a", "y", "enter")
        await settle(app)
        assert query(rt.settings.db_path, "SELECT state FROM support_applications WHERE id = ?",
                     support_id) == [("paid",)]


async def test_an_action_acts_on_the_row_selected_in_the_view_shown(demo_runtime: Runtime) -> None:
    """Support application #3 and online application #3 share a number: pressing 6 after
    selecting the first must not approve the second (the operator never selected it)."""
    rt = demo_runtime
    paid_before = query(rt.settings.db_path, "SELECT count(*) FROM support_applications WHERE state = 'paid'")
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "z", DisasterScreen)
        table = screen.query_one("#disaster-table", DataTable)
        await pilot.press("5")
        await settle(app)
        table.move_cursor(row=table.get_row_index("support:3"))
        await pilot.pause()
        await pilot.press("6")
        await settle(app)
        assert table.has_focus  # arrows work at once after a number key
        first = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert first == f"applications:{table.ordered_rows[0].key.value.split(':')[1]}"  # the top row, not #3
        await pilot.press("down")
        await pilot.pause()
        assert table.cursor_coordinate.row == 1
        shown = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value.split(":")[1]
        before = query(rt.settings.db_path, "SELECT id, state FROM online_applications ORDER BY id")
        await pilot.press("a")
        await settle(app)
        assert f"Approve online application #{shown}?" in text(app, "#confirm-title")
        await pilot.press("escape")
        await settle(app)
        assert query(rt.settings.db_path, "SELECT id, state FROM online_applications ORDER BY id") == before
        await pilot.press("5")
        await settle(app)
        await pilot.press("y")  # pay needs a confirmation too; and Esc changes nothing
        await settle(app)
        assert "Pay support application" in text(app, "#confirm-title")
        await pilot.press("escape")
        await settle(app)
    assert query(rt.settings.db_path, "SELECT count(*) FROM support_applications WHERE state = 'paid'") == \
        paid_before  # Esc on the pay confirmation paid nothing
