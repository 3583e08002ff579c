"""A confirmation that names what will happen: money paid, a year closed, an application
approved or rejected. ``y`` or Enter does it, ``n`` or Escape does nothing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from bcl_console.screens.widgets.dialog import dialog_css


class ConfirmDialog(ModalScreen[bool]):
    """Dismisses with True when confirmed, False otherwise."""

    DEFAULT_CSS = dialog_css("ConfirmDialog", width=64, border="$warning",
                             extra="ConfirmDialog .help { padding-top: 1; }")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", priority=True),
        Binding("enter", "answer(True)", "Yes", show=False, priority=True),
        Binding("n", "answer(False)", "No", priority=True),
        Binding("escape", "answer(False)", "No", show=False, priority=True),
    ]

    def __init__(self, title: str, what: str) -> None:
        super().__init__()
        self._title = title
        self._what = what

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="title", id="confirm-title")
            yield Static(self._what, id="confirm-what")
            yield Static("y / Enter: yes, do it · n / Esc: no, change nothing", classes="help")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
