"""Count charts: the axis never suggests negative counts."""

from __future__ import annotations

import re

from textual_plotext import PlotextPlot

from bcl_console.screens.widgets.chart import draw_counts


def ticks(plot: PlotextPlot) -> list[float]:
    """The values written on the count (y) axis."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build())
    return [float(t) for t in re.findall(r"^\s*(-?[0-9.]+)┤", text, flags=re.MULTILINE)]


def test_an_all_zero_series_is_drawn_from_zero_up() -> None:
    plot = PlotextPlot()
    plot.plt.plotsize(40, 12)
    draw_counts(plot, "by month", ["04", "05"], [0, 0])
    assert min(ticks(plot)) == 0 and max(ticks(plot)) == 1
    draw_counts(plot, "issued/s", list(range(-3, 1)), [0, 0, 0, 0], bars=False)
    assert min(ticks(plot)) == 0 and max(ticks(plot)) == 1


def test_counts_reach_the_top_of_the_axis() -> None:
    plot = PlotextPlot()
    plot.plt.plotsize(40, 12)
    draw_counts(plot, "by damage", ["全壊", "半壊"], [7, 3])
    assert min(ticks(plot)) == 0 and max(ticks(plot)) == 7
