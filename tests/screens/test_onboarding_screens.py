"""The Onboarding and Test stages screens with the pilot, at 80×24."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from bcl_console.app import BclApp
from bcl_console.screens import DashboardScreen, OnboardingScreen, StagesScreen
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.screens.test_console import SIZE, fill, open_area, settle
from tests.screens.test_console import text_of as text


async def test_onboarding_timeline_tick_plan_and_override(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        assert isinstance(app.screen, DashboardScreen)
        assert "late 東浜市 住民データのBCP計画" in text(app, "#reminders")  # the demo's reminders, by name
        await pilot.press("n")
        await settle(app)
        screen = app.screen
        assert isinstance(screen, OnboardingScreen)
        table = screen.query_one("#onboarding-table", DataTable)
        assert table.row_count == 5
        table.move_cursor(row=table.get_row_index("992054"))
        await pilot.pause()
        await settle(app)
        assert "東浜市 service start 2026-09-01 (令和8年9月1日)" in text(app, "#onboarding-plan-line")
        steps = screen.query_one("#onboarding-steps", DataTable)
        assert steps.row_count == 20
        row = steps.get_row("plan-bcp")
        assert str(row[3]) == "late" and "R8" in row[2]
        assert "┃" in str(row[4]) or "█" in str(row[4])  # the bar on the month axis
        assert str(row[5]) == "住民データのBCP計画"  # the whole name, last

        steps.focus()
        steps.move_cursor(row=steps.get_row_index("plan-bcp"))
        await pilot.pause()
        await pilot.press("t")
        await fill(app, pilot, {"note": "BCP計画 第2版"})
        assert query(rt.settings.db_path, "SELECT done_by, note FROM onboarding_steps WHERE municipality_code = "
                     "'992054' AND step_key = 'plan-bcp'")[0][1] == "BCP計画 第2版"
        await settle(app)
        assert str(steps.get_row("plan-bcp")[3]) == "done"

        # a stage's step cannot be ticked by hand: the form says why and stays open
        steps.move_cursor(row=steps.get_row_index("real-store-test"))
        await pilot.pause()
        await pilot.press("t")
        await fill(app, pilot, {"note": ""})
        assert "completed by passing the real-store test stage" in text(app, "#form-error")
        await pilot.press("escape")
        await settle(app)

        await pilot.press("v")
        await fill(app, pilot, {"reason": "県の指示"})
        audit = await rt.municipalities.audit_trail("992054")
        assert audit[0].action == "go-live-override" and audit[0].new_value == "県の指示"

        table.move_cursor(row=table.get_row_index("993611"))

        await pilot.pause()
        await settle(app)
        assert "in service since 2021-10-01" in text(app, "#onboarding-plan-line")
        assert "p makes a plan" not in text(app, "#onboarding-plan-line")  # not offered, then refused
        await pilot.press("p")
        await settle(app)
        assert app.screen is screen  # no form for a plan that would be refused
        assert any("nothing to plan" in n.message for n in app._notifications)

        # the next step is named as the schedule names it, and the timeline's titles are whole
        row = table.get_row("992054")
        assert "plan-" not in str(row[-1])
        table.move_cursor(row=table.get_row_index("992054"))
        await pilot.pause()
        await settle(app)
        titles = [str(steps.get_row(k)[5]) for k in steps.rows]
        assert not any(t.endswith("…") for t in titles)
        # the steps table keeps whole values after a tick (it was rebuilt across an await)
        assert all(len(str(steps.get_row(k)[0])) == len(str(steps.get_row_index(k) + 1)) for k in steps.rows)
        assert steps.ordered_columns[0].content_width >= 2


async def test_stages_screen_runs_a_stage_and_confirms_stage_3(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "x", StagesScreen)
        assert screen.code == "992054"  # the first municipality with a plan
        assert "awaiting: operation, real-store" in text(app, "#stages-title")
        table = screen.query_one("#stages-table", DataTable)
        table.move_cursor(row=table.get_row_index("operation"))
        await pilot.pause()
        await settle(app)
        assert "procedure checklist is not confirmed" in text(app, "#stages-log")

        table.move_cursor(row=table.get_row_index("stage3"))

        await pilot.pause()
        await pilot.press("r")  # run stage 3 again: it waits for the confirmation
        await settle(app)
        assert "awaiting-confirmation" in str(table.get_row("stage3")[3])
        assert "test-stage-3" in text(app, "#stages-log")  # the evidence
        await pilot.press("c")
        await fill(app, pilot, {"note": "確認しました"})
        await settle(app)
        assert "passed" in str(table.get_row("stage3")[3])

        table.move_cursor(row=table.get_row_index("real-store"))

        await pilot.pause()
        await pilot.press("r")
        await fill(app, pilot, {"operator": ""})
        await settle(app)
        runs = query(rt.settings.db_path, "SELECT stage, outcome FROM stage_runs ORDER BY id")
        assert runs[-1] == ("stage3", "passed")  # real-store refused: operation has not passed

        # The form's "empty: the first registered" is the first registered, not the last
        # (the simulator registers itself last; a billed test was booked to it).
        await rt.tokens.issue("kiosk", "simulator", actor=Actor("op", "cli"))
        operators = await rt.teststages.operators()
        assert operators[-1] == "simulator" and operators[0] != "simulator"
        await pilot.press("r")
        await settle(app)
        assert app.screen.query_one("#field-operator", Input).value == operators[0]
        await fill(app, pilot, {"operator": "nobody"})
        assert "'nobody' is not a registered kiosk operator" in text(app, "#form-error")
        await pilot.press("escape")
        await settle(app)
        assert query(rt.settings.db_path, "SELECT stage, outcome FROM stage_runs ORDER BY id") == runs

        await pilot.press("right_square_bracket")
        await settle(app)
        assert screen.code == "993832"
        assert "awaiting: linkage, stage2" in text(app, "#stages-title")
