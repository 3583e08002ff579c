"""Text helpers for terminal cells: CJK characters take two columns."""

from __future__ import annotations

from rich.cells import cell_len


def pad(text: str, width: int) -> str:
    """Left-align ``text`` in ``width`` terminal cells."""
    return text + " " * max(0, width - cell_len(text))
