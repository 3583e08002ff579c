"""Count charts: the axis never suggests negative counts."""

from __future__ import annotations

import re

from textual_plotext import PlotextPlot

from bcl_console.screens.widgets.chart import count_ticks, draw_counts


def ticks(plot: PlotextPlot) -> list[float]:
    """The values written on the count (y) axis."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build())
    return [float(t) for t in re.findall(r"^\s*(-?[0-9.]+)┤", text, flags=re.MULTILINE)]


def test_an_all_zero_series_is_drawn_from_zero_up() -> None:
    plot = PlotextPlot()
    plot.plt.plotsize(40, 12)
    draw_counts(plot, "by month", ["04", "05"], [0, 0])
    assert min(ticks(plot)) == 0 and max(ticks(plot)) == 1
    draw_counts(plot, "issued/s", list(range(-119, 1)), [0] * 120, bars=False)
    assert min(ticks(plot)) == 0 and max(ticks(plot)) == 1
    seconds_axis = re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build()).rstrip().splitlines()[-1]
    assert seconds_axis.split() == ["-119", "-59", "0"]  # whole seconds, not -59.5


def test_counts_reach_the_top_of_the_axis() -> None:
    plot = PlotextPlot()
    plot.plt.plotsize(40, 12)
    draw_counts(plot, "by damage", ["全壊", "半壊"], [7, 3])
    assert ticks(plot) == [8, 6, 4, 2, 0]  # whole numbers, not 1.2, 2.3 …


def test_count_ticks_are_few_whole_and_evenly_spaced() -> None:
    assert count_ticks(0) == [0, 1]
    assert count_ticks(7) == [0, 2, 4, 6, 8]
    assert count_ticks(68) == [0, 20, 40, 60, 80]
    assert count_ticks(377) == [0, 100, 200, 300, 400]
    for top in [*range(2000), 12_345, 9_790_170]:
        marks = count_ticks(top)
        step = marks[1]
        assert marks[0] == 0 and marks[-1] >= top and marks[-2] < max(top, 1), top
        assert 2 <= len(marks) <= 7 and all(b - a == step for a, b in zip(marks, marks[1:], strict=False))
        assert str(step).rstrip("0") in ("1", "2", "5"), top
