"""Layout versions (法改正対応): every certificate type's layout versions and their state;
stage a new one, let the centre re-test it on every live municipality offering the type
(stage 2, evidence per municipality), and activate it once every re-test passed."""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from bcl_console.domain.errors import DomainError
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets.table import selected_key, sync_rows
from bcl_console.screens.widgets.text import jst_datetime
from bcl_console.services.onboarding.layouts import LayoutView
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import LayoutChanged
from bcl_console.store.api import RetestRecord

STATE_STYLES = {"active": "green", "staged": "yellow", "retired": "dim", "available": ""}
OUTCOME_STYLES = {"passed": "green", "failed": "bold red"}


class LayoutsScreen(LiveScreen):
    EVENT_TYPES = (LayoutChanged,)
    BINDINGS = [
        Binding("s", "stage", "Stage"),
        Binding("r", "retest", "Re-test"),
        Binding("a", "activate", "Activate"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="layouts-title")
        with Horizontal(id="layouts-body"):
            table: DataTable[str] = DataTable(id="layouts-table", cursor_type="row")
            yield table
            with VerticalScroll(id="layouts-detail-box"):
                yield Static("", id="layouts-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Layout versions (法改正対応)"
        self.views: dict[str, LayoutView] = {}
        self.retests: list[RetestRecord] = []
        table = self.query_one("#layouts-table", DataTable)
        # Fixed widths: a state changes in place (staged → active → retired), never cut.
        for key, label, width in (("type", "type", 6), ("version", "v", 2), ("state", "state", 9),
                                  ("retest", "re-tests", 10)):
            table.add_column(label, key=key, width=width)
        super().on_mount()

    @property
    def actor(self) -> Actor:
        return Actor.local("console")

    async def reload(self) -> None:
        views = await self.runtime.layouts.views()
        self.retests = await self.runtime.layouts.retests()
        self.views = {f"{v.layout.type.value}:{v.layout.version}": v for v in views}
        rows = {}
        for key, v in self.views.items():
            style = STATE_STYLES.get(v.state.value, "")
            state = f"[{style}]{v.state.value}[/]" if style else v.state.value
            retest = f"✔{len(v.passed)} ✘{len(v.failed)} ·{len(v.untested)}" if v.state.value == "staged" else ""
            rows[key] = {"type": v.layout.type.short, "version": str(v.layout.version), "state": state,
                         "retest": retest}
        sync_rows(self.query_one("#layouts-table", DataTable), rows)
        staged = [v for v in views if v.state.value == "staged"]
        title = ", ".join(f"{v.layout.type.value} v{v.layout.version}"
                          f"{' (ready to activate)' if v.activatable else ''}" for v in staged)
        self.query_one("#layouts-title", Static).update(
            f"Staged: {escape(title) if title else 'none'} · stores print the active version only")
        self.show_detail()

    @property
    def selected(self) -> LayoutView | None:
        key = selected_key(self.query_one("#layouts-table", DataTable))
        return self.views.get(key) if key else None

    @on(DataTable.RowHighlighted, "#layouts-table")
    def _highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        v = self.selected
        out = self.query_one("#layouts-detail", Static)
        if v is None:
            out.update("")
            return
        lay = v.layout
        lines = [f"[b]{escape(lay.type.label)} version {lay.version}[/b] · {escape(lay.title)} · {v.state.value}",
                 escape(lay.change)]
        if v.row is not None and v.row.staged_at:
            lines.append(f"staged {jst_datetime(v.row.staged_at)} JST by {escape(v.row.staged_by or '')}")
        if v.row is not None and v.row.activated_at:
            lines.append(f"activated {jst_datetime(v.row.activated_at)} JST")
        hint = {"available": "s stages it", "staged": "r re-tests it · a activates it when all passed"}
        if v.state.value in hint:
            lines.append(f"[dim]{hint[v.state.value]}[/dim]")
        if v.state.value == "staged":
            lines.append(f"to re-test: {', '.join(v.untested) or 'none'}")
        mine = [r for r in self.retests if r.type == lay.type.value and r.version == lay.version]
        if mine:
            lines.append("\n[b]re-tests[/b] (newest first)")
        for r in mine[:12]:
            style = OUTCOME_STYLES.get(r.outcome, "")
            docs = r.evidence.get("issuances", [])
            codes = ", ".join(f"{d.get('verification_code')} v{d.get('layout_version')}" for d in docs)
            lines.append(f"[{style}]{r.outcome}[/] {r.municipality_code} {jst_datetime(r.finished_at)} "
                         f"by {escape(r.run_by)}\n  {escape(r.reason)}\n  {escape(codes)}")
        out.update("\n".join(lines))

    async def action_stage(self) -> None:
        v = self.selected
        if v is None:
            return
        try:
            lay, changed = await self.runtime.layouts.stage(v.layout.type.value, v.layout.version, actor=self.actor)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error")
            return
        self.notify(f"{lay.type.value} v{lay.version} " + ("staged: r re-tests it." if changed else "was staged."))
        self.reload_now()

    def action_retest(self) -> None:
        v = self.selected
        if v is not None:
            self._retest(v.layout.type.value)

    @work(group="retest", exclusive=True, exit_on_error=False)
    async def _retest(self, type_: str) -> None:
        self.query_one("#layouts-detail", Static).update(f"[b]{type_}[/b]: the centre re-tests the staged layout…")
        try:
            done = await self.runtime.layouts.retest(type_, actor=self.actor)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error")
            return
        failed = [r.municipality_code for r in done if r.outcome != "passed"]
        self.notify(f"re-test of {type_}: {len(done) - len(failed)} passed"
                    + (f", failed: {', '.join(failed)}" if failed else ""),
                    severity="error" if failed else "information", timeout=8)
        self.reload_now()

    async def action_activate(self) -> None:
        v = self.selected
        if v is None:
            return
        try:
            lay = await self.runtime.layouts.activate(v.layout.type.value, v.layout.version, actor=self.actor)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error", timeout=8)
            return
        self.notify(f"{lay.type.value} v{lay.version} is active: every channel prints it now.")
        self.reload_now()
