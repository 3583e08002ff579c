"""A status block of phrases ("5 municipalities", "3 open now" …) that wraps between
phrases only, at whatever width it has: at 80 columns a line never breaks inside a phrase,
and after a resize the phrases are laid out again for the new width."""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.widgets import Static

from bcl_console.screens.widgets.text import pack


class Phrases(Static):
    """Lines of phrases; each line's phrases are joined by ``sep`` and packed to the width."""

    def __init__(self, *, id: str | None = None, classes: str | None = None, sep: str = " · ") -> None:
        super().__init__("", id=id, classes=classes)
        self._lines: list[list[str]] = []
        self._sep = sep
        self._shown: str | None = None

    def show(self, *lines: Sequence[str]) -> None:
        """Show ``lines`` (each a sequence of phrases in Textual markup)."""
        self._lines = [list(line) for line in lines]
        self._lay_out()

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        width = self.content_size.width
        text = "\n".join(pack(line, width, self._sep) for line in self._lines)
        if text != self._shown:
            self._shown = text
            self.update(text)
