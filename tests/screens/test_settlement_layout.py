"""The Settlement screen as an operator reads it (#18 item 16): it opens on the clock's
fiscal year, the month axis is labelled at a regular step, the job prompt lists every
scheduled job, money reads 1,000,000円 and times are Japan's."""

from __future__ import annotations

import re

from textual.widgets import DataTable

from bcl_console.app import BclApp
from bcl_console.screens import SettlementScreen
from bcl_console.screens.widgets import FormDialog
from bcl_console.services.platform.runtime import Runtime
from bcl_console.services.platform.scheduler import JOBS
from tests.screens.rendered import lines_of
from tests.screens.test_console import SIZE, open_area, settle, text_of

MONTHS = ["04", "05", "06", "07", "08", "09", "10", "11", "12", "01", "02", "03"]


def month_axis(app: BclApp) -> list[str]:
    """The labels under the by-month chart, as on screen."""
    chart = app.screen.query_one("#settle-chart")
    labels = lines_of(app, chart)[-1].split()
    assert labels and all(re.fullmatch(r"\d\d", label) for label in labels), labels
    return labels


async def test_opens_on_the_clock_s_fiscal_year_with_a_regular_month_axis(demo_runtime: Runtime) -> None:
    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "e", SettlementScreen)
        assert screen.fiscal_year == demo_runtime.settlement.current_fiscal_year() == 2026  # --now 2026-06-17
        assert "FY2026" in text_of(app, "#settle-title")
        await pilot.press("left_square_bracket")  # FY2025: a whole year of the town's issuances
        await settle(app)
        table = screen.query_one("#settle-table", DataTable)
        table.move_cursor(row=table.get_row_index("993611"))
        await settle(app)
        await pilot.pause()
        labels = month_axis(app)
        step = MONTHS.index(labels[1])  # every month, or every second, third … one: never 04 07 09 11 12 03
        assert labels == MONTHS[::step], labels
        await pilot.resize_terminal(160, 45)
        await settle(app)
        await pilot.pause()
        assert month_axis(app) == MONTHS  # room for every month
        await pilot.resize_terminal(*SIZE)
        await settle(app)
        await pilot.pause()
        assert month_axis(app) == labels


async def test_the_job_prompt_lists_every_job_and_money_is_in_yen(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    await rt.scheduler.start()
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "e", SettlementScreen)
        table = screen.query_one("#settle-table", DataTable)
        doc = await rt.settlement.settle(2026)
        total = [str(cell) for cell in table.get_row("__total__")]
        assert total[3:8] == [f"{doc['totals'][k]:,}円" for k in
                              ("usage_fee", "commission", "fees_collected", "net_to_municipality", "contribution")]
        jobs = text_of(app, "#settle-jobs")
        for spec in JOBS:  # Japan time, in the console's one form
            assert re.search(rf"{spec.name} next \d{{4}}-\d\d-\d\d \d\d:\d\d JST", jobs), (spec.name, jobs)
        await pilot.press("j")
        await settle(app)
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        prompt = "\n".join(lines_of(app, dialog.query_one("Vertical")))  # the dialog's box, not what is behind
        assert {spec.name for spec in JOBS} == {"year-end-settlement", "nightly-backup-check", "documents-sweep",
                                              "onboarding-reminders"}
        for spec in JOBS:
            assert spec.name in prompt, (spec.name, prompt)
        await pilot.press("escape")
        await settle(app)
