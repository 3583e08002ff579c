"""Text helpers for terminal cells: phrases packed to a width, values fitted, Japan dates."""

from __future__ import annotations

from rich.cells import cell_len

from bcl_console.screens.widgets.text import fit, jst_day, pack


def test_phrases_break_between_phrases_only() -> None:
    phrases = ["[b]2026-06-17 10:00[/b] JST", "API http://127.0.0.1:8470", "5 municipalities", "3 open now"]
    lines = pack(phrases, 40).splitlines()
    assert lines == ["[b]2026-06-17 10:00[/b] JST", "API http://127.0.0.1:8470", "5 municipalities · 3 open now"]
    assert pack(phrases, 200) == " · ".join(phrases)
    assert pack(phrases, 0) == " · ".join(phrases)  # not laid out yet: one line
    assert pack(["北山町 19", "桜川村 7"], 20) == "北山町 19 · 桜川村 7"  # CJK counts two cells
    assert pack(["北山町 19", "桜川村 7"], 19) == "北山町 19\n桜川村 7"


def test_fit_cuts_by_cells_and_says_so() -> None:
    assert fit("ファミリーストア", 16) == "ファミリーストア"
    assert fit("ファミリーストア", 9) == "ファミリ…" and cell_len(fit("ファミリーストア", 9)) <= 9
    assert fit("simulator", 6) == "simul…"


def test_a_day_is_japan_s_day() -> None:
    assert jst_day("2026-06-16T23:30:00+00:00") == "06-17"  # the UTC date is still the 16th
    assert jst_day("2026-06-17T01:00:00+00:00") == "06-17"
