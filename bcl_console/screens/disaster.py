"""Disaster support: one disaster at a time (``[`` / ``]``), six views on number keys —
1 overview (households by damage class as a bar chart, centre occupancy, applications
waiting, support totals), 2 victim ledger (filter, export CSV), 3 evacuation centres,
4 people needing evacuation help and their plans, 5 support payments, 6 online
applications, 7 reports of harm (被災届出, certified by the 被災証明書). Declare, assess,
import, check in, decide, record a report: the same services as the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from bcl_console.domain.errors import DomainError, InvalidInput
from bcl_console.domain.support import SEVERITY
from bcl_console.screens.base import LiveScreen
from bcl_console.screens.widgets import ConfirmDialog, FormDialog, FormField
from bcl_console.screens.widgets.chart import draw_counts
from bcl_console.screens.widgets.download import offer
from bcl_console.screens.widgets.table import keep_cursor, selected_key
from bcl_console.screens.widgets.text import jst_minute
from bcl_console.services.disaster.service import DisasterView
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import DemoCompleted, LedgerChanged
from bcl_console.store.api import (
    HelpEntry,
    LedgerEntry,
    OnlineApplication,
    SupportApplication,
    VictimReport,
)

VIEWS = ("overview", "ledger", "centres", "needs-help", "support", "applications", "reports")
#: The only keys of the reports view (7) besides the views': its footer shows them at 80
#: columns, where the full list of the other views' keys is cut after a few.
REPORT_KEYS = frozenset({"report_harm", "declare"})


def class_name(damage_class: str) -> str:
    """A damage class as operators say it: whole, but for the longest one's common name."""
    return "一部損壊" if damage_class == "準半壊に至らない（一部損壊）" else damage_class


class DisasterScreen(LiveScreen):
    EVENT_TYPES = (LedgerChanged, DemoCompleted)
    #: Below 120 columns the detail goes under the table, so the table has the whole width
    #: (whereabouts, damage classes and states were cut at 80 columns).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        *(Binding(str(n), f"view({n - 1})", v.title(), show=False) for n, v in enumerate(VIEWS, start=1)),
        Binding("left_square_bracket", "disaster(-1)", "Prev", show=False),
        Binding("right_square_bracket", "disaster(1)", "Next", show=False),
        Binding("D", "declare", "Declare"),
        Binding("A", "assess", "Assess"),
        Binding("I", "import_csv", "Import"),
        Binding("f", "filter", "Filter"),
        Binding("w", "export", "Export"),
        Binding("o", "open_centre", "Open centre"),
        Binding("k", "check_in", "Check in"),
        Binding("u", "check_out", "Check out"),
        Binding("p", "plan", "Plan"),
        Binding("a", "decide('approve')", "Approve"),
        Binding("r", "decide('reject')", "Reject"),
        Binding("y", "decide('pay')", "Pay"),
        Binding("v", "report_harm", "Report harm"),
        Binding("V", "report_harm(True)", "Amend report"),
        Binding("C", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="disaster-title")
        with Horizontal(id="disaster-body"):
            table: DataTable[str] = DataTable(id="disaster-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield PlotextPlot(id="disaster-chart")
            with VerticalScroll(id="disaster-side"):
                yield Static("", id="disaster-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Disaster support"
        self.view_index = 0
        self.ids: list[int] = []
        self.disaster_id: int | None = None
        self.current: DisasterView | None = None
        self.filters: dict[str, Any] = {"min_class": None, "needs_help": False, "whereabouts": None}
        # what the table of the ledger, needs-help, support and applications views shows now
        self.people: list[LedgerEntry] = []
        self.helped: list[HelpEntry] = []
        self.payments: list[SupportApplication] = []
        self.requests: list[OnlineApplication] = []
        self.reports: list[VictimReport] = []
        super().on_mount()

    @property
    def actor(self) -> Actor:
        return Actor.local("console")

    @property
    def view_name(self) -> str:
        return VIEWS[self.view_index]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On the reports view only its own keys (the footer fits them); amending only there."""
        if action == "report_harm" and parameters and parameters[0]:
            return self.view_name == "reports"
        if self.view_name == "reports" and action not in REPORT_KEYS | {"view", "disaster"}:
            own = {b.action.partition("(")[0] for b in self.BINDINGS if isinstance(b, Binding)}
            return action not in own
        return True

    def action_view(self, index: int) -> None:
        if index != self.view_index:
            table = self.query_one("#disaster-table", DataTable)
            table.clear()  # nothing of the previous view stays selectable
        self.view_index = index
        self.reload_now()
        if self.view_name != "overview":
            table = self.query_one("#disaster-table", DataTable)
            table.display = True
            table.focus()  # arrows move in the new view at once, not after a Tab

    def action_disaster(self, step: int) -> None:
        if self.ids and self.disaster_id in self.ids:
            self.disaster_id = self.ids[(self.ids.index(self.disaster_id) + step) % len(self.ids)]
            self.reload_now()

    async def reload(self) -> None:
        views = await self.runtime.ledger.declarations.disasters()
        self.ids = [v.disaster.id for v in views]
        title = self.query_one("#disaster-title", Static)
        if not views:
            self.current = None
            title.update("No disaster declared. D declares one.")
            return
        if self.disaster_id not in self.ids:
            self.disaster_id = self.ids[-1]
        self.current = view = next(v for v in views if v.disaster.id == self.disaster_id)
        d = view.disaster
        tabs = " ".join(f"[reverse]{n}:{v}[/]" if v == self.view_name else f"{n}:{v}"
                        for n, v in enumerate(VIEWS, start=1))
        state = "closed" if d.closed_at else "[b red]open[/]"
        title.update(f"[b]#{d.id} {escape(d.name)}[/b] {d.occurred_on} {d.kind} · {state} · {tabs}")
        chart = self.query_one("#disaster-chart", PlotextPlot)
        chart.display = self.view_name == "overview"
        self.query_one("#disaster-table", DataTable).display = self.view_name != "overview"
        await getattr(self, "_show_" + self.view_name.replace("-", "_"))(view)
        self.refresh_bindings()  # the footer shows the keys of the view now on screen

    def _table(self, columns: tuple[str, ...], rows: list[tuple[Any, ...]], keys: list[str]) -> None:
        """Fill the one table with the current view's rows. Row keys carry the view's name
        (``support:3``, ``applications:3``), so a selection never survives into another
        view where the same number names another thing; a reload of the same view keeps it."""
        table = self.query_one("#disaster-table", DataTable)
        restore_cursor = keep_cursor(table)
        table.clear(columns=True)
        for c in columns:
            table.add_column(c, key=c)
        for key, row in zip(keys, rows, strict=True):
            table.add_row(*(escape(str("" if v is None else v)) for v in row), key=f"{self.view_name}:{key}")
        restore_cursor()

    def _side(self, text: str) -> None:
        self.query_one("#disaster-detail", Static).update(text)

    async def _show_overview(self, view: DisasterView) -> None:
        counts = [view.by_class.get(c.value, 0) for c in SEVERITY]
        # Bars are numbered (CJK labels under narrow bars were dropped by plotext: 4 of 6
        # showed); the side panel names each number with its count.
        draw_counts(self.query_one("#disaster-chart", PlotextPlot), "households by damage class (1 = worst)",
                    [str(n) for n in range(1, len(counts) + 1)], counts)
        classes = "\n".join(f"{n} {class_name(c.value)} [b]{k:,}[/b]"
                            for n, (c, k) in enumerate(zip(SEVERITY, counts, strict=True), start=1))
        centres = "\n".join(f"{escape(c.name)} {c.occupancy}/{c.capacity}"
                            + (" (closed)" if c.closed_at else "") for c in view.shelters) or "none open"
        s = view.support
        self._side(f"[b]Households by damage[/b]\n{classes}\n\n"
                   f"[b]Evacuation centres[/b]\n{centres}\n\n[b]Applications waiting[/b] {view.applications_waiting}"
                   f"\n\n[b]Support[/b]\napplied {s['applied']} · approved {s['approved']} · paid {s['paid']}\n"
                   f"paid {s['paid_yen']:,}円\ndecided {s['approved_yen']:,}円")

    async def _show_ledger(self, view: DisasterView) -> None:
        self.people = rows = await self.runtime.ledger.victims.ledger(view.disaster.id, **self.filters)
        self._table(("household", "damage", "name", "help", "居所", "support"),
                    [(r.household_number, class_name(r.damage_class), r.name,
                      "要" if r.needs_evacuation_help else "", r.shelter or r.whereabouts,
                      r.support_state or "") for r in rows],
                    [f"{r.municipality_code}/{r.resident_code}" for r in rows])
        f = self.filters
        self._side(f"[b]{len(rows)} people[/b] in "
                   f"{len({r.household_number for r in rows})} households\nfilter: class ≥ "
                   f"{f['min_class'] or 'any'}, needs help {'yes' if f['needs_help'] else 'any'}, whereabouts "
                   f"{f['whereabouts'] or 'any'}\n\nf filter · w export CSV")

    async def _show_centres(self, view: DisasterView) -> None:
        self._table(("id", "centre", "people", "state"),
                    [(s.id, s.name, f"{s.occupancy}/{s.capacity}", "closed" if s.closed_at else "open")
                     for s in view.shelters], [str(s.id) for s in view.shelters])
        await self._centre_people()

    @on(DataTable.RowHighlighted, "#disaster-table")
    async def _highlighted(self) -> None:
        if self.view_name == "centres":
            await self._centre_people()
        elif self.view_name == "reports":
            await self._report_detail()

    async def _centre_people(self) -> None:
        key = self._selected()
        if key is None:
            self._side("o opens a centre")
            return
        people = await self.runtime.ledger.centres.shelter_people(int(key))
        self._side("[b]In the centre now[/b]\n" + "\n".join(f"{escape(p.name)} {jst_minute(p.checked_in_at)} ({p.via})"
                                                          for p in people)
                   + "\n\nk check in · u check out · C close")

    async def _show_needs_help(self, view: DisasterView) -> None:
        code = view.disaster.municipalities[0]
        self.helped = rows = await self.runtime.ledger.plans.needs_help(code)
        self._table(("resident", "name", "supporter", "destination", "review"),
                    [(r.resident_code, r.name, r.supporter or "-", r.destination or "-",
                      "⚠ " + r.review_reason if r.review_reason else "") for r in rows],
                    [r.resident_code for r in rows])
        flagged = sum(1 for r in rows if r.review_reason)
        self._side(f"[b]{len(rows)} people[/b] of {code} need evacuation help; "
                   f"{sum(1 for r in rows if r.supporter)} have a plan; [red]{flagged} to review[/]\n\n"
                   "p sets the selected person's plan")

    async def _show_support(self, view: DisasterView) -> None:
        self.payments = rows = await self.runtime.ledger.payments.support_list(view.disaster.id)
        self._table(("id", "household", "damage", "人", "rebuild", "yen", "state"),
                    [(r.id, r.household_number, class_name(r.damage_class),
                      r.members, r.rebuild_method or "-", f"{r.total:,}円", r.state) for r in rows],
                    [str(r.id) for r in rows])
        s = view.support
        self._side(f"paid {s['paid_yen']:,}円\ndecided {s['approved_yen']:,}円\n\na approve · r reject · y pay")

    async def _show_applications(self, view: DisasterView) -> None:
        self.requests = rows = [a for a in await self.runtime.ledger.requests.applications()
                                if a.disaster_id == view.disaster.id]
        self._table(("id", "resident", "applied", "state"),
                    [(a.id, a.resident_code, jst_minute(a.applied_at), a.state) for a in rows],
                    [str(a.id) for a in rows])
        self._side(f"{view.applications_waiting} waiting\n\na approve (needs the household's assessment: then "
                   "the certificate is available at stores and the counter) · r reject")

    async def _show_reports(self, view: DisasterView) -> None:
        self.reports = rows = await self.runtime.ledger.reports.reports(view.disaster.id)
        self._table(("届出日", "resident", "name", "harm"),
                    [(r.reported_on, r.resident_code, r.name, r.harm) for r in rows],
                    [f"{r.municipality_code}/{r.resident_code}" for r in rows])
        await self._report_detail()

    async def _report_detail(self) -> None:
        key = self._selected()
        report = next((r for r in self.reports if f"{r.municipality_code}/{r.resident_code}" == key), None)
        head = f"[b]{len(self.reports)} reports of harm[/b] (被災届出)\n\n"
        if report is None:
            self._side(head + "v records a report")
            return
        amended = f", amended (rev. {report.revision})" if report.revision > 1 else ""
        self._side(head + f"[b]{escape(report.name)}[/b] {report.resident_code}\n{escape(report.address)}\n"
                   f"届出日 {report.reported_on}{amended}\n\n{escape(report.harm)}\n\n"
                   "v records a report · V amends the selected one. The 被災証明書 (disaster-victim) "
                   "is issued from it at the counter and at stores.")

    def _selected(self) -> str | None:
        """The key of the row the operator sees selected, in the view they see (None when
        the table shows another view's rows, or none)."""
        key = selected_key(self.query_one("#disaster-table", DataTable))
        if key is None:
            return None
        view, _, ident = key.partition(":")
        return ident if view == self.view_name else None

    def _form(self, title: str, fields: list[FormField], submit: Any) -> None:
        self.app.push_screen(FormDialog(title, fields, submit), lambda ok: self.reload_now() if ok else None)

    # -- actions ---------------------------------------------------------------------------------
    def action_declare(self) -> None:
        async def submit(v: dict[str, str]) -> None:
            view = await self.runtime.ledger.declarations.declare(v["name"], v["kind"], v["date"],
                                                                  v["codes"].split(","), actor=self.actor)
            self.disaster_id = view.disaster.id

        self._form("Declare a disaster", [FormField("name", "Name", placeholder="令和8年7月東雲県豪雨"),
                                          FormField("kind", "Kind (flood, earthquake, typhoon, …)", "flood"),
                                          FormField("date", "Occurred on (YYYY-MM-DD or 和暦)"),
                                          FormField("codes", "Affected municipality codes, comma-separated")], submit)

    def action_close(self) -> None:
        if self.current is None:
            return
        key = self._selected() if self.view_name == "centres" else None
        did = self.current.disaster.id

        async def submit(v: dict[str, str]) -> None:
            if v["confirm"].strip() != "yes":
                raise InvalidInput("type yes to confirm")
            if key is not None:
                await self.runtime.ledger.centres.close_shelter(int(key), actor=self.actor)
            else:
                await self.runtime.ledger.declarations.close(did, actor=self.actor)

        what = f"evacuation centre {key}" if key else f"disaster #{did}"
        self._form(f"Close {what}?", [FormField("confirm", "Type yes to confirm")], submit)

    def action_assess(self) -> None:
        if self.current is None:
            return
        d = self.current.disaster

        async def submit(v: dict[str, str]) -> None:
            ratio = v["ratio"].strip()
            if ratio and not ratio.isdigit():
                raise InvalidInput(f"damage ratio {ratio!r} is not a whole number", field="ratio")
            result = await self.runtime.ledger.assessments.assess(
                d.id, v["code"].strip(), v["household"].strip(), ratio=int(ratio) if ratio else None,
                damage_class=v["class"].strip() or None, inspector=v["inspector"], actor=self.actor)
            self.notify(f"Household {result.household_number}: {result.damage_class} "
                        f"(revision {result.revision}).")

        self._form(f"Assess a dwelling — #{d.id} {d.name}",
                   [FormField("code", "Municipality", d.municipalities[0]), FormField("household", "Household number"),
                    FormField("ratio", "Damage ratio % (or leave empty and give the class)"),
                    FormField("class", "Damage class (全壊 … 一部損壊)"), FormField("inspector", "Inspector")], submit)

    def action_import_csv(self) -> None:
        if self.current is None:
            return
        did = self.current.disaster.id

        async def submit(v: dict[str, str]) -> None:
            result = await self.runtime.ledger.assessments.import_assessments(did, Path(v["path"].strip()),
                                                                              actor=self.actor)
            self.notify(f"{result.imported} assessments imported from {result.file}.")

        self._form("Import assessments (CSV: municipality_code, household_number, damage_ratio or damage_class, "
                   "inspector, assessed_on) — all or nothing", [FormField("path", "Path of the CSV file")], submit)

    def action_filter(self) -> None:
        async def submit(v: dict[str, str]) -> None:
            filters: dict[str, Any] = {"min_class": v["min_class"].strip() or None,
                       "needs_help": v["needs_help"].strip().lower() in ("y", "yes"),
                       "whereabouts": v["whereabouts"].strip() or None}
            if self.current is not None:
                await self.runtime.ledger.victims.ledger(self.current.disaster.id, **filters)  # checks the values
            self.filters = filters
            self.view_index = VIEWS.index("ledger")

        f = self.filters
        self._form("Ledger filter", [FormField("min_class", "Damage class or worse (e.g. 半壊)", f["min_class"] or ""),
                                     FormField("needs_help", "Only people needing help? (y/n)",
                                               "y" if f["needs_help"] else "n"),
                                     FormField("whereabouts", "Whereabouts (home, shelter, relatives, …)",
                                               f["whereabouts"] or "")], submit)

    async def action_export(self) -> None:
        if self.current is None:
            return
        did = self.current.disaster.id
        out = self.runtime.settings.exports_dir / f"ledger-{did}.csv"
        try:
            done = await self.runtime.ledger.victims.export_ledger(did, out, **self.filters)
        except DomainError as exc:
            self.notify(exc.sentence(), severity="error")
            return
        self.notify(f"{done.people} people written to {out}")
        if offer(self.app, out, out.name, "text/csv"):  # in a browser (`bcl-console web`)
            self.notify(f"{out.name} sent to the browser.")

    def action_open_centre(self) -> None:
        if self.current is None:
            return
        d = self.current.disaster

        async def submit(v: dict[str, str]) -> None:
            capacity = v["capacity"].strip()
            if not capacity.isdigit():
                raise InvalidInput(f"capacity {capacity!r} is not a whole number", field="capacity")
            await self.runtime.ledger.centres.open_shelter(d.id, v["code"].strip(), v["name"], int(capacity),
                                                           actor=self.actor)
            self.view_index = VIEWS.index("centres")

        self._form("Open an evacuation centre", [FormField("code", "Municipality", d.municipalities[0]),
                                                 FormField("name", "Name"), FormField("capacity", "Capacity")], submit)

    def action_check_in(self) -> None:
        key = self._selected() if self.view_name == "centres" else None
        if key is None or self.current is None:
            self.notify("Select a centre (3) first.", severity="warning")
            return
        code = self.current.disaster.municipalities[0]
        centre = next((s for s in self.current.shelters if str(s.id) == key), None)
        where = f"{centre.name} ({centre.occupancy}/{centre.capacity})" if centre else f"centre {key}"

        async def submit(v: dict[str, str]) -> None:
            person = await self.runtime.residents.one(v["resident"], v["code"].strip())
            done = await self.runtime.ledger.centres.check_in(int(key), person.municipality_code,
                                                              person.resident_code, actor=self.actor)
            self.notify(f"{done.name} checked in at {done.shelter_name} ({done.occupancy}/{done.capacity}).")

        self._form(f"Check in at {where} (a card at the shelter terminal does the same)",
                   [FormField("code", "Municipality", code),
                    FormField("resident", "Resident: name, kana, household number or resident code")], submit)

    def action_check_out(self) -> None:
        if self.current is None:
            return
        code = self.current.disaster.municipalities[0]

        async def submit(v: dict[str, str]) -> None:
            person = await self.runtime.residents.one(v["resident"], v["code"].strip())
            await self.runtime.ledger.centres.check_out(person.municipality_code, person.resident_code,
                                                        whereabouts=v["whereabouts"].strip() or "home", actor=self.actor)
            self.notify(f"{person.name} checked out.")

        self._form("Check out of an evacuation centre",
                   [FormField("code", "Municipality", code),
                    FormField("resident", "Resident: name, kana, household number or resident code"),
                    FormField("whereabouts", "Now at (home, relatives, elsewhere)", "home")], submit)

    def action_plan(self) -> None:
        key = self._selected() if self.view_name == "needs-help" else None
        if key is None or self.current is None:
            self.notify("Select a person in the needs-help list (4) first.", severity="warning")
            return
        code = self.current.disaster.municipalities[0]
        row = next(r for r in self.helped if r.resident_code == key)

        async def submit(v: dict[str, str]) -> None:
            await self.runtime.ledger.plans.set_plan(code, key, supporter=v["supporter"], destination=v["destination"],
                                                     notes=v["notes"], actor=self.actor)

        self._form(f"Individual evacuation plan: {row.name}",
                   [FormField("supporter", "Supporter", row.supporter or ""),
                    FormField("destination", "Destination", row.destination or ""),
                    FormField("notes", "Notes", row.notes or "")], submit)

    def action_report_harm(self, amend: bool = False) -> None:
        """Record a person's report of harm (v); amend the report selected on view 7 (V):
        a second report of the same person is refused, so one is never replaced by accident."""
        if self.current is None:
            return
        d = self.current.disaster
        key = self._selected() if self.view_name == "reports" else None
        chosen = next((r for r in self.reports if f"{r.municipality_code}/{r.resident_code}" == key), None)
        if amend and chosen is None:
            self.notify("Select a report (7) to amend first.", severity="warning")
            return

        async def submit(v: dict[str, str]) -> None:
            if chosen is not None and amend:
                code, resident = chosen.municipality_code, chosen.resident_code
            else:
                person = await self.runtime.residents.one(v["resident"], v["code"].strip())
                code, resident = person.municipality_code, person.resident_code
            report = await self.runtime.ledger.reports.report_harm(
                d.id, code, resident, v["harm"], reported_on=v["date"], amend=amend, actor=self.actor)
            self.notify(f"{report.name}: report of harm recorded"
                        + (f" (revision {report.revision})." if report.revision > 1 else "."))
            self.view_index = VIEWS.index("reports")

        if chosen is not None and amend:
            self._form(f"Amend the report of {chosen.name} — #{d.id}",
                       [FormField("harm", "Harm as reported", chosen.harm),
                        FormField("date", "届出日 (default today)")], submit)
            return
        self._form(f"Report of harm (被災届出) — #{d.id} {d.name}",
                   [FormField("code", "Municipality", d.municipalities[0]),
                    FormField("resident", "Resident: name, kana, household number or resident code"),
                    FormField("harm", "Harm as reported (dwelling, household goods, vehicle, business …)"),
                    FormField("date", "届出日 (default today)")], submit)

    def action_decide(self, decision: str) -> None:
        """Approve, reject or pay the selected row, after a confirmation that names it."""
        view = self.view_name
        key = self._selected()
        if key is None or view not in ("support", "applications"):
            self.notify("Select a support application (5) or an online application (6).", severity="warning")
            return
        if view == "applications" and decision == "pay":
            self.notify("Online applications are approved or rejected, not paid.", severity="warning")
            return
        if view == "support":
            pay = next((r for r in self.payments if str(r.id) == key), None)
            if pay is None:
                return
            title = {"approve": "Approve", "reject": "Reject", "pay": "Pay"}[decision] + \
                f" support application #{key}?"
            what = (f"Household {pay.household_number} ({pay.members} 人, "
                    f"{class_name(pay.damage_class)}): "
                    f"{pay.total:,}円, now {pay.state}.")
            if decision == "pay":
                what = f"Pay {pay.total:,}円 to household {pay.household_number}. " + what
        else:
            request = next((r for r in self.requests if str(r.id) == key), None)
            if request is None:
                return
            title = f"{'Approve' if decision == 'approve' else 'Reject'} online application #{key}?"
            what = f"Resident {request.resident_code}, applied {jst_minute(request.applied_at)}, now {request.state}."
            if decision == "approve":
                what += " The household's 罹災証明書 becomes available at stores and the counter."

        async def decided(yes: bool | None) -> None:
            if not yes:
                self.notify("Nothing changed.")
                return
            try:
                if view == "support":
                    state = (await self.runtime.ledger.payments.decide_support(int(key), decision,
                                                                               actor=self.actor)).state
                else:
                    state = (await self.runtime.ledger.requests.decide_application(int(key), decision == "approve",
                                                                                   actor=self.actor)).state
            except DomainError as exc:
                self.notify(exc.sentence(), severity="error")
                return
            self.notify(f"{'Support application' if view == 'support' else 'Online application'} {key}: "
                        f"{state}.")
            self.reload_now()

        word = "pay" if decision == "pay" else None  # money: typed, never a key's repeat
        self.app.push_screen(ConfirmDialog(title, what, type_to_confirm=word), decided)
