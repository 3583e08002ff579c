"""A small modal form: labelled inputs, submit with Enter, cancel with Escape.

The form calls the service itself; a rule the service rejects is shown inside the form
(one sentence) and nothing closes, so the operator can correct the value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from bcl_console.domain.errors import DomainError
from bcl_console.screens.widgets.dialog import dialog_css


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    value: str = ""
    placeholder: str = ""


class FormDialog(ModalScreen[bool]):
    """Dismisses with True once ``submit`` succeeded, False when cancelled.

    At 80×24 a form of nine fields does not fit: the fields scroll (the focused one is
    always scrolled into view, Tab moves on), while the title, the error line and the keys
    stay on screen below them, so a refused value is never hidden."""

    DEFAULT_CSS = dialog_css("FormDialog", width=72, extra="""
    FormDialog #form-fields { height: auto; max-height: 70vh; scrollbar-size-vertical: 1; }
    FormDialog Label { padding-top: 0; color: $text-muted; }
    FormDialog Input { margin-bottom: 1; background: $boost; }
    FormDialog Input:focus { background: $accent 30%; }
    FormDialog .error { color: $error; height: auto; }
    """)
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        fields: Sequence[FormField],
        submit: Callable[[dict[str, str]], Awaitable[None]],
        help_text: str = "Enter: save · Tab: next field · Esc: cancel",
    ) -> None:
        super().__init__()
        self._title = title
        self._fields = list(fields)
        self._submit = submit
        self._help = help_text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="title")
            with VerticalScroll(id="form-fields", can_focus=False):
                for f in self._fields:
                    yield Label(f.label)
                    yield Input(value=f.value, placeholder=f.placeholder, id=f"field-{f.name}", compact=True)
            yield Static("", classes="error", id="form-error")
            yield Static(self._help, classes="help")

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value for f in self._fields}

    @on(Input.Submitted)
    async def _submitted(self) -> None:
        error = self.query_one("#form-error", Static)
        try:
            await self._submit(self.values())
        except DomainError as exc:
            error.update(exc.sentence())
            if exc.field:  # take the operator to the field at fault (scrolled into view)
                for box in self.query(f"#field-{exc.field}").results(Input):
                    box.focus()
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
