"""The Textual console: a thin shell of areas (screens) over the embedded services."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.signal import Signal

from bcl_console.config import Settings
from bcl_console.demo.make import demo_service, make_demo
from bcl_console.http.app import start_http
from bcl_console.screens import (
    CentresScreen,
    DashboardScreen,
    DisasterScreen,
    LayoutsScreen,
    LinkageScreen,
    MonitorScreen,
    MunicipalitiesScreen,
    OnboardingScreen,
    SettlementScreen,
    StagesScreen,
)
from bcl_console.screens.help import HelpScreen, describe
from bcl_console.services.platform.centres import centre_alert
from bcl_console.services.platform.clock import set_training_clock
from bcl_console.services.platform.events import Event
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store import StoreError

log = logging.getLogger(__name__)

#: How often a console attached to another process's centre reads its screen again.
ATTACHED_POLL_SECONDS = 3.0

#: How often the console asks whether the two centres are well (an alert on any screen).
CENTRE_ALERT_SECONDS = 5.0

#: Signals that stop the console cleanly.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Area:
    mode: str
    key: str
    title: str
    help: str


#: The console's areas: the key that opens each, shown in the footer and the palette.
AREAS: tuple[Area, ...] = (
    Area("dashboard", "d", "Dashboard", "Municipalities by class and state, data held, open now"),
    Area("monitor", "i", "Issuance Monitor",
         "Store issuance live: feed, today's counts, refusals, throughput chart, simulated traffic"),
    Area("municipalities", "m", "Municipalities",
         "List, detail and management-terminal controls: hours, suspend, resume, fees"),
    Area("linkage", "l", "Linkage",
         "Batches received, problems of rejected ones, ingest from a path, backups and restore"),
    Area("settlement", "e", "Settlement",
         "A fiscal year's fees per municipality and operator, close the year, statements, scheduled jobs"),
    Area("onboarding", "n", "Onboarding",
         "Every municipality's onboarding progress; a plan's timeline and checklist; go-live override"),
    Area("disaster", "z", "Disaster support",
         "Victim ledger, damage by class, evacuation centres, people needing help, support payments, applications"),
    Area("stages", "x", "Test stages",
         "Run the test stages against the live services, watch them run, read the evidence, confirm stage 3"),
    Area("layouts", "L", "Layouts",
         "Layout versions of the certificates (法改正対応): stage one, the centre's re-tests, activate"),
    Area("centres", "W", "Centres",
         "East and West: role, epoch, replication and lag live; the two-centres drill, run and watched"),
)


class BclApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "BCL console"
    MODES = {
        "dashboard": DashboardScreen,
        "municipalities": MunicipalitiesScreen,
        "linkage": LinkageScreen,
        "monitor": MonitorScreen,
        "settlement": SettlementScreen,
        "onboarding": OnboardingScreen,
        "stages": StagesScreen,
        "disaster": DisasterScreen,
        "layouts": LayoutsScreen,
        "centres": CentresScreen,
    }
    DEFAULT_MODE = "dashboard"
    # The areas' keys work everywhere but are not drawn in the footer (at 80 columns the
    # footer ended at "l Lin…" and hid the area's own keys); `?` lists them all.
    BINDINGS = [
        *(Binding(a.key, f"switch_mode('{a.mode}')", a.title, show=False) for a in AREAS),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
        Binding("escape", "hide_help_panel", "Close keys panel", show=False),  # the palette's "Keys"
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, runtime: Runtime, *, make_demo: bool = True, http_error: str | None = None,
                 attached: bool = False) -> None:
        super().__init__()
        self.runtime = runtime
        #: Attached to a centre another process runs (a `bcl-console web` tab): changes made
        #: by the other tabs and that process reach this one's screens by polling, every
        #: ``poll_seconds`` (its own service events still refresh at once).
        self.poll_seconds: float | None = ATTACHED_POLL_SECONDS if attached else None
        self.service_events: Signal[Event] = Signal(self, "service-events")
        self._make_demo = make_demo and not attached
        self._http_error = http_error
        self._unsubscribe = runtime.bus.subscribe(self.service_events.publish)
        if runtime.training:  # on every screen's header: this centre is not on real time
            self.title = "BCL console — TRAINING CLOCK"

    def on_mount(self) -> None:
        self._centre_alert: str | None = None
        self.set_interval(CENTRE_ALERT_SECONDS, self._check_centre)
        if self._http_error:
            self.notify(self._http_error, title="HTTP API not started", severity="warning", timeout=10)
        if self._make_demo:
            self.run_worker(self._ensure_demo(), group="demo", exclusive=True, exit_on_error=False)

    async def _ensure_demo(self) -> None:
        if self.runtime.db is not None and await demo_service(self.runtime).is_empty():
            self.notify("Empty data directory: creating the demo data set…", timeout=5)
            summary = await make_demo(self.runtime, self.runtime.settings.demo_seed)
            self.notify(
                f"Demo data ready: {summary.municipalities} municipalities, {summary.residents:,} resident "
                f"records generated: {summary.active_residents:,} active (the dashboard's residents held), "
                f"the others moved out or deceased ({summary.seconds:.1f} s).",
                timeout=6,
            )

    def _check_centre(self) -> None:
        self.run_worker(self._centre_state(), group="centre-alert", exclusive=True, exit_on_error=False)

    async def _centre_state(self) -> None:
        """An alert on whichever screen is shown when the two centres' state turns bad (the
        standby lost, this centre fenced …), once per change; and when it is well again."""
        try:
            alert = centre_alert(await self.runtime.centres.state())
        except StoreError as exc:
            alert = f"this centre's database cannot be asked its role: {exc}"
        if alert != self._centre_alert:
            if alert is not None:
                self.notify(alert, title="Centres (W)", severity="error", timeout=30)
            elif self._centre_alert is not None:
                self.notify("the two centres are well again", title="Centres (W)")
            self._centre_alert = alert

    def on_unmount(self) -> None:
        self._unsubscribe()

    def action_help(self) -> None:
        """Help for the area on screen (not on top of a form or another help)."""
        if isinstance(self.screen, ModalScreen):
            return
        self.push_screen(HelpScreen(describe(self.screen, [(a.key, a.title) for a in AREAS])))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for area in AREAS:
            yield SystemCommand(
                f"Go to {area.title} ({area.key})", area.help,
                lambda mode=area.mode: self.switch_mode(mode),
            )


@dataclass(frozen=True)
class AttachedApi:
    """The HTTP API of the process this console is attached to (`bcl-console web`): shown
    on the dashboard and driven by the Monitor's simulated traffic; never stopped here."""

    url: str

    async def stop(self) -> None:
        return None


async def prepare_centre(settings: Settings, *, announce: Callable[[str], None]) -> Runtime:
    """The centre's process for `bcl-console web`: the runtime started (a missing centre
    made, with the demo data on an empty one, as the console does), the training clock of
    --now set for every tab, the scheduler and the HTTP API running. The caller stops it."""
    runtime = Runtime(settings)
    await runtime.start()
    try:
        if settings.now is not None:
            set_training_clock(settings.data_dir, settings.now)
        demo = demo_service(runtime)
        if await demo.is_empty():
            announce("Empty data directory: creating the demo data set…")
            summary = await make_demo(runtime, settings.demo_seed)
            announce(f"Demo data ready: {summary.municipalities} municipalities ({summary.seconds:.1f} s).")
        await runtime.issuance.use_workers(max(1, os.cpu_count() or 1))
        await runtime.scheduler.start()
        if settings.console_http:
            try:
                await start_http(runtime)
            except OSError as exc:
                announce(f"HTTP API not started: {settings.host}:{settings.port}: {exc.strerror or exc}. "
                         "The consoles work; kiosks and linkage servers cannot reach them.")
    except BaseException:
        await runtime.stop()
        raise
    return runtime


def run_console(settings: Settings, *, attach: bool = False, api_url: str | None = None) -> int:
    """Start the runtime (and its HTTP API), run the console, stop everything.

    ``attach``: the centre is run by another process (`bcl-console web`, which starts one
    console per browser tab): it must exist already, no demo data is made, and this
    console starts no HTTP API and no scheduler of its own (``api_url`` is that process's
    API). Several consoles share one SQLite data directory (WAL; no lock is taken)."""

    async def main() -> int:
        runtime = Runtime(settings)
        await runtime.start(create=not attach)
        http_error = None
        try:
            if attach:
                if api_url:
                    runtime.http = AttachedApi(api_url)
                runtime.scheduler.run_elsewhere()
            else:
                if settings.now is not None:  # every command on this directory now runs on this clock
                    set_training_clock(settings.data_dir, settings.now)
                await runtime.issuance.use_workers(max(1, os.cpu_count() or 1))
                await runtime.scheduler.start()
            if settings.console_http and not attach:
                try:
                    await start_http(runtime)
                except OSError as exc:
                    http_error = (
                        f"{settings.host}:{settings.port}: {exc.strerror or exc}. "
                        "The console works; kiosks and linkage servers cannot reach it."
                    )
                    log.warning("HTTP API not started: %s", http_error)
            app = BclApp(runtime, http_error=http_error, attached=attach)
            # A dropped SSH session (SIGHUP) or a kill (SIGTERM) ends the console the way q does:
            # the HTTP API, the scheduler and the database are closed before the process exits.
            loop = asyncio.get_running_loop()
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, app.exit)
            try:
                await app.run_async()
            finally:
                for sig in STOP_SIGNALS:
                    loop.remove_signal_handler(sig)
            return app.return_code or 0
        finally:
            await runtime.stop()

    return asyncio.run(main())
