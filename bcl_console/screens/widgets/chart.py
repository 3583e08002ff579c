"""Drawing counts on a textual-plotext chart the same way on every screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.app import RenderResult
from textual_plotext import PlotextPlot


class BarChart(PlotextPlot):
    """Bars labelled at a regular step: every bar when they are wide enough for their labels,
    else every second, third … bar, chosen again at each render for the width the chart has.
    (plotext drops whichever labels would touch, which labelled twelve months
    "05 07 09 10 12 03".)"""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._labels: list[str] = []
        self._margin = 0  # cells left of the bars: the count axis's labels and its ┤

    def label_bars(self, labels: Sequence[str], margin: int) -> None:
        self._labels = list(labels)
        self._margin = margin

    def render(self) -> RenderResult:
        if self._labels:
            step = label_step(len(self._labels), max(self.size.width - self._margin - 2, 1),
                              max(cell_len(label) for label in self._labels) + 1)
            self.plt.xticks(list(range(1, len(self._labels) + 1, step)), self._labels[::step])
        return super().render()


def label_step(bars: int, width: int, label_width: int) -> int:
    """Label every ``step``-th of ``bars`` bars drawn across ``width`` cells, the smallest
    step whose labels (``label_width`` cells each, with the gap) do not touch."""
    step = 1
    while step < bars and step * width < label_width * bars:
        step += 1
    return step


def draw_counts(plot: PlotextPlot, title: str, labels: Sequence[str | int], counts: Sequence[int], *,
                bars: bool = True) -> None:
    """Replace what ``plot`` shows with ``counts`` (bars, or a line over numeric labels).
    The count axis starts at 0 and is marked in whole numbers: plotext would centre an
    all-zero series on 0 (an axis from -1 to 1, as if counts could be negative) and mark
    small counts in fractions (1.2, 2.3 …)."""
    clear_chart(plot)
    plt = plot.plt
    ticks = count_ticks(max(counts, default=0))
    if bars:
        plt.bar(list(labels), list(counts))
        if isinstance(plot, BarChart):
            plot.label_bars([str(label) for label in labels], len(f"{ticks[-1]:,}") + 1)
    else:
        xs = [float(x) for x in labels]
        plt.plot(xs, list(counts))
        if xs:  # three whole-number marks: first, middle, last (plotext writes -59.5, -29.8 …)
            marks = [xs[0], xs[len(xs) // 2], xs[-1]]
            plt.xticks(marks, [f"{x:g}" for x in marks])
    plt.ylim(0, ticks[-1])
    plt.yticks([float(t) for t in ticks], [f"{t:,}" for t in ticks])
    plt.title(title)
    plot.refresh()


def clear_chart(plot: PlotextPlot) -> None:
    """Empty ``plot`` (data, labels and limits); the widget redraws on its next refresh."""
    plot.plt.clear_data()
    plot.plt.clear_figure()
    if isinstance(plot, BarChart):
        plot.label_bars([], 0)


def count_ticks(top: int) -> list[int]:
    """Whole-number marks from 0 to the first at or above ``top``: at most six intervals of
    1, 2 or 5 × 10ⁿ."""
    step = 1
    while top > 5 * step:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, 50 …
    return list(range(0, max(top, 1) + step, step))
