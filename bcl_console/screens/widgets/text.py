"""Text helpers for terminal cells: CJK characters take two columns."""

from __future__ import annotations

from rich.cells import cell_len

from bcl_console.domain.fiscal import tokyo_at


def pad(text: str, width: int) -> str:
    """Left-align ``text`` in ``width`` terminal cells."""
    return text + " " * max(0, width - cell_len(text))


def jst_minute(iso: str) -> str:
    """A stored instant (ISO 8601, UTC) as Japan's month, day, hour and minute: ``11-26 10:44``."""
    try:
        return f"{tokyo_at(iso):%m-%d %H:%M}"
    except ValueError:
        return iso[5:16]


def jst_datetime(iso: str | None) -> str:
    """A stored instant as Japan's date and time to the minute: ``2026-12-01 10:00``
    (every time an operator reads is Japan time, in this one form or ``jst_minute``)."""
    if not iso:
        return "-"
    try:
        return f"{tokyo_at(iso):%Y-%m-%d %H:%M}"
    except ValueError:
        return iso[:16].replace("T", " ")
