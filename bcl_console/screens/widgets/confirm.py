"""A confirmation that names what will happen: an application approved or rejected, money
paid. ``y`` does it and ``n`` or Escape does nothing; Enter alone never confirms. Money
asks more: the operator types a word (``pay``), so a double tap of the key that opened the
dialog, or a key's auto-repeat, cannot pay."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from bcl_console.screens.widgets.dialog import dialog_css


class ConfirmDialog(ModalScreen[bool]):
    """Dismisses with True when confirmed, False otherwise."""

    DEFAULT_CSS = dialog_css("ConfirmDialog", width=64, border="$warning",
                             extra="ConfirmDialog .help { padding-top: 1; } ConfirmDialog Input { margin-top: 1; }")
    BINDINGS = [
        Binding("escape", "answer(False)", "No", show=False, priority=True),
    ]

    def __init__(self, title: str, what: str, *, type_to_confirm: str | None = None) -> None:
        super().__init__()
        self._title = title
        self._what = what
        self._word = type_to_confirm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="title", id="confirm-title")
            yield Static(self._what, id="confirm-what")
            if self._word:
                yield Input(placeholder=f"type {self._word} and Enter", id="confirm-word")
                yield Static(f"type {self._word}, then Enter: yes, do it · Esc: no, change nothing",
                             classes="help")
            else:
                yield Static("y: yes, do it · n / Esc: no, change nothing", classes="help")

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        if self._word:
            return  # only the typed word confirms
        if key == "y":
            self.dismiss(True)
        elif key == "n":
            self.dismiss(False)

    @on(Input.Submitted, "#confirm-word")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip().lower() == self._word:
            self.dismiss(True)
        else:
            self.query_one("#confirm-word", Input).value = ""

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
