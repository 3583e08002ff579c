"""Test stages: each stage's state for a municipality with a plan; run one and watch its
log as it runs; read a run's evidence; confirm stage 3 once its documents were checked."""

from __future__ import annotations

import json

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from bcl_console.domain.errors import DomainError, InvalidInput
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets import FormDialog, FormField
from bcl_console.screens.widgets.table import selected_key, sync_rows
from bcl_console.screens.widgets.text import jst_datetime
from bcl_console.services.onboarding.service import PlanView
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import (
    Event,
    OnboardingChanged,
    StageFinished,
    StageProgress,
)

OUTCOME_MARKS = {"passed": "✔", "failed": "✘", "running": "…", "awaiting-confirmation": "?", "not-required": "–"}
OUTCOME_STYLES = {"passed": "green", "failed": "bold red", "running": "yellow", "awaiting-confirmation": "magenta",
                  "not-required": "dim", "not-run": ""}


class StagesScreen(LiveScreen):
    EVENT_TYPES = (StageProgress, StageFinished, OnboardingChanged)
    BINDINGS = [
        Binding("left_square_bracket", "municipality(-1)", "Prev"),
        Binding("right_square_bracket", "municipality(1)", "Next"),
        Binding("r", "run_stage", "Run stage"),
        Binding("c", "confirm", "Confirm"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="stages-title")
        with Horizontal(id="stages-body"):
            table: DataTable[str] = DataTable(id="stages-table", cursor_type="row")
            yield table
            with VerticalScroll(id="stages-log-box"):
                yield Static("", id="stages-log")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Test stages"
        self.codes: list[str] = []
        self.code: str | None = None
        self.plan: PlanView | None = None
        self.live_log: list[str] = []
        table = self.query_one("#stages-table", DataTable)
        for key, label in (("mark", " "), ("stage", "stage"), ("name", "試験"), ("outcome", "outcome")):
            table.add_column(label, key=key)
        super().on_mount()

    @property
    def actor(self) -> Actor:
        return Actor.local("console")

    def handle_event(self, event: Event) -> None:
        if isinstance(event, StageProgress) and event.municipality_code == self.code:
            self.live_log.append(event.message)
            self.query_one("#stages-log", Static).update(
                "[b]running…[/b]\n" + "\n".join(escape(line) for line in self.live_log[-40:]))

    async def reload(self) -> None:
        lines = await self.runtime.onboarding.progress()
        self.codes = [line.code for line in lines if line.total]
        if not self.codes:
            self.query_one("#stages-title", Static).update("No municipality has an onboarding plan yet "
                                                           "(Onboarding n, then p).")
            return
        if self.code not in self.codes:
            self.code = self.codes[0]
        assert self.code is not None
        try:
            self.plan = plan = await self.runtime.onboarding.show(self.code)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error")
            return
        m = plan.municipality
        self.query_one("#stages-title", Static).update(
            f"[b]{escape(m.name)}[/b] {m.code} ({m.hosting.value}) · state {m.state(plan.today).value} · "
            f"awaiting: {', '.join(m.awaiting_stages) or 'none'} · {escape('[ ]')} other municipality")
        rows = {}
        for line in plan.stages:
            style = OUTCOME_STYLES.get(line.outcome, "")
            outcome = f"[{style}]{line.outcome}[/]" if style else line.outcome
            rows[line.stage.value] = {"mark": OUTCOME_MARKS.get(line.outcome, "·"), "stage": line.stage.value,
                                      "name": line.stage.label_ja, "outcome": outcome}
        sync_rows(self.query_one("#stages-table", DataTable), rows)
        self.show_evidence()

    @property
    def selected_stage(self) -> str | None:
        return selected_key(self.query_one("#stages-table", DataTable))

    @on(DataTable.RowHighlighted, "#stages-table")
    def _highlighted(self) -> None:
        self.show_evidence()

    def show_evidence(self) -> None:
        if self.plan is None:
            return
        stage = self.selected_stage
        line = next((s for s in self.plan.stages if s.stage.value == stage), None)
        out = self.query_one("#stages-log", Static)
        if line is None or line.latest is None:
            out.update(f"{stage}: {'not run yet — r runs it' if line and line.required else 'not required'}")
            return
        run = line.latest
        evidence = json.dumps(run.evidence, ensure_ascii=False, indent=1)
        confirmed = f"\nconfirmed by {run.confirmed_by} {run.confirmed_at or ''}" if run.confirmed_by else ""
        out.update(
            f"[b]run {run.id}[/b] {escape(run.outcome.value)} · {jst_datetime(run.started_at)} JST by "
            f"{escape(run.run_by)}\n{escape(run.reason)}{escape(confirmed)}\n\n[b]log[/b]\n{escape(run.log)}\n\n"
            f"[b]evidence[/b]\n{escape(evidence)}")

    def action_municipality(self, step: int) -> None:
        if not self.codes or self.code is None:
            return
        self.code = self.codes[(self.codes.index(self.code) + step) % len(self.codes)]
        self.reload_now()

    async def action_run_stage(self) -> None:
        stage, code = self.selected_stage, self.code
        if stage is None or code is None:
            return
        if stage == "real-store":
            operators = await self.runtime.teststages.operators()
            if not operators:
                self.notify("No kiosk operator is registered yet (kiosk register --operator NAME).",
                            severity="warning")
                return
            first = operators[0]

            async def submit(v: dict[str, str]) -> None:
                chosen = v["operator"].strip() or first
                if chosen not in operators:
                    raise InvalidInput(f"{chosen!r} is not a registered kiosk operator (one of "
                                       f"{', '.join(operators)})", field="operator")
                self._run(code, stage, chosen)  # the operator the form named, never another

            self.app.push_screen(FormDialog(
                "Real-store test: a real, billed issuance at a store",
                [FormField("operator", f"Kiosk operator — {', '.join(operators)} (empty: {first}, the first "
                                       "registered)", first)], submit))
            return
        self._run(code, stage, None)

    @work(group="stage", exclusive=True, exit_on_error=False)
    async def _run(self, code: str, stage: str, operator: str | None) -> None:
        self.live_log = []
        self.query_one("#stages-log", Static).update(f"[b]{stage}[/b] starting…")
        try:
            run = await self.runtime.teststages.run(code, stage, actor=self.actor, operator=operator)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error")
            return
        self.notify(f"{stage}: {run.outcome.value} — {run.reason}",
                    severity="information" if run.outcome.value != "failed" else "error", timeout=8)
        self.reload_now()

    def action_confirm(self) -> None:
        stage, code = self.selected_stage, self.code
        if stage is None or code is None:
            return

        async def submit(v: dict[str, str]) -> None:
            await self.runtime.teststages.confirm(code, stage, actor=self.actor, note=v["note"].strip() or None)
            self.notify(f"{stage} confirmed: the stage passed.")

        self.app.push_screen(FormDialog(
            f"Confirm {stage}: the municipality checked the content of the documents printed for it",
            [FormField("note", "Note (optional)")], submit), lambda ok: self.reload_now() if ok else None)
