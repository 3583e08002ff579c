"""Dashboard: the centre at a glance — municipalities by class and state, data held,
last linkage per municipality, and which are open for store issuance right now."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from bcl_console.domain.contribution import ContributionClass
from bcl_console.domain.municipality import State
from bcl_console.domain.wareki import format_era
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets.phrases import Phrases
from bcl_console.screens.widgets.table import sync_rows
from bcl_console.screens.widgets.text import jst_day, pad
from bcl_console.services.platform.events import (
    BatchApplied,
    DemoCompleted,
    DemoProgress,
    Event,
    MunicipalityChanged,
    OnboardingChanged,
)

CLOSED_LABELS = {
    None: "open",
    "suspended": "suspended",
    "not-live": "not live",
    "year-end-closure": "year-end",
    "outside-hours": "after hours",
}


class DashboardScreen(LiveScreen):
    EVENT_TYPES = (MunicipalityChanged, DemoProgress, DemoCompleted, BatchApplied, OnboardingChanged)
    BINDINGS = [Binding("g", "reload", "Refresh")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Phrases(id="status-line")
        with Horizontal(id="summary"):
            yield Static("", id="by-class", classes="panel")
            yield Static("", id="by-state", classes="panel")
        yield Phrases(id="reminders")
        yield ProgressBar(total=100, id="demo-progress", show_eta=False)
        table: DataTable[str] = DataTable(id="dashboard-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.app.title  # "… TRAINING CLOCK" when the centre runs on one
        self.sub_title = "Dashboard"
        table = self.query_one("#dashboard-table", DataTable)
        table.add_column("code", key="code")
        table.add_column("name", key="name")
        table.add_column("class", key="class")
        table.add_column("state", key="state")
        table.add_column("stores now", key="open")
        table.add_column("residents", key="residents")
        table.add_column("last linkage", key="linkage")
        self.query_one("#demo-progress").display = False
        super().on_mount()

    def action_reload(self) -> None:
        self.reload_now()

    def handle_event(self, event: Event) -> None:
        bar = self.query_one("#demo-progress", ProgressBar)
        if isinstance(event, DemoProgress):
            bar.display = event.done < event.total  # events may arrive after DemoCompleted
            bar.update(total=max(1, event.total), progress=event.done)
        elif isinstance(event, DemoCompleted):
            bar.display = False

    async def reload(self) -> None:
        ov = await self.runtime.overview.snapshot()
        http = self.runtime.http
        api = http.url if http else "not serving"
        # Two counts of people, said apart: the demo reports the records it generated.
        self.query_one("#status-line", Phrases).show([
            f"[b]{ov.now:%Y-%m-%d %H:%M}[/b] JST ({format_era(ov.now.date())})",
            f"API {api}",
            f"{len(ov.lines)} municipalities",
            f"[b]{ov.open_now}[/b] open now",
            f"{ov.residents_held:,} residents held (active)",
            f"{ov.records_held:,} records with the moved-out and deceased, in {ov.households_held:,} households",
        ])
        classes = "\n".join(
            f"{pad(cls.label_ja, 28)} {ov.by_class.get(cls, 0):>3}"
            for cls in ContributionClass
            if ov.by_class.get(cls, 0)
        )
        self.query_one("#by-class", Static).update(f"[b]By class[/b]\n{classes or '—'}")
        states = "\n".join(f"{state.value:<11} {ov.by_state.get(state, 0):>3}" for state in State)
        self.query_one("#by-state", Static).update(f"[b]By state[/b]\n{states}")

        rows: dict[str, dict[str, str]] = {}
        for line in ov.lines:
            last = line.last_linkage
            linkage = (
                f"#{last.sequence} {last.kind} {jst_day(last.received_at)}" if last else "none"
            )
            rows[line.code] = {
                "code": line.code,
                "name": line.name,
                "class": line.contribution_class.label_short,
                "state": line.state.value,
                "open": CLOSED_LABELS.get(line.closed_reason, line.closed_reason or ""),
                "residents": f"{line.residents_active:,}",
                "linkage": linkage,
            }
        sync_rows(self.query_one("#dashboard-table", DataTable), rows)
        await self._reminders({line.code: line.name for line in ov.lines})

    async def _reminders(self, names: dict[str, str]) -> None:
        """Onboarding steps the scheduler found due or late (still not done)."""
        given = await self.runtime.onboarding.reminders(4)
        items = [f"{'[red]late[/]' if kind == 'late' else '[yellow]due[/]'} {escape(names.get(code, code))} "
                 f"{escape(title or step)} {due[5:]}" for _, code, step, kind, due, title in given]
        items = items or ["none"]
        self.query_one("#reminders", Phrases).show([f"[b]Onboarding reminders[/b] (n): {items[0]}", *items[1:]])
