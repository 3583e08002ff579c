"""Linkage: batches received per municipality, a running ingest's progress, the problem
list of a rejected batch, backups and restore, and an ingest started from a path."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.linkage import Problem
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets import FormDialog, FormField
from bcl_console.screens.widgets.table import keep_cursor, selected_key
from bcl_console.screens.widgets.text import jst_datetime
from bcl_console.services.linkage.service import BackupRecord, BatchView
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import BatchApplied, BatchRejected, Event, LinkageProgress


class LinkageScreen(LiveScreen):
    EVENT_TYPES = (BatchApplied, BatchRejected, LinkageProgress)
    BINDINGS = [
        Binding("a", "ingest", "Add batch"),
        Binding("b", "toggle_backups", "Batches/Backups"),
        Binding("R", "restore", "Restore"),
        Binding("t", "token", "Token"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="linkage-title")
        yield ProgressBar(total=100, id="linkage-progress", show_eta=False)
        table: DataTable[str] = DataTable(id="linkage-table", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="linkage-detail-box"):
            yield Static("", id="linkage-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Linkage"
        self.showing_backups = False
        self._batches: list[BatchView] = []
        self._backups: list[BackupRecord] = []
        self.query_one("#linkage-progress").display = False
        super().on_mount()

    def handle_event(self, event: Event) -> None:
        if isinstance(event, LinkageProgress):
            bar = self.query_one("#linkage-progress", ProgressBar)
            bar.display = event.done < event.total
            bar.update(total=max(1, event.total), progress=event.done)
            self.query_one("#linkage-title", Static).update(
                f"Ingesting [b]{event.batch}[/b]: {event.done:,} of {event.total:,} records"
            )

    async def reload(self) -> None:
        svc = self.runtime.linkage
        table = self.query_one("#linkage-table", DataTable)
        # Rows are keyed by what they are, not where they are: a reload (an agent's batch
        # arriving, say) keeps the operator's row selected, and the rows stay in list order.
        # Read first, then rebuild the table in one go: an await between clearing and filling
        # it let it render empty in between and kept the new columns at their labels' widths.
        if self.showing_backups:
            self._backups = await svc.backups()
        else:
            self._batches = await svc.batches(limit=200)
        restore_cursor = keep_cursor(table)
        table.clear(columns=True)
        if self.showing_backups:
            for key, label in (("code", "code"), ("seq", "seq"), ("kind", "kind"),
                               ("size", "bytes"), ("at", "made (JST)")):
                table.add_column(label, key=key)
            for backup in self._backups:
                table.add_row(backup.municipality_code, str(backup.sequence), backup.kind,
                              f"{backup.size:,}", jst_datetime(backup.created_at), key=backup.path)
            title = f"[b]Backups[/b] (AES-256-GCM): {len(self._backups)}. R restores the selected one's municipality up to it."
        else:
            for key, label in (("code", "code"), ("seq", "seq"), ("kind", "kind"), ("at", "received (JST)"),
                               ("source", "via"), ("outcome", "outcome"), ("size", "records")):
                table.add_column(label, key=key)
            seen: Counter[str] = Counter()
            for b in self._batches:
                identity = f"{b.received_at}|{b.municipality_code}|{b.sequence}|{b.outcome}"
                seen[identity] += 1  # the same batch refused twice within one clock tick
                outcome = b.outcome if b.outcome != "rejected" else f"[red]rejected ({len(b.problems)})[/red]"
                records = b.counts.get("residents", 0) + b.counts.get("seals", 0) + b.counts.get("taxes", 0)
                table.add_row(b.municipality_code or "?", str(b.sequence or "?"), b.kind or "?",
                              jst_datetime(b.received_at), b.source, outcome,
                              f"{records:,}", key=f"{identity}#{seen[identity]}")
            rejected = sum(1 for b in self._batches if b.outcome == "rejected")
            title = f"[b]Batches[/b]: {len(self._batches)} shown, {rejected} rejected. a ingests a batch from a path."
        restore_cursor()
        if not self.query_one("#linkage-progress").display:
            self.query_one("#linkage-title", Static).update(title)
        self.show_detail()

    @on(DataTable.RowHighlighted, "#linkage-table")
    def _highlighted(self) -> None:
        self.show_detail()

    def _selected_index(self) -> int | None:
        """The selected row's place in the list shown (rows are added in list order)."""
        table = self.query_one("#linkage-table", DataTable)
        return None if selected_key(table) is None else table.cursor_row

    def show_detail(self) -> None:
        detail = self.query_one("#linkage-detail", Static)
        index = self._selected_index()
        if index is None:
            detail.update("Nothing yet. Press [b]a[/b] to ingest a batch (a directory or .zip).")
            return
        if self.showing_backups:
            backup = self._backups[index]
            detail.update(f"{backup.municipality_code} sequence {backup.sequence} ({backup.kind}) · {backup.path}")
            return
        b = self._batches[index]
        lines = [
            f"[b]{b.municipality_code} sequence {b.sequence} ({b.kind})[/b] · {b.outcome} · via {b.source} · {jst_datetime(b.received_at)} JST",
            "counts: " + (", ".join(f"{k} {v:,}" for k, v in b.counts.items()) or "—"),
        ]
        if b.problems:
            lines.append(f"[b]problems ({len(b.problems)})[/b]")
            for p in b.problems[:100]:
                lines.append(escape(f"  {Problem.from_dict(p).sentence()}"))
        detail.update("\n".join(lines))

    def action_toggle_backups(self) -> None:
        self.showing_backups = not self.showing_backups
        self.reload_now()

    def action_ingest(self) -> None:
        async def submit(v: dict[str, str]) -> None:
            text = v["path"].strip()
            if not text:
                raise InvalidInput("enter the path of a batch directory or .zip")
            path = await asyncio.to_thread(lambda: Path(text).expanduser())
            if not await asyncio.to_thread(path.exists):
                raise InvalidInput(f"{path} does not exist")
            self.run_ingest(path)

        self.app.push_screen(FormDialog(
            "Ingest a linkage batch",
            [FormField("path", "Path of a batch directory or .zip", placeholder="fixtures/linkage/valid-full")],
            submit,
        ))

    @work(group="ingest", exclusive=False, exit_on_error=False, description="linkage ingest")
    async def run_ingest(self, path: Path) -> None:
        self.notify(f"Ingesting {path.name} …")
        result = await self.runtime.linkage.link(path, source="console")
        self.query_one("#linkage-progress").display = False
        if result.outcome == "rejected":
            self.notify(f"{path.name}: rejected with {len(result.problems) + result.problems_omitted} "
                        "problem(s); nothing changed.", severity="error", timeout=8)
        else:
            self.notify(f"{path.name}: {result.outcome} ({result.seconds:.1f} s).")
        self.showing_backups = False
        await self.reload()

    def action_restore(self) -> None:
        index = self._selected_index()
        if index is None:
            self.notify("Select a batch or backup first.", severity="warning")
            return
        if self.showing_backups:
            code, seq = self._backups[index].municipality_code, self._backups[index].sequence
        else:
            b = self._batches[index]
            if not b.municipality_code or b.outcome != "applied":
                self.notify("Select an applied batch (or switch to backups with b).", severity="warning")
                return
            code, seq = b.municipality_code, b.sequence or 0

        async def submit(v: dict[str, str]) -> None:
            if v["confirm"].strip() != code:
                raise InvalidInput(f"type the municipality code {code} to confirm")
            restored = await self.runtime.linkage.restore(code, seq, actor=Actor.local("console"))
            self.notify(f"{code} restored to sequence {restored.restored_to_sequence}: "
                        f"{restored.residents:,} residents.")

        self.app.push_screen(FormDialog(
            f"Restore {code} from its backups up to sequence {seq}? This replaces the data held.",
            [FormField("confirm", f"Type {code} to confirm")],
            submit,
        ), lambda saved: self.reload_now() if saved else None)

    def action_token(self) -> None:
        async def submit(v: dict[str, str]) -> None:
            code = v["code"].strip()
            token = await self.runtime.linkage.issue_token(code, actor=Actor.local("console"))
            self.app.push_screen(FormDialog(
                f"Linkage token for {code} — copy it now; it is shown once and only its hash is kept",
                [FormField("token", "Token", token)],
                _nothing, help_text="Esc: close",
            ))

        self.app.push_screen(FormDialog(
            "Issue a linkage token for a municipality's linkage server",
            [FormField("code", "Municipality code", placeholder="993611")],
            submit,
        ))


async def _nothing(values: dict[str, str]) -> None:
    return None
