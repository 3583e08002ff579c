"""Centres (東西2センター): this centre's role, epoch, replication and lag, read again every
second; the last two-centres drills with their figures; and a drill started from here,
watched as it runs (its progress, its log, the moment of failover, the RTO)."""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from bcl_console.config import ConfigError
from bcl_console.demo.drill import (
    RTO_TARGET,
    Drill,
    DrillEvent,
    DrillFailed,
    past_drills,
    summary_line,
)
from bcl_console.domain.errors import DomainError, InvalidInput
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets import FormDialog, FormField
from bcl_console.screens.widgets.table import sync_rows
from bcl_console.services.platform.centres import centre_alert
from bcl_console.services.platform.postgres_local import PostgresMissing
from bcl_console.store import StoreError
from bcl_console.store.api import CentreState

#: How often the role, the replication and its lag are read again.
STATE_SECONDS = 1.0
#: The default length of a drill's traffic started from the console.
DRILL_SECONDS = 30

TWO_CENTRES_HELP = (
    "One centre (SQLite): nothing replicated. East and West run on PostgreSQL:\n"
    "[b]database copy --to URL[/b] moves this centre to East; West's server is a\n"
    "pg_basebackup -R of East's, named in its synchronous_standby_names;\n"
    "[b]centre init-standby[/b] at West; a serve at each, with peer-url.\n"
    "[b]r[/b] runs all of it here as a drill (needs PostgreSQL installed).")


def state_text(state: CentreState) -> str:
    role_style = {"active": "bold green", "standby": "bold yellow", "single": "bold"}.get(state.role, "")
    lines = [f"this centre: [{role_style}]{state.role.upper()}[/]   epoch [b]{state.epoch}[/b]   "
             f"peer: {escape(state.peer or '-')}"]
    r = state.replication
    if r is None:
        lines.append(TWO_CENTRES_HELP if state.role == "single" else "replication: -")
        return "\n".join(lines)
    lag = "-" if r.lag_bytes is None else f"{r.lag_bytes:,} bytes, {r.lag_seconds or 0:.3f} s"
    sync = "[green]yes[/]" if r.sync else "[bold red]NO[/]"
    lines.append(f"replication: {escape(r.state)}   sync: {sync}   lag: {lag}")
    alert = centre_alert(state)
    if alert is not None:
        lines.append(f"[bold red]ALERT: {escape(alert)}[/]")
    return "\n".join(lines)


class CentresScreen(LiveScreen):
    BINDINGS = [
        Binding("r", "run_drill", "Run drill"),
        Binding("v", "view_drill", "View drill"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="centres-state")
        table: DataTable[str] = DataTable(id="centres-drills", cursor_type="row")
        yield table
        with Vertical(id="centres-drill-box"):
            yield ProgressBar(total=100, show_eta=False, id="centres-progress")
            with VerticalScroll(id="centres-log-box"):
                yield Static("No drill is running. r runs one (East killed, West takes over); "
                             "v shows the chosen past drill.", id="centres-log")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Centres (East / West)"
        self.drill_log: list[str] = []
        self.running: Drill | None = None
        self.reports: list[dict[str, object]] = []
        table = self.query_one("#centres-drills", DataTable)
        for key, label in (("when", "drill (UTC)"), ("verdict", "verdict"), ("accepted", "accepted"),
                           ("lost", "lost"), ("dup", "dup"), ("rto", "RTO s"), ("rejoined", "rejoin")):
            table.add_column(label, key=key)
        super().on_mount()
        self.set_interval(STATE_SECONDS, self._state_tick)

    def _state_tick(self) -> None:
        if self.is_current:
            self.read_state()

    @work(group="centre-state", exclusive=True, exit_on_error=False)
    async def read_state(self) -> None:
        try:
            state = await self.runtime.centres.state()
        except StoreError as exc:
            self.query_one("#centres-state", Static).update(
                f"[bold red]this centre's database cannot be asked its role:[/] {escape(str(exc))}")
            return
        text = state_text(state)
        peer_url = self.runtime.settings.peer_url
        if peer_url:  # the other centre, asked of its own database
            try:
                other = await self.runtime.centres.peer(peer_url)
                r = other.replication
                text += (f"\nthe other centre: [b]{other.role.upper()}[/b]   epoch {other.epoch}   "
                         f"replication: {escape(r.state) if r else '-'}   sync: "
                         f"{('yes' if r.sync else 'NO') if r else '-'}")
            except StoreError as exc:
                text += f"\n[bold red]the other centre cannot be reached:[/] {escape(str(exc))[:120]}"
        self.query_one("#centres-state", Static).update(text)

    async def reload(self) -> None:
        self.read_state()
        self.reports = past_drills(self.runtime.settings)
        rows = {}
        for report in self.reports:
            verdict = str(report.get("verdict", "?"))
            rto = report.get("rto_seconds")
            rows[str(report.get("drill"))] = {
                "when": _when(str(report.get("started_at", ""))),
                "verdict": f"[green]{verdict}[/]" if verdict == "pass" else f"[bold red]{verdict}[/]",
                "accepted": str(report.get("accepted", "")), "lost": str(report.get("lost", "")),
                "dup": str(report.get("duplicated", "")),
                "rto": "-" if rto is None else f"{float(str(rto)):.2f}",
                "rejoined": "yes" if report.get("east_rejoined") else "NO"}
        sync_rows(self.query_one("#centres-drills", DataTable), rows, in_order=True)

    # -- drills --------------------------------------------------------------------------
    def action_run_drill(self) -> None:
        if self.running is not None:
            self.notify("A drill is running already: watch it on the right.", severity="warning")
            return

        async def submit(v: dict[str, str]) -> None:
            text = v["seconds"].strip() or str(DRILL_SECONDS)
            try:
                seconds = float(text)
            except ValueError:
                raise InvalidInput(f"{text!r} is not a number of seconds", field="seconds") from None
            if not 6 <= seconds <= 600:
                raise InvalidInput("a drill's traffic lasts 6 to 600 seconds", field="seconds")
            self._drill(seconds)

        self.app.push_screen(FormDialog(
            "Two-centres drill: East and West on this machine; East killed mid-traffic, West promoted",
            [FormField("seconds", f"Seconds of kiosk traffic (6–600; empty: {DRILL_SECONDS})", str(DRILL_SECONDS))],
            submit))

    def _event(self, event: DrillEvent) -> None:
        self.query_one("#centres-progress", ProgressBar).update(progress=int(event.fraction * 100))
        if not event.logged:
            return
        mark = "[bold magenta]" if event.phase == "failover" else ""
        line = f"{event.at:6.1f}s {event.phase}: {escape(event.message)}"
        self.drill_log.append(f"{mark}{line}[/]" if mark else line)
        self._show_log()

    def _show_log(self) -> None:
        self.query_one("#centres-log", Static).update("\n".join(self.drill_log[-200:]))
        self.query_one("#centres-log-box", VerticalScroll).scroll_end(animate=False)

    @work(group="drill", exclusive=True, exit_on_error=False)
    async def _drill(self, seconds: float) -> None:
        self.drill_log = [f"[b]drill: {seconds:g} s of traffic[/b]"]
        self.query_one("#centres-progress", ProgressBar).update(progress=0)
        self._show_log()
        try:
            self.running = Drill(self.runtime, seconds=seconds, on_event=self._event)
            report = await self.running.run()
        except (PostgresMissing, ConfigError, DrillFailed, DomainError, StoreError, OSError, RuntimeError,
                ValueError) as exc:
            self.drill_log.append(f"[bold red]{escape(str(exc))}[/]")
            self._show_log()
            self.notify(f"The drill could not be run: {exc}", severity="error", timeout=10)
            return
        finally:
            self.running = None
        verdict = summary_line(report)
        self.drill_log.append(("[bold green]" if report.verdict == "pass" else "[bold red]") + escape(verdict) + "[/]")
        self.drill_log += [f"  - {escape(p)}" for p in report.problems]
        self._show_log()
        self.notify(verdict, severity="information" if report.verdict == "pass" else "error", timeout=10)
        self.reload_now()

    def action_view_drill(self) -> None:
        """Show the chosen past drill's report on the right (when no drill is running)."""
        if self.running is not None:
            return
        table = self.query_one("#centres-drills", DataTable)
        if not self.reports or table.cursor_row < 0 or table.cursor_row >= len(self.reports):
            return
        r = self.reports[table.cursor_row]
        rto = r.get("rto_seconds")
        self.drill_log = [
            f"[b]drill {escape(str(r.get('drill')))}[/b]: {escape(str(r.get('verdict')))}",
            f"accepted {r.get('accepted')}, lost {r.get('lost')}, duplicated {r.get('duplicated')}, "
            f"wrong person {r.get('wrong_person')}",
            f"RTO {'-' if rto is None else f'{float(str(rto)):.2f} s'} (target < {RTO_TARGET:g} s); East killed at "
            f"{r.get('east_killed_at')} s, West promoted at {r.get('west_promoted_at')} s",
            f"old East refused writes: {'yes' if r.get('east_fenced') else 'NO'}; rejoined: "
            f"{'yes' if r.get('east_rejoined') else 'NO'} ({r.get('rejoin_method') or '-'})",
            f"took {r.get('seconds')} s; report and logs: {escape(str(r.get('directory')))}",
            *[f"  - {escape(str(p))}" for p in list(r.get("problems") or [])],  # type: ignore[call-overload]
        ]
        self._show_log()


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%m-%d %H:%M:%S")
    except ValueError:
        return iso
