"""Municipalities: the list, one municipality's detail and audit trail, the
management-terminal controls (hours, suspend, resume, fees) — the same services as the CLI
and /manage/v1 — and its registered management terminals (t: add, revoke)."""

from __future__ import annotations

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from bcl_console.domain.costs import estimate
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.municipality import CertificateType, Municipality, validate_fee
from bcl_console.domain.wareki import format_era
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.terminals import TerminalsScreen
from bcl_console.screens.widgets import FormDialog, FormField
from bcl_console.screens.widgets.table import selected_key, sync_rows
from bcl_console.screens.widgets.text import jst_datetime
from bcl_console.services.onboarding.municipalities import MunicipalityView
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import BatchApplied, DemoCompleted, MunicipalityChanged


class MunicipalitiesScreen(LiveScreen):
    EVENT_TYPES = (MunicipalityChanged, DemoCompleted, BatchApplied)
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("h", "hours", "Hours"),
        Binding("s", "suspend", "Suspend"),
        Binding("r", "resume", "Resume"),
        Binding("f", "fees", "Fees"),
        Binding("t", "terminals", "Terminals"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[str] = DataTable(id="municipality-table", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="municipality-detail-box"):
            yield Static("Select a municipality.", id="municipality-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Municipalities"
        self._views: dict[str, MunicipalityView] = {}
        table = self.query_one("#municipality-table", DataTable)
        for key, label in (
            ("code", "code"), ("name", "name"), ("kind", "kind"), ("population", "population"),
            ("hosting", "hosting"), ("state", "state"), ("hours", "hours"), ("fees", "fee"),
        ):
            table.add_column(label, key=key)
        super().on_mount()

    @property
    def actor(self) -> Actor:
        return Actor.local("console")

    @property
    def selected(self) -> MunicipalityView | None:
        key = selected_key(self.query_one("#municipality-table", DataTable))
        return None if key is None else self._views.get(key)

    async def reload(self) -> None:
        views = await self.runtime.municipalities.all()
        self._views = {v.code: v for v in views}
        rows: dict[str, dict[str, str]] = {}
        for v in views:
            m = v.municipality
            rows[m.code] = {
                "code": m.code,
                "name": m.name,
                "kind": m.kind.value,
                "population": f"{m.population:,}",
                "hosting": m.hosting.value,
                "state": v.state.value,
                "hours": f"{m.hours.open}-{m.hours.close}",
                "fees": f"{v.fees[CertificateType.RESIDENCE]}円",
            }
        sync_rows(self.query_one("#municipality-table", DataTable), rows)
        await self.show_detail()

    @on(DataTable.RowHighlighted, "#municipality-table")
    async def _highlighted(self) -> None:
        await self.show_detail()

    async def show_detail(self) -> None:
        view = self.selected
        detail = self.query_one("#municipality-detail", Static)
        if view is None:
            detail.update("No municipality yet: press [b]a[/b] to add one.")
            return
        m = view.municipality
        held = (await self.runtime.municipalities.held_counts()).get(m.code)
        audit = await self.runtime.municipalities.audit_trail(m.code, limit=4)
        terminals = [t for t in await self.runtime.terminals.list(m.code) if t.active]
        start = (
            f"{m.service_start.isoformat()} ({format_era(m.service_start)})"
            if m.service_start else "not set"
        )
        suspended = (
            f"[b red]SUSPENDED[/] — {escape(m.suspension_reason or '')}" if m.suspended else "running"
        )
        open_now = "open now" if view.closed_reason is None else f"closed now ({view.closed_reason})"
        fees = "  ".join(f"{t.label} {yen}円" for t, yen in view.fees.items())
        lines = [
            f"[b]{m.prefecture}{m.name}[/b] {m.code} · {m.kind.label} · 人口 {m.population:,} · "
            f"{view.contribution_class.label_ja}",
            f"hosting {m.hosting.value}" + (f" → {m.server_url}" if m.server_url else "")
            + f" · service start {start} · {view.state.value}",
            f"hours {m.hours.open}–{m.hours.close} JST · {suspended} · {open_now}",
            f"fees: {fees}",
            f"held: {held.active:,} residents, {held.households:,} households, "
            f"{held.seals:,} seals, {held.taxes:,} tax records" if held else "held: no resident data yet",
            _cost_line(m),
            f"management terminals: {len(terminals)} in use" + (
                f" ({escape(', '.join(t.name for t in terminals[:3]))}{' …' if len(terminals) > 3 else ''})"
                if terminals else "") + " · [b]t[/b]: list, add, revoke",
            "[b]recent changes[/b]",
        ]
        for e in audit:
            change = f"{_short(e.old_value)} → {_short(e.new_value)}" if e.old_value is not None else _short(e.new_value)
            lines.append(escape(f"  {jst_datetime(e.at)} {e.actor}/{e.interface} {e.action}: {change}"))
        detail.update("\n".join(lines))

    # -- controls --------------------------------------------------------------------
    def _need_selection(self) -> MunicipalityView | None:
        view = self.selected
        if view is None:
            self.notify("Select a municipality first.", severity="warning")
        return view

    def _after(self, saved: bool | None) -> None:
        if saved:
            self.reload_now()

    def action_add(self) -> None:
        svc = self.runtime.municipalities

        async def submit(v: dict[str, str]) -> None:
            try:
                population = int(v["population"].replace(",", ""))
            except ValueError:
                raise InvalidInput(f"population {v['population']!r} is not a whole number") from None
            view = await svc.add(
                code=v["code"], name=v["name"], kind=v["kind"], population=population,
                hosting=v["hosting"] or "bcl", server_url=v["server_url"] or None,
                service_start=v["service_start"] or None, prefecture=v["prefecture"],
                mayor=v["mayor"], actor=self.actor,
            )
            self.notify(f"{view.municipality.name} ({view.code}) added.")

        self.app.push_screen(
            FormDialog(
                "Add a municipality",
                [
                    FormField("code", "Code (6 digits with check digit)", placeholder="131016"),
                    FormField("name", "Name", placeholder="北山町"),
                    FormField("kind", "Kind", placeholder="designated-city|city|special-ward|town|village"),
                    FormField("population", "Population", placeholder="6200"),
                    FormField("hosting", "Hosting", "bcl", placeholder="bcl | own-server"),
                    FormField("server_url", "Own server URL (own-server only)"),
                    FormField("service_start", "Service start (YYYY-MM-DD)"),
                    FormField("prefecture", "Prefecture"),
                    FormField("mayor", "Mayor"),
                ],
                submit,
            ),
            self._after,
        )

    def action_hours(self) -> None:
        view = self._need_selection()
        if view is None:
            return
        m = view.municipality

        async def submit(v: dict[str, str]) -> None:
            await self.runtime.municipalities.set_hours(m.code, v["open"], v["close"], actor=self.actor)
            self.notify(f"{m.name}: hours set to {v['open']}–{v['close']}.")

        self.app.push_screen(
            FormDialog(
                f"Store-issuance hours of {m.name} (Asia/Tokyo)",
                [FormField("open", "Opens (HH:MM)", m.hours.open),
                 FormField("close", "Closes (HH:MM)", m.hours.close)],
                submit,
            ),
            self._after,
        )

    def action_suspend(self) -> None:
        view = self._need_selection()
        if view is None:
            return
        m = view.municipality

        async def submit(v: dict[str, str]) -> None:
            await self.runtime.municipalities.suspend(m.code, v["reason"], actor=self.actor)
            self.notify(f"{m.name}: store issuance suspended.", severity="warning")

        self.app.push_screen(
            FormDialog(
                f"Suspend store issuance of {m.name}",
                [FormField("reason", "Reason (shown to operators and kept in the audit trail)",
                           m.suspension_reason or "")],
                submit,
            ),
            self._after,
        )

    async def action_resume(self) -> None:
        view = self._need_selection()
        if view is None:
            return
        if not view.municipality.suspended:
            self.notify(f"{view.municipality.name} is not suspended.")
            return
        await self.runtime.municipalities.resume(view.code, actor=self.actor)
        self.notify(f"{view.municipality.name}: store issuance resumed.")
        self.reload_now()

    def action_terminals(self) -> None:
        view = self._need_selection()
        if view is None:
            return
        self.app.push_screen(TerminalsScreen(view.code, view.municipality.name), lambda _: self.reload_now())

    def action_fees(self) -> None:
        view = self._need_selection()
        if view is None:
            return
        m = view.municipality

        async def submit(v: dict[str, str]) -> None:
            wanted: dict[CertificateType, int] = {}
            for ctype in CertificateType:
                text = v[ctype.value].replace(",", "").replace("円", "").strip()
                try:
                    wanted[ctype] = validate_fee(int(text))
                except ValueError:
                    raise InvalidInput(f"the fee for {ctype.label} must be whole yen") from None
            for ctype, yen in wanted.items():
                if yen != view.fees[ctype]:
                    await self.runtime.municipalities.set_fee(m.code, ctype.value, yen, actor=self.actor)
            self.notify(f"{m.name}: fees saved.")

        self.app.push_screen(
            FormDialog(
                f"Issuance fees of {m.name} (yen)",
                [FormField(t.value, t.label, str(view.fees[t])) for t in CertificateType],
                submit,
            ),
            self._after,
        )


def _cost_line(m: Municipality) -> str:
    e = estimate(m.kind, m.population)
    return (f"5-year cost: BCL {e.bcl_five_years:,}円 vs own server {e.own_five_years:,}円 "
            f"→ saves {e.saving:,}円 ({e.saving_percent}%); special allocation covers "
            f"{e.special_allocation:,}円 of the introduction [{e.method}]")


def _short(value: str | None, limit: int = 24) -> str:
    text = value or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
