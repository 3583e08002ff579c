"""Drawing counts on a textual-plotext chart the same way on every screen."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot


def draw_counts(plot: PlotextPlot, title: str, labels: Sequence[str | int], counts: Sequence[int], *,
                bars: bool = True) -> None:
    """Replace what ``plot`` shows with ``counts`` (bars, or a line over numeric labels).
    The count axis starts at 0 and reaches at least 1: plotext centres an all-zero series on
    0 and would draw an axis from -1 to 1, which reads as negative counts."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    if bars:
        plt.bar(list(labels), list(counts))
    else:
        plt.plot(list(labels), list(counts))
    plt.ylim(0, max(1, max(counts, default=0)))
    plt.title(title)
    plot.refresh()
