"""Text helpers for terminal cells: CJK characters take two columns."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.content import Content

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


def jst_day(iso: str) -> str:
    """A stored instant as Japan's month and day, ``11-26`` (the date part of ``jst_minute``:
    the stored UTC date is the day before until 09:00 in Japan)."""
    return jst_minute(iso)[:5]


def jst_datetime(iso: str | None) -> str:
    """A stored instant as Japan's date and time to the minute: ``2026-12-01 10:00``
    (every time an operator reads is Japan time, in this one form or ``jst_minute``)."""
    if not iso:
        return "-"
    try:
        return f"{tokyo_at(iso):%Y-%m-%d %H:%M}"
    except ValueError:
        return iso[:16].replace("T", " ")


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells, ending in … when it was cut."""
    if cell_len(text) <= width:
        return text
    out = ""
    for char in text:
        if cell_len(out + char) > width - 1:
            break
        out += char
    return out + "…"


def pack(phrases: Sequence[str], width: int, sep: str = " · ") -> str:
    """``phrases`` (Textual markup) joined by ``sep`` into lines of at most ``width`` cells,
    broken between phrases only, never inside one (Static would wrap "· 5 / municipalities").
    A phrase wider than ``width`` gets a line of its own (and wraps there); a ``width`` of 0
    or less (not laid out yet) gives one line."""
    lines: list[str] = []
    line, used = "", 0
    gap = cell_len(sep)
    for phrase in phrases:
        size = Content.from_markup(phrase).cell_length
        if line and (width <= 0 or used + gap + size <= width):
            line, used = line + sep + phrase, used + gap + size
            continue
        if line:
            lines.append(line)
        line, used = phrase, size
    if line:
        lines.append(line)
    return "\n".join(lines)
