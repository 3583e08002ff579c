"""Issuance Monitor: store issuance live — a bounded feed (never a resident's name),
today's store issuances per type and municipality (test stages counted apart), every
reason refused today with its count, a throughput chart, suspend/resume of the selected
municipality, and simulated traffic for trainers."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from rich.cells import cell_len
from rich.markup import escape
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header
from textual_plotext import PlotextPlot

from bcl_console.clients.simulator import Simulator, load_cards
from bcl_console.domain.fiscal import tokyo_at
from bcl_console.domain.municipality import CertificateType
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets import FormDialog, FormField
from bcl_console.screens.widgets.chart import draw_counts
from bcl_console.screens.widgets.phrases import Phrases
from bcl_console.screens.widgets.table import keep_cursor, sync_rows
from bcl_console.screens.widgets.text import fit
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import today_in_japan
from bcl_console.services.platform.events import IssuanceChanged, MunicipalityChanged, RelayRefused

FEED_ROWS = 40
_SHORT = {t.value: t.short for t in CertificateType}
#: The feed's columns (key, header). Each is as wide as its widest value, plus one blank
#: cell between columns; the latency is right-aligned.
COLUMNS = (("at", "time"), ("muni", "団体"), ("type", "type"), ("op", "operator"), ("state", "state"),
           ("ms", "ms"))
#: Columns the chart keeps beside the feed at the narrowest; it takes whatever else there is.
CHART_MIN = 22


class MonitorScreen(LiveScreen):
    EVENT_TYPES = (IssuanceChanged, RelayRefused, MunicipalityChanged)
    BINDINGS = [
        Binding("s", "suspend", "Suspend"),
        Binding("r", "resume", "Resume"),
        Binding("t", "traffic", "Traffic on/off"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Phrases(id="monitor-summary")
        with Horizontal(id="monitor-body"):
            # No cell padding: the column widths below hold the gaps, so the feed is exactly as
            # wide as its values (at 80 columns a two-cell padding pushed the latency off the edge).
            table: DataTable[str] = DataTable(id="monitor-feed", cursor_type="row", zebra_stripes=True,
                                              cell_padding=0)
            yield table
            yield PlotextPlot(id="monitor-chart")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Issuance Monitor"
        self._simulator: Simulator | None = None
        self._names: dict[str, str] = {}
        self._rows: dict[str, dict[str, str]] = {}
        self._widths: dict[str, int] = {}
        super().on_mount()

    def on_resize(self, event: events.Resize) -> None:
        self._show_feed()

    async def reload(self) -> None:
        # Read each time (one small query): a municipality added since must show by name.
        self._names = {v.code: v.municipality.name for v in await self.runtime.municipalities.all()}
        snap = await self.runtime.monitor.snapshot(FEED_ROWS)
        today = today_in_japan(self.runtime.clock)
        types = " ".join(f"{_SHORT[t.value]} {snap.by_type.get(t.value, 0)}" for t in CertificateType)
        munis = [f"{escape(self._names.get(c, c))} {n}" for c, n in sorted(snap.by_municipality.items())]
        # Other channels are not store issuance (a test stage of a city not live yet): apart.
        others = [f"{escape(channel)} " + " ".join(f"{escape(self._names.get(c, c))} {n}" for c, n in sorted(by_code.items()))
                  for channel, by_code in snap.other_channels.items()]
        if others:
            others[0] = f"not at stores: {others[0]}"
        # Every reason refused today, however many (the line wraps between reasons).
        refusals = [f"{escape(r)} {n}" for r, n in snap.refusals] or ["none"]
        traffic = "[b green]simulator ON[/]" if self._simulator else "simulator off (t)"
        self.query_one("#monitor-summary", Phrases).show(
            [f"[b]Today[/b] {snap.today_total} issued at stores", types, traffic],
            [f"by municipality: {(munis or ['—'])[0]}", *munis[1:], *others],
            [f"refusals: {refusals[0]}", *refusals[1:]],
        )
        self._rows = {
            row.request_id: {
                "at": _jst(row.at, today),
                "muni": self._names.get(row.municipality_code, row.municipality_code),
                "type": _SHORT.get(row.type, row.type),
                "op": row.operator or row.channel,
                "state": row.state.replace("awaiting_payment", "awaiting"),
                "ms": str(row.latency_ms) if row.latency_ms is not None else "",
            }
            for row in snap.feed
        }
        self._show_feed()
        draw_counts(self.query_one("#monitor-chart", PlotextPlot), "issued/s, 2 min",
                    list(range(-len(snap.throughput) + 1, 1)), snap.throughput, bars=False)

    def _show_feed(self) -> None:
        """Lay the feed out for the screen's width: every column as wide as its widest value
        (the operator's whole name), the chart beside it with the rest. Only when the screen is
        too narrow even for that are operators' names cut (with …). Run on every reload and on
        every resize, so a resize back to 80 columns lays it out again."""
        table = self.query_one("#monitor-feed", DataTable)
        widths = {key: max([cell_len(label), *(cell_len(r[key]) for r in self._rows.values())])
                  for key, label in COLUMNS}
        gaps = len(COLUMNS) - 1
        scrollbar = table.styles.scrollbar_size_vertical
        room = (self.size.width or self.app.size.width) - CHART_MIN - scrollbar - gaps
        widths["op"] = max(cell_len("operator"), min(widths["op"], room - sum(widths.values()) + widths["op"]))
        restore_cursor = None
        if widths != self._widths:  # new columns: the rows are laid out anew, the selection kept
            restore_cursor = keep_cursor(table)
            self._widths = widths
            table.clear(columns=True)
            for key, label in COLUMNS:
                last = key == COLUMNS[-1][0]
                table.add_column(label.rjust(widths[key]) if key == "ms" else label, key=key,
                                 width=widths[key] + (0 if last else 1))
            table.styles.width = sum(widths.values()) + gaps + scrollbar
        shown = {
            key: {c: (v.rjust(widths[c]) if c == "ms" else fit(v, widths[c])) for c, v in row.items()}
            for key, row in self._rows.items()
        }
        sync_rows(table, shown, in_order=True)  # the service's order: newest first
        if restore_cursor is not None:
            restore_cursor()

    def _selected_municipality(self) -> str | None:
        table = self.query_one("#monitor-feed", DataTable)
        if table.row_count == 0:
            self.notify("No issuance selected yet.", severity="warning")
            return None
        row = table.get_row_at(table.cursor_row)
        name = str(row[1])
        return next((c for c, n in self._names.items() if n == name), name)

    def action_suspend(self) -> None:
        code = self._selected_municipality()
        if code is None:
            return

        async def submit(v: dict[str, str]) -> None:
            await self.runtime.municipalities.suspend(code, v["reason"], actor=Actor.local("console"))
            self.notify(f"{self._names.get(code, code)}: store issuance suspended.", severity="warning")

        self.app.push_screen(FormDialog(f"Suspend store issuance of {self._names.get(code, code)}",
                                        [FormField("reason", "Reason")], submit))

    async def action_resume(self) -> None:
        code = self._selected_municipality()
        if code is None:
            return
        await self.runtime.municipalities.resume(code, actor=Actor.local("console"))
        self.notify(f"{self._names.get(code, code)}: store issuance resumed.")

    def action_traffic(self) -> None:
        if self._simulator is not None:
            self._simulator.stop()
            self.notify("Stopping simulated traffic …")
            return
        if self.runtime.http is None:
            self.notify("The HTTP API is not running, so there is nothing to drive.", severity="error")
            return
        self.run_traffic()

    @work(group="traffic", exclusive=True, exit_on_error=False, description="simulated kiosk traffic")
    async def run_traffic(self) -> None:
        cards_dir: Path = self.runtime.settings.cards_dir
        cards = await asyncio.to_thread(load_cards, cards_dir)
        if not cards:
            self.notify(f"No test cards in {cards_dir}: run bcl-console demo.", severity="error")
            return
        http = self.runtime.http
        assert http is not None
        token = await self.runtime.tokens.issue("kiosk", "simulator", actor=Actor.local("console"))
        self._simulator = Simulator(http.url, token, cards, kiosks=4, rate=5, duration=24 * 3600)
        self.notify("Simulated traffic: 4 kiosks, 5 flows/s. Press t again to stop.")
        self.reload_now()
        try:
            report = await self._simulator.run()
        finally:
            self._simulator = None
        done = report.outcomes.get("printed", 0)
        self.notify(f"Simulated traffic stopped: {report.flows} flows, {done} printed.")
        self.reload_now()


def _jst(iso: str, today: date) -> str:
    """Japan time of day for today's rows; the month and day for older ones (the feed also
    shows the latest history, and a bare 21:33 of last week would read as tonight)."""
    try:
        at = tokyo_at(iso)
    except ValueError:
        return iso[:19]
    return f"{at:%H:%M:%S}" if at.date() == today else f"{at:%m-%d}"
