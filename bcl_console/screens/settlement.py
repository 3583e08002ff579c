"""Settlement: a fiscal year's statement per municipality with totals (the clock's year
first), one municipality's certificates by type and a bar chart by month, commissions per
kiosk operator, closing the year behind a confirmation, writing the statements, and the
scheduled jobs (visible and triggerable)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from bcl_console.domain.errors import DomainError, InvalidInput
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.municipality import CertificateType
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets import FormDialog, FormField
from bcl_console.screens.widgets.chart import BarChart, clear_chart, draw_counts
from bcl_console.screens.widgets.download import offer
from bcl_console.screens.widgets.phrases import Phrases
from bcl_console.screens.widgets.table import keep_cursor, selected_key
from bcl_console.screens.widgets.text import jst_datetime
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import IssuanceChanged


class SettlementScreen(LiveScreen):
    EVENT_TYPES = (IssuanceChanged,)
    # A reload settles the whole year (0.7 s at ten million issuances), and under kiosk
    # traffic every issuance is an event: fold them over seconds, not a third of one.
    # The screen's own actions (close, write, a job, another year) reload at once.
    REFRESH_DELAY = 5.0
    BINDINGS = [
        Binding("left_square_bracket", "year(-1)", "Prev FY"),
        Binding("right_square_bracket", "year(1)", "Next FY"),
        Binding("o", "operators", "Operators"),
        Binding("c", "close_year", "Close FY"),
        Binding("w", "write", "Statements"),
        Binding("j", "run_job", "Run job"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Phrases(id="settle-title")
        with Horizontal(id="settle-body"):
            table: DataTable[str] = DataTable(id="settle-table", cursor_type="row", zebra_stripes=True)
            yield table
            with Vertical(id="settle-side"):
                yield Static("", id="settle-detail")
                yield BarChart(id="settle-chart")
        yield Phrases(id="settle-jobs")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Settlement"
        # The clock's fiscal year, running (`[` goes back to the last one that ended).
        self.fiscal_year = self.runtime.settlement.current_fiscal_year()
        self.show_operators = False
        self.doc: dict[str, Any] | None = None
        super().on_mount()

    async def reload(self) -> None:
        try:
            self.doc = await self.runtime.settlement.settle(self.fiscal_year)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error")
            return
        doc = self.doc
        t = doc["totals"]
        state = "[b green]closed[/]" if doc["closed"] else "[b yellow]open[/] (c closes it after 31 March)"
        self.query_one("#settle-title", Phrases).show([
            f"[b]{doc['fiscal_year_ja']}[/b] FY{doc['fiscal_year']}", state, f"{t['billable']:,} billable",
            f"usage fee {t['usage_fee']:,}円", f"commission {t['commission']:,}円",
            f"contributions {t['contribution']:,}円",
        ])
        table = self.query_one("#settle-table", DataTable)
        restore_cursor = keep_cursor(table)
        table.clear(columns=True)
        if self.show_operators:
            for label in ("operator", "billable", "commission", "adj."):
                table.add_column(label, key=label)
            for op in doc["operators"]:
                table.add_row(op["operator"], f"{op['billable']:,}", f"{op['commission']:,}円",
                              f"{op['adjustment_billable']:+,}", key=op["operator"])
        else:
            for label in ("code", "name", "billable", "usage fee", "commission", "fees", "net", "負担金", "adj."):
                table.add_column(label, key=label)
            for r in doc["municipalities"]:
                table.add_row(r["code"], r["name"], f"{r['billable']:,}", *_yen(r["usage_fee"], r["commission"],
                              r["fees_collected"], r["net_to_municipality"], r["contribution"]),
                              f"{r['adjustments']['billable']:+,}", key=r["code"])
            table.add_row("", "total", f"{t['billable']:,}", *_yen(t["usage_fee"], t["commission"],
                          t["fees_collected"], t["net_to_municipality"], t["contribution"]),
                          f"{t['adjustment_billable']:+,}", key="__total__")
        restore_cursor()
        self.show_detail()
        jobs = await self.runtime.scheduler.jobs()
        self.query_one("#settle-jobs", Phrases).show([
            f"[b]{j.name}[/b] "
            + (f"next {tokyo(j.next_run):%Y-%m-%d %H:%M} JST" if j.next_run else "not scheduled")
            + (f", last {j.last_outcome} {jst_datetime(j.last_run)}" if j.last_run else ", never run")
            for j in jobs])

    @on(DataTable.RowHighlighted, "#settle-table")
    def _highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        if self.doc is None or self.show_operators:
            return
        key = selected_key(self.query_one("#settle-table", DataTable))
        if key is None:
            return
        row = next((r for r in self.doc["municipalities"] if r["code"] == key), None)
        detail = self.query_one("#settle-detail", Static)
        plot = self.query_one("#settle-chart", PlotextPlot)
        if row is None:
            detail.update("Totals of all municipalities.")
            clear_chart(plot)
            plot.refresh()
            return
        c = row["certificates"]
        # A statement closed before a type existed has no count of it: 0.
        detail.update(escape(f"{row['name']}: " + " ".join(f"{t.short} {c.get(t.value, 0)}" for t in CertificateType)))
        draw_counts(plot, "by month", [m[5:] for m in row["by_month"]],
                    [sum(v.values()) for v in row["by_month"].values()])

    def action_year(self, step: int) -> None:
        target = self.fiscal_year + step
        if target > self.runtime.settlement.current_fiscal_year():
            self.notify("That fiscal year has not begun.", severity="warning")
            return
        self.fiscal_year = target
        self.reload_now()

    def action_operators(self) -> None:
        self.show_operators = not self.show_operators
        self.reload_now()

    def action_close_year(self) -> None:
        fy = self.fiscal_year

        async def submit(v: dict[str, str]) -> None:
            if v["confirm"].strip() != str(fy):
                raise InvalidInput(f"type {fy} to close fiscal year {fy}")
            out = self.runtime.settings.statements_dir / str(fy)
            await self.runtime.settlement.settle(fy, close=True, out=out, actor=Actor.local("console"))
            self.notify(f"Fiscal year {fy} closed; statements in {out}.")

        self.app.push_screen(FormDialog(
            f"Close fiscal year {fy}? Its figures are then frozen; later events go to the next year.",
            [FormField("confirm", f"Type {fy} to confirm")], submit), lambda ok: self.reload_now() if ok else None)

    @work(group="statements", exclusive=True, exit_on_error=False)
    async def action_write(self) -> None:
        out = self.runtime.settings.statements_dir / str(self.fiscal_year)
        try:
            await self.runtime.settlement.settle(self.fiscal_year, out=out)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error")
            return
        self.notify(f"Statements written to {out}")
        self._offer_statements(out)

    def _offer_statements(self, out: Path) -> None:
        """In a browser (`bcl-console web`): the selected municipality's PDF statement, or
        on the totals row every statement of the year as one zip, downloaded."""
        key = selected_key(self.query_one("#settle-table", DataTable))
        pdf = out / f"statement-{self.fiscal_year}-{key}.pdf"
        if key and key != "__total__" and not self.show_operators and pdf.is_file():
            if offer(self.app, pdf, pdf.name, "application/pdf"):
                self.notify(f"{pdf.name} sent to the browser.")
            return
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.iterdir()):
                if path.is_file():
                    zf.write(path, path.name)
        name = f"statements-{self.fiscal_year}.zip"
        if offer(self.app, buffer.getvalue(), name, "application/zip"):
            self.notify(f"{name} sent to the browser.")

    async def action_run_job(self) -> None:
        async def submit(v: dict[str, str]) -> None:
            outcome, detail = await self.runtime.scheduler.run_now(v["job"].strip())
            self.notify(f"{v['job']}: {outcome} — {detail}", severity="information" if outcome == "ok" else "error")

        # Every scheduled job, as the scheduler has them (a job added there is offered here).
        jobs = await self.runtime.scheduler.jobs()
        listing = "\n".join(f"  {escape(j.name)}: {escape(j.description)}" for j in jobs)
        self.app.push_screen(FormDialog(f"Run a scheduled job now, one of:\n{listing}",
                                        [FormField("job", "Job (its name)", "nightly-backup-check")], submit),
                             lambda ok: self.reload_now() if ok else None)


def _yen(*amounts: int) -> list[str]:
    """Amounts of money as the console shows them everywhere: 1,000,000円."""
    return [f"{amount:,}円" for amount in amounts]
