"""Onboarding: every municipality's progress at a glance, and for the selected one its
plan as a timeline (bars by month, today marked, late steps in red) with the checklist.
Make a plan, tick a step, override the go-live gate — the same services as the CLI."""

from __future__ import annotations

from datetime import date, timedelta

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from bcl_console.domain.errors import DomainError, InvalidInput
from bcl_console.domain.onboarding import StepStatus, months_between
from bcl_console.domain.wareki import format_era_short
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets import FormDialog, FormField
from bcl_console.screens.widgets.table import keep_cursor, selected_key, sync_rows
from bcl_console.services.onboarding.service import PlanView, ProgressLine, both_dates
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import (
    DemoCompleted,
    MunicipalityChanged,
    OnboardingChanged,
    StageFinished,
)

BAR_WIDTH = 20
STATUS_STYLES = {
    StepStatus.DONE: "green",
    StepStatus.LATE: "bold red",
    StepStatus.DUE: "yellow",
    StepStatus.UPCOMING: "cyan",
}
PROGRESS_STYLES = {"late": "bold red", "on-track": "yellow", "live": "green", "in-service": "green"}


def timeline_axis(first: date, last: date, width: int = BAR_WIDTH) -> tuple[date, int, str]:
    """(origin, span in days, a month-number axis) for bars from ``first`` to ``last``."""
    months = months_between(first, last)
    origin = months[0]
    end = months_between(last, last + timedelta(days=31))[1]
    span = max(1, (end - origin).days)
    axis = [" "] * width
    for m in months:
        pos = (m - origin).days * width // span
        label = str(m.month)
        for i, ch in enumerate(label):
            if pos + i < width:
                axis[pos + i] = ch
    return origin, span, "".join(axis)


def timeline_bar(starts_on: date, due_on: date, today: date, origin: date, span: int, status: StepStatus,
                 width: int = BAR_WIDTH) -> Text:
    """One step's bar on the month axis; today is a ┃ across every row."""
    def pos(day: date) -> int:
        return max(0, min(width - 1, (day - origin).days * width // span))

    start, end, now = pos(starts_on), pos(due_on), pos(today)
    text = Text()
    for i in range(width):
        if i == now and origin <= today < origin + timedelta(days=span):
            text.append("┃", style="bold magenta")
        elif start <= i <= end:
            text.append("█", style=STATUS_STYLES[status])
        else:
            text.append("·", style="dim")
    return text


class OnboardingScreen(LiveScreen):
    EVENT_TYPES = (OnboardingChanged, MunicipalityChanged, StageFinished, DemoCompleted)
    BINDINGS = [
        Binding("t", "tick", "Tick step"),
        Binding("p", "plan", "Plan"),
        Binding("v", "override", "Override"),
        Binding("g", "reload", "Refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="onboarding-title")
        plans: DataTable[str] = DataTable(id="onboarding-table", cursor_type="row", zebra_stripes=True)
        yield plans
        yield Static("", id="onboarding-plan-line")
        steps: DataTable[str | Text] = DataTable(id="onboarding-steps", cursor_type="row")
        yield steps
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Onboarding"
        self._lines: dict[str, ProgressLine] = {}
        self.plan: PlanView | None = None
        table = self.query_one("#onboarding-table", DataTable)
        for key, label in (("code", "code"), ("name", "name"), ("status", "progress"), ("start", "starts"),
                           ("steps", "steps"), ("late", "late"), ("next", "next step")):
            table.add_column(label, key=key)
        super().on_mount()

    @property
    def actor(self) -> Actor:
        return Actor.local("console")

    @property
    def selected_code(self) -> str | None:
        return selected_key(self.query_one("#onboarding-table", DataTable))

    def action_reload(self) -> None:
        self.reload_now()

    async def reload(self) -> None:
        lines = await self.runtime.onboarding.progress()
        self._lines = {line.code: line for line in lines}
        today = self.runtime.onboarding.today()
        late = sum(1 for line in lines if line.status == "late")
        planned = sum(1 for line in lines if line.total)
        self.query_one("#onboarding-title", Static).update(
            f"[b]Onboarding[/b] · {planned} with a plan · {late} late · today {both_dates(today)}")
        rows = {}
        for line in lines:
            style = PROGRESS_STYLES.get(line.status, "")
            rows[line.code] = {
                "code": line.code, "name": line.name,
                "status": f"[{style}]{line.status}[/]" if style else line.status,
                "start": line.service_start.isoformat() if line.service_start else "-",
                "steps": f"{line.done}/{line.total}" if line.total else "-",
                "late": str(line.late or ""),
                # the date first: at 80 columns a long Japanese title is what gets cut
                "next": f"{line.next_due:%m-%d} {line.next_title or line.next_step}"
                        if line.next_step and line.next_due else "",
            }
        sync_rows(self.query_one("#onboarding-table", DataTable), rows)
        await self.show_plan()

    @on(DataTable.RowHighlighted, "#onboarding-table")
    async def _highlighted(self) -> None:
        await self.show_plan()

    async def show_plan(self) -> None:
        """The selected municipality's plan. It is read first and the table rebuilt after,
        with no await in between: a table cleared across an await was rendered empty and
        kept its header widths (steps 10 and 11 showed as "1")."""
        code = self.selected_code
        line_widget = self.query_one("#onboarding-plan-line", Static)
        steps = self.query_one("#onboarding-steps", DataTable)
        line = self._lines.get(code) if code is not None else None
        plan: PlanView | None = None
        problem = None
        if code is not None and line is not None and line.total:
            try:
                plan = await self.runtime.onboarding.show(code)
            except DomainError as exc:
                problem = exc.sentence()
            if code != self.selected_code:
                return  # the operator moved on meanwhile: the newer call draws
        same_plan = plan is not None and self.plan is not None and self.plan.municipality.code == code
        restore_cursor = keep_cursor(steps) if same_plan else (lambda: None)
        steps.clear(columns=True)
        self.plan = plan
        if code is None:
            return
        if problem is not None:
            line_widget.update(escape(problem))
            return
        if plan is None:
            if line is not None and line.status == "in-service":
                line_widget.update(f"{escape(line.name)}: in service since {line.service_start or '-'} "
                                   "(joined before plans were kept): nothing to plan.")
            else:
                line_widget.update(f"{escape(line.name if line else code)}: no plan yet. p makes a plan.")
            return
        warn = f" · [yellow]{escape(plan.warning)}[/]" if plan.warning else ""
        override = f" · [magenta]override: {escape(plan.plan.override_reason)}[/]" if plan.plan.override_reason else ""
        line_widget.update(
            f"[b]{escape(plan.municipality.name)}[/b] service start {both_dates(plan.plan.service_start)} · "
            f"[{PROGRESS_STYLES.get(plan.status.value, '')}]{plan.status.value}[/]{override}{warn}")
        first = min(s.row.starts_on for s in plan.steps)
        origin, span, axis = timeline_axis(min(first, plan.today), plan.plan.service_start)
        # The step's whole name comes last: at 80 columns the timeline stays in view and a
        # long name runs on to the right (the table scrolls), never cut with "…".
        for key, label in (("seq", "#"), ("due", "due"), ("ja", "和暦"), ("status", "status"),
                           ("bar", axis), ("title", "step")):
            steps.add_column(label, key=key)
        for s in plan.steps:
            r = s.row
            style = STATUS_STYLES[s.status]
            steps.add_row(
                str(r.seq), f"{r.due_on:%m-%d}", format_era_short(r.due_on), Text(s.status.value, style=style),
                timeline_bar(r.starts_on, r.due_on, plan.today, origin, span, s.status), r.title_ja, key=r.key)
        restore_cursor()

    @on(DataTable.RowSelected, "#onboarding-steps")
    def _step_chosen(self) -> None:
        self.action_tick()

    @on(DataTable.RowSelected, "#onboarding-table")
    def _municipality_chosen(self) -> None:
        self.query_one("#onboarding-steps", DataTable).focus()

    def _selected_step(self) -> str | None:
        return None if self.plan is None else selected_key(self.query_one("#onboarding-steps", DataTable))

    def action_tick(self) -> None:
        code, key = self.selected_code, self._selected_step()
        if code is None or key is None or self.plan is None:
            self.notify("Select a municipality with a plan, then a step (Tab moves to the steps).",
                        severity="warning")
            return
        step = next(s for s in self.plan.steps if s.row.key == key)

        async def submit(v: dict[str, str]) -> None:
            await self.runtime.onboarding.done(code, key, note=v["note"].strip() or None, actor=self.actor)
            self.notify(f"{step.row.title_ja}: done.")

        self.app.push_screen(FormDialog(f"Mark done: {step.row.title_ja} ({key}), due {both_dates(step.row.due_on)}",
                                        [FormField("note", "Note (optional), e.g. the ordinance number")], submit),
                             lambda ok: self.reload_now() if ok else None)

    def action_plan(self) -> None:
        code = self.selected_code
        if code is None:
            return
        line = self._lines[code]
        if line.status == "in-service":
            self.notify(f"{line.name} is in service already (it joined before plans were kept): there is "
                        "nothing to plan.", severity="warning")
            return
        default = line.service_start.isoformat() if line.service_start and line.service_start > \
            self.runtime.onboarding.today() else ""

        async def submit(v: dict[str, str]) -> None:
            seal = v["seal"].strip().lower()
            if seal not in ("y", "n", "yes", "no"):
                raise InvalidInput("answer y or n: will seal certificates be offered?", field="seal")
            await self.runtime.onboarding.plan(code, v["start"], offers_seal=seal.startswith("y"),
                                               replace=bool(line.total), actor=self.actor)
            self.notify(f"Plan for {line.name} made from the schedule template.")

        verb = "Re-plan" if line.total else "Make a plan for"
        self.app.push_screen(FormDialog(f"{verb} {line.name} {code}",
                                        [FormField("start", "Service start (YYYY-MM-DD)", default),
                                         FormField("seal", "Seal certificates offered? (y/n)", "y")], submit),
                             lambda ok: self.reload_now() if ok else None)

    def action_override(self) -> None:
        code = self.selected_code
        if code is None or self.plan is None:
            self.notify("Select a municipality with a plan.", severity="warning")
            return
        current = self.plan.plan.override_reason or ""

        async def submit(v: dict[str, str]) -> None:
            reason = v["reason"].strip()
            await self.runtime.onboarding.override(code, reason or None, actor=self.actor)
            self.notify("Go-live override set." if reason else "Go-live override withdrawn.")

        self.app.push_screen(FormDialog(
            f"Go-live override for {self.plan.municipality.name}: allow store issuance although stages are "
            "missing (audited). Empty reason withdraws it.",
            [FormField("reason", "Reason", current)], submit), lambda ok: self.reload_now() if ok else None)
