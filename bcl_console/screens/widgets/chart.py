"""Drawing counts on a textual-plotext chart the same way on every screen."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot


def draw_counts(plot: PlotextPlot, title: str, labels: Sequence[str | int], counts: Sequence[int], *,
                bars: bool = True) -> None:
    """Replace what ``plot`` shows with ``counts`` (bars, or a line over numeric labels).
    The count axis starts at 0 and is marked in whole numbers: plotext would centre an
    all-zero series on 0 (an axis from -1 to 1, as if counts could be negative) and mark
    small counts in fractions (1.2, 2.3 …)."""
    clear_chart(plot)
    plt = plot.plt
    if bars:
        plt.bar(list(labels), list(counts))
    else:
        xs = [float(x) for x in labels]
        plt.plot(xs, list(counts))
        if xs:  # three whole-number marks: first, middle, last (plotext writes -59.5, -29.8 …)
            marks = [xs[0], xs[len(xs) // 2], xs[-1]]
            plt.xticks(marks, [f"{x:g}" for x in marks])
    ticks = count_ticks(max(counts, default=0))
    plt.ylim(0, ticks[-1])
    plt.yticks([float(t) for t in ticks], [f"{t:,}" for t in ticks])
    plt.title(title)
    plot.refresh()


def clear_chart(plot: PlotextPlot) -> None:
    """Empty ``plot`` (data, labels and limits); the widget redraws on its next refresh."""
    plot.plt.clear_data()
    plot.plt.clear_figure()


def count_ticks(top: int) -> list[int]:
    """Whole-number marks from 0 to the first at or above ``top``: at most six intervals of
    1, 2 or 5 × 10ⁿ."""
    step = 1
    while top > 5 * step:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, 50 …
    return list(range(0, max(top, 1) + step, step))
