"""Terminals of one municipality, opened from the Municipalities area with ``t``: its
management terminals (管理端末, /manage/v1), and with ``k`` its counter terminals
(らくらく窓口, /counter/v1); the terminals registered, in use and revoked; ``a`` registers
one and shows its token once; ``x`` revokes the selected one, whose token is refused
from its next request."""

from __future__ import annotations

from typing import cast

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from bcl_console.screens.base import Console
from bcl_console.screens.widgets import ConfirmDialog, FormDialog, FormField
from bcl_console.screens.widgets.dialog import dialog_css
from bcl_console.screens.widgets.table import selected_key, sync_rows
from bcl_console.screens.widgets.text import fit, jst_datetime
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from bcl_console.services.platform.terminals import TerminalService
from bcl_console.store.api import TerminalRecord


class TerminalsScreen(ModalScreen[None]):
    """The terminals of one municipality, over the Municipalities area."""

    DEFAULT_CSS = dialog_css("TerminalsScreen", width=78, extra="""
    TerminalsScreen #terminal-table { height: auto; max-height: 12; }
    TerminalsScreen #terminal-detail { height: auto; padding-top: 1; }
    """)
    BINDINGS = [
        Binding("a", "add", "Add terminal"),
        Binding("x", "revoke", "Revoke"),
        Binding("k", "kind", "Counter/management"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, code: str, name: str) -> None:
        super().__init__()
        self.code = code
        self.municipality_name = name
        self._terminals: dict[str, TerminalRecord] = {}
        #: Which kind is shown: management terminals, else counter terminals (k toggles).
        self.counter = False

    @property
    def runtime(self) -> Runtime:
        return cast(Console, self.app).runtime

    @property
    def service(self) -> TerminalService:
        return self.runtime.counters if self.counter else self.runtime.terminals

    @property
    def heading(self) -> str:
        kind = "Counter terminals (らくらく窓口)" if self.counter else "Management terminals (管理端末)"
        return f"{kind} of {escape(self.municipality_name)} {self.code}"

    @property
    def actor(self) -> Actor:
        return Actor.local("console")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.heading, classes="title", id="terminal-title")
            table: DataTable[str] = DataTable(id="terminal-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="terminal-detail")
            yield Static("a: add (its token is shown once) · x: revoke · k: counter/management · Esc: close",
                         classes="help")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#terminal-table", DataTable)
        for key, label in (("id", "id"), ("name", "name"), ("state", "state"),
                           ("created", "registered"), ("revoked", "revoked")):
            table.add_column(label, key=key)
        table.focus()
        self.reload_now()

    def reload_now(self) -> None:
        self.run_worker(self.reload, group="terminals", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]

    async def reload(self) -> None:
        found = await self.service.list(self.code)
        self._terminals = {str(t.id): t for t in found}
        sync_rows(self.query_one("#terminal-table", DataTable), {
            str(t.id): {"id": str(t.id), "name": fit(t.name, 28), "state": "in use" if t.active else "revoked",
                        "created": jst_datetime(t.created_at), "revoked": jst_datetime(t.revoked_at)}
            for t in found
        })
        self.show_detail()

    @property
    def selected(self) -> TerminalRecord | None:
        key = selected_key(self.query_one("#terminal-table", DataTable))
        return None if key is None else self._terminals.get(key)

    @on(DataTable.RowHighlighted, "#terminal-table")
    def show_detail(self) -> None:
        detail = self.query_one("#terminal-detail", Static)
        in_use = sum(t.active for t in self._terminals.values())
        t = self.selected
        if t is None:
            detail.update("No terminal registered yet: press [b]a[/b] to add one.")
            return
        who = f"registered {jst_datetime(t.created_at)} by {escape(t.created_by)}"
        if not t.active:
            who += f"; revoked {jst_datetime(t.revoked_at)} by {escape(t.revoked_by or '')}"
        what = ("A counter terminal issues to this municipality's residents on their card: /counter/v1 "
                "(challenges, sessions, requests)" if self.counter else
                "A terminal controls this municipality only: GET /manage/v1/status, PUT …/hours, "
                "POST …/suspend, …/resume")
        detail.update(f"{in_use} in use · [b]{escape(t.name)}[/b] (id {t.id}): {who}\n{what}")

    # -- actions ---------------------------------------------------------------------
    def action_add(self) -> None:
        issued: list[str] = []

        async def submit(v: dict[str, str]) -> None:
            done = await self.service.add(self.code, v["name"], actor=self.actor)
            issued.append(done.token)
            self.notify(f"{done.terminal.name}: registered for {self.municipality_name}.")

        def after(saved: bool | None) -> None:
            if saved and issued:
                self.reload_now()
                self.app.push_screen(FormDialog(
                    "Its token — copy it now: it is shown once, and only its hash is kept",
                    [FormField("token", "Token (Authorization: Bearer …)", issued[0])],
                    _nothing, help_text="Esc: close (the token cannot be shown again)",
                ))

        self.app.push_screen(FormDialog(
            f"Register a {self.service.kind.label} of {self.municipality_name}",
            [FormField("name", "Terminal name", placeholder="総務課 LGWAN端末")],
            submit,
        ), after)

    def action_revoke(self) -> None:
        t = self.selected
        if t is None:
            self.notify("No terminal to revoke.", severity="warning")
            return
        if not t.active:
            self.notify(f"{t.name} is already revoked.")
            return

        async def revoke(yes: bool | None) -> None:
            if not yes:
                return
            record, changed = await self.service.revoke(self.code, str(t.id), actor=self.actor)
            self.notify(f"{record.name}: revoked; its token is refused from now on." if changed
                        else f"{record.name} was already revoked.", severity="warning")
            self.reload_now()

        self.app.push_screen(ConfirmDialog(
            f"Revoke {t.name}?",
            f"The terminal {t.name} (id {t.id}) of {self.municipality_name} loses its access at once: "
            "its token is refused from its next request. This cannot be undone (register a new one instead).",
        ), revoke)

    def action_kind(self) -> None:
        self.counter = not self.counter
        self.query_one("#terminal-title", Static).update(self.heading)
        self.reload_now()

    def action_close(self) -> None:
        self.dismiss(None)


async def _nothing(values: dict[str, str]) -> None:
    return None
