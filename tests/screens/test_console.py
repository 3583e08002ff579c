"""The console driven with Textual's pilot at 80x24, on the demo data."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import WorkerCancelled

from bcl_console.app import BclApp
from bcl_console.config import load_settings
from bcl_console.demo.make import demo_service
from bcl_console.screens import DashboardScreen, MunicipalitiesScreen
from bcl_console.screens.widgets import FormDialog
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW

SIZE = (80, 24)


S = TypeVar("S", bound=Screen[None])


async def settle(app: BclApp) -> None:
    """Wait for the app's workers, twice (a finished reload may start another). A reload
    cancelled because a newer one replaced it (exclusive) is not an error: the newer one is
    waited for too. A worker that failed still raises."""
    for _ in range(2):
        for worker in list(app.workers):
            try:
                await worker.wait()
            except WorkerCancelled:
                pass


async def open_area(app: BclApp, pilot: Pilot[int], key: str, screen_type: type[S]) -> S:
    """Let the app settle, press an area's key, and return that area's screen once it has loaded."""
    await settle(app)
    await pilot.press(key)
    await settle(app)
    screen = app.screen
    assert isinstance(screen, screen_type)
    return screen


def text_of(app: BclApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_empty_data_directory_gets_the_demo_and_the_dashboard_shows_it(tmp_path: Path) -> None:
    rt = Runtime(load_settings(str(tmp_path / "d")), clock=FixedClock(TEST_NOW))
    await rt.start()
    try:
        app = BclApp(rt)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app)
            assert not await demo_service(rt).is_empty()
            await pilot.pause()
            app.screen.reload_now()  # type: ignore[attr-defined]
            await settle(app)
            assert isinstance(app.screen, DashboardScreen)
            status = text_of(app, "#status-line")
            assert "5 municipalities" in status and "residents held" in status
            table = app.screen.query_one("#dashboard-table", DataTable)
            assert table.row_count == 5
            assert "町村" in text_of(app, "#by-class")
            # The demo's count is of the records it generated, the dashboard's of the active
            # among them (#18 item 14): both are named, and they agree.
            ov = await rt.overview.snapshot()
            said = [n.message for n in app._notifications if n.message.startswith("Demo data ready")]
            assert len(said) == 1 and (f"{ov.records_held:,} resident records generated: "
                                       f"{ov.residents_held:,} active (the dashboard's residents held)") in said[0]
            assert f"{ov.residents_held:,} residents held (active)" in status
    finally:
        await rt.stop()


async def test_dashboard_figures_and_navigation(demo_runtime: Runtime) -> None:
    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        status = text_of(app, "#status-line")
        held = await demo_runtime.overview.snapshot()
        assert f"{held.residents_held:,} residents held" in status
        assert "3 open now" in status  # three live at 10:00 on a weekday in June
        table = app.screen.query_one("#dashboard-table", DataTable)
        row = table.get_row("993611")
        assert row[1] == "北山町" and row[3] == "live" and row[4] == "open"
        assert table.get_row("992054")[4] == "not live"
        assert "live" in text_of(app, "#by-state")

        await pilot.press("m")
        await settle(app)
        assert isinstance(app.screen, MunicipalitiesScreen)
        await pilot.press("d")
        await settle(app)
        assert isinstance(app.screen, DashboardScreen)


async def open_municipality(app: BclApp, pilot: object, code: str) -> MunicipalitiesScreen:
    await pilot.press("m")  # type: ignore[attr-defined]
    await settle(app)
    screen = app.screen
    assert isinstance(screen, MunicipalitiesScreen)
    table = screen.query_one("#municipality-table", DataTable)
    table.move_cursor(row=table.get_row_index(code))
    await settle(app)
    await screen.show_detail()
    return screen


async def fill(app: BclApp, pilot: object, values: dict[str, str]) -> None:
    dialog = app.screen
    assert isinstance(dialog, FormDialog)
    for name, value in values.items():
        box = dialog.query_one(f"#field-{name}", Input)
        box.value = value
    dialog.query_one(Input).focus()
    await pilot.press("enter")  # type: ignore[attr-defined]
    await settle(app)


async def test_every_control_from_the_console(demo_runtime: Runtime) -> None:
    app = BclApp(demo_runtime)
    svc = demo_runtime.municipalities
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        screen = await open_municipality(app, pilot, "993611")
        assert "北山町" in text_of(app, "#municipality-detail")

        await pilot.press("h")
        await fill(app, pilot, {"open": "08:00", "close": "20:00"})
        assert (await svc.get("993611")).municipality.hours.open == "08:00"

        await pilot.press("s")
        await fill(app, pilot, {"reason": "システム点検"})
        view = await svc.get("993611")
        assert view.municipality.suspended and view.municipality.suspension_reason == "システム点検"
        await screen.show_detail()
        assert "SUSPENDED" in text_of(app, "#municipality-detail")

        await pilot.press("r")
        await settle(app)
        assert not (await svc.get("993611")).municipality.suspended

        await pilot.press("f")
        await fill(app, pilot, {"residence": "200", "seal": "200"})
        fees = (await svc.get("993611")).detail()["fees"]
        assert fees == {"residence": 200, "seal": 200, "tax": 300, "disaster": 0, "disaster-victim": 0}

        trail = await svc.audit_trail("993611")
        assert [e.action for e in trail[:5]] == ["fee", "fee", "resume", "suspend", "hours"]
        assert all(e.interface == "console" for e in trail[:5])


async def test_a_rejected_value_stays_in_the_form_and_changes_nothing(demo_runtime: Runtime) -> None:
    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        await open_municipality(app, pilot, "994821")
        await pilot.press("h")
        await fill(app, pilot, {"open": "25:00", "close": "26:00"})
        assert isinstance(app.screen, FormDialog)
        assert "not a time of day" in str(app.screen.query_one("#form-error", Static).render())
        await pilot.press("escape")
        await settle(app)
        assert isinstance(app.screen, MunicipalitiesScreen)
        assert (await demo_runtime.municipalities.get("994821")).municipality.hours.open == "06:30"


async def test_add_a_municipality_from_the_console(demo_runtime: Runtime) -> None:
    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        await pilot.press("m")
        await settle(app)
        await pilot.press("a")
        await fill(app, pilot, {"code": "131017", "name": "千代田区", "kind": "special-ward",
                                "population": "68000"})
        assert "wrong check digit" in str(app.screen.query_one("#form-error", Static).render())
        await fill(app, pilot, {"code": "131016"})
        assert isinstance(app.screen, MunicipalitiesScreen)
        await settle(app)
        table = app.screen.query_one("#municipality-table", DataTable)
        assert "131016" in [k.value for k in table.rows]
        assert (await demo_runtime.municipalities.get("131016")).municipality.kind.value == "special-ward"


async def test_command_palette_reaches_every_area(demo_runtime: Runtime) -> None:
    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Go to Municipalities (m)" in commands and "Go to Dashboard (d)" in commands
        await pilot.press("ctrl+p")
        await pilot.press(*"Municipalities")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app)
        assert isinstance(app.screen, MunicipalitiesScreen)


async def test_forms_show_the_focused_field_and_the_error_at_80x24(demo_runtime: Runtime) -> None:
    """Municipalities → Add has nine fields: each one, focused by Tab, is on screen; a refused
    value's error line is on screen, and the field at fault is focused."""
    from bcl_console.screens import MunicipalitiesScreen

    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await open_area(app, pilot, "m", MunicipalitiesScreen)
        await pilot.press("a")
        await settle(app)
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        inputs = list(dialog.query(Input).results(Input))
        assert len(inputs) == 9
        screen_box = dialog.region
        for n in range(len(inputs)):
            focused = app.focused
            assert focused is inputs[n]
            box = focused.region
            assert box.height == 1 and screen_box.contains_region(box), (n, box)
            await pilot.press("tab")
            await pilot.pause()
        await pilot.press("shift+tab")
        await pilot.press("enter")  # nothing filled in: refused
        await settle(app)
        error = dialog.query_one("#form-error", Static)
        assert "not a whole number" in str(error.render()) or "code" in str(error.render())
        assert error.region.height >= 1 and screen_box.contains_region(error.region)
        at_fault = app.focused
        assert isinstance(at_fault, Input) and at_fault.region.height == 1
        assert screen_box.contains_region(at_fault.region)
        await pilot.press("escape")
        await settle(app)


async def test_help_on_a_key_in_every_area(demo_runtime: Runtime) -> None:
    """`?` (and F1) open the area's help: what it is for, every key it takes, the areas, the
    shell commands; Esc closes it. The footer at 80 columns keeps to the area's keys."""
    from bcl_console.app import AREAS
    from bcl_console.screens.help import HelpScreen

    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        for area in AREAS:
            await pilot.press(area.key)
            await settle(app)
            screen = app.screen
            await pilot.press("question_mark" if area.key != "x" else "f1")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen), area.title
            shown = str(app.screen.query_one("#help-text", Static).render())
            for binding in screen.BINDINGS:
                if getattr(binding, "description", ""):
                    assert binding.description in shown, (area.title, binding.description)
            assert "Areas (from anywhere)" in shown and "bcl-console" in shown
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen
        footer = app.screen.query_one("Footer")
        assert "Help" in str(footer.render()) or any("Help" in str(w.render()) for w in footer.children)


async def test_escape_closes_the_palettes_keys_panel(demo_runtime: Runtime) -> None:
    from textual.widgets import HelpPanel

    app = BclApp(demo_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app)
        app.action_show_help_panel()
        await pilot.pause()
        assert app.screen.query(HelpPanel)
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query(HelpPanel)


async def test_times_an_operator_reads_are_japan_time(demo_runtime: Runtime) -> None:
    """The tests' clock is 10:00 in Japan (01:00 UTC): audit entries, linkage batches and
    backups show 10:00, never 01:00 or a raw ISO instant."""
    from bcl_console.screens import LinkageScreen, MunicipalitiesScreen

    rt = demo_runtime
    await rt.municipalities.set_fee("993611", "residence", 250, actor=rt_actor())
    app = BclApp(rt)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_area(app, pilot, "m", MunicipalitiesScreen)
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("993611"))
        await pilot.pause()
        await settle(app)
        detail = "\n".join(str(w.render()) for w in screen.query(Static))
        assert "2026-06-17 10:00" in detail and "01:00Z" not in detail
        screen = await open_area(app, pilot, "l", LinkageScreen)
        cells = [str(c) for k in screen.query_one(DataTable).rows for c in screen.query_one(DataTable).get_row(k)]
        assert any("2026-06-17 10:00" in c for c in cells) and not any("+00:00" in c or "01:00" in c for c in cells)


def rt_actor() -> Actor:
    return Actor("op", "cli")
