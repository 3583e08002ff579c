"""What the operator sees: the console's screen as lines of text, cropped to a widget."""

from __future__ import annotations

from textual.widget import Widget

from bcl_console.app import BclApp


def lines_of(app: BclApp, widget: Widget, *, right: int = 0) -> list[str]:
    """The text on screen inside ``widget``'s region, one string per row, without the last
    ``right`` cells (a scrollbar). Cropped by terminal cells, so a value cut by the edge of
    the widget shows cut, as it does on the terminal."""
    region = widget.region
    strips = app.screen._compositor.render_strips()
    return [strips[y].crop(region.x, region.right - right).text for y in range(region.y, region.bottom)]
