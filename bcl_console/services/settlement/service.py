"""Fee settlement (精算): the statement of a fiscal year, closing it, and late events.

A statement counts each billable issuance exactly once: the year's own issuances, plus
(as adjustments) issuances of already-closed years that arrived after they closed, minus
(as adjustments) issuances that earlier statements counted and that were voided since.
Closing a year stores its statement verbatim and marks what it counted, in one
transaction: running it again changes nothing and prints the same document.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from bcl_console.config import ConfigError, prepare_data_dir
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.fiscal import fiscal_year_bounds, fiscal_year_of
from bcl_console.domain.municipality import CertificateType, Municipality
from bcl_console.domain.settlement import COMMISSION_YEN, USAGE_FEE_YEN, contribution, money
from bcl_console.domain.wareki import format_fiscal_year
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.store.api import AuditEntry, Group, StatementInputs, Store

TYPES = [t.value for t in CertificateType]
FIRST_YEAR = 2000


def _months(fy: int) -> list[str]:
    return [f"{fy + (m < 4)}-{m:02d}" for m in (*range(4, 13), 1, 2, 3)]


def build_statement(fiscal_year: int, municipalities: list[Municipality], own: list[Group], late: list[Group],
                    voided: list[Group]) -> dict[str, Any]:
    """The statement document (deterministic: sorted, integer yen)."""
    per: dict[str, dict[str, Any]] = {}
    operators: dict[str, dict[str, int]] = defaultdict(lambda: {"billable": 0, "adjustment": 0})

    def entry(code: str) -> dict[str, Any]:
        if code not in per:
            per[code] = {"certificates": dict.fromkeys(TYPES, 0), "fees": 0,
                         "by_month": {m: dict.fromkeys(TYPES, 0) for m in _months(fiscal_year)},
                         "adj_billable": 0, "adj_fees": 0, "adj_years": set()}
        return per[code]

    for code, operator, type_, month, n, fees in own:
        e = entry(code)
        e["certificates"][type_] += n
        e["fees"] += fees
        if month in e["by_month"]:
            e["by_month"][month][type_] += n
        operators[operator or "(none)"]["billable"] += n
    for sign, groups in ((1, late), (-1, voided)):
        for code, operator, _type, month, n, fees in groups:
            e = entry(code)
            e["adj_billable"] += sign * n
            e["adj_fees"] += sign * fees
            e["adj_years"].add(int(month[:4]) - (int(month[5:]) < 4))
            operators[operator or "(none)"]["adjustment"] += sign * n
    by_code = {m.code: m for m in municipalities}
    rows = []
    for m in sorted(municipalities, key=lambda m: m.code):
        owed = contribution(m.kind, m.population, m.hosting, fiscal_year, m.service_start)
        if m.code not in per and owed == 0:
            continue
        e = entry(m.code)
        billable = sum(e["certificates"].values())
        figures = money(billable, e["fees"], m.hosting)
        adj = money(e["adj_billable"], e["adj_fees"], m.hosting)
        rows.append({
            "code": m.code,
            "name": m.name,
            "hosting": m.hosting.value,
            "certificates": e["certificates"],
            "billable": figures.billable,
            "usage_fee": figures.usage_fee,
            "commission": figures.commission,
            "fees_collected": figures.fees_collected,
            "net_to_municipality": figures.net_to_municipality,
            "contribution": owed,
            "adjustments": {
                "billable": adj.billable, "usage_fee": adj.usage_fee, "commission": adj.commission,
                "fees_collected": adj.fees_collected, "net_to_municipality": adj.net_to_municipality,
                "from_fiscal_years": sorted(e["adj_years"]),
            },
            "payable_to_jlis": figures.usage_fee + adj.usage_fee + owed,
            "by_month": e["by_month"],
        })
    unknown = sorted(set(per) - set(by_code))
    if unknown:  # issuances of a municipality no longer registered: never silently dropped
        raise InvalidInput(f"issuances of unregistered municipalities {', '.join(unknown)} cannot be settled")
    ops = [{"operator": name, "billable": v["billable"], "commission": COMMISSION_YEN * v["billable"],
            "adjustment_billable": v["adjustment"], "adjustment_commission": COMMISSION_YEN * v["adjustment"]}
           for name, v in sorted(operators.items())]
    keys = ("billable", "usage_fee", "commission", "fees_collected", "net_to_municipality", "contribution",
            "payable_to_jlis")
    totals = {k: sum(r[k] for r in rows) for k in keys}
    totals["adjustment_billable"] = sum(r["adjustments"]["billable"] for r in rows)
    totals["adjustment_usage_fee"] = sum(r["adjustments"]["usage_fee"] for r in rows)
    totals["adjustment_commission"] = sum(r["adjustments"]["commission"] for r in rows)
    totals["certificates"] = {t: sum(r["certificates"][t] for r in rows) for t in TYPES}
    lo, hi = fiscal_year_bounds(fiscal_year)
    return {
        "fiscal_year": fiscal_year,
        "fiscal_year_ja": format_fiscal_year(fiscal_year),
        "period": {"from": date(fiscal_year, 4, 1).isoformat(), "to": date(fiscal_year + 1, 3, 31).isoformat()},
        "rates": {"usage_fee": USAGE_FEE_YEN, "commission": COMMISSION_YEN},
        "municipalities": rows,
        "operators": ops,
        "totals": totals,
        "closed": False,
    }


class SettlementService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def current_fiscal_year(self) -> int:
        return fiscal_year_of(self._clock.now())

    def _check_year(self, fiscal_year: int) -> None:
        current = self.current_fiscal_year()
        if fiscal_year > current:
            raise InvalidInput(f"fiscal year {fiscal_year} has not begun (the current one is {current})",
                               field="fiscal-year")
        if fiscal_year < FIRST_YEAR:
            raise InvalidInput(f"fiscal year {fiscal_year} is unknown (the centre settles from {FIRST_YEAR})",
                               field="fiscal-year")

    async def closed_years(self) -> list[int]:
        return await self._store.settlement.closed_years()

    async def settle(self, fiscal_year: int, *, close: bool = False, out: Path | None = None,
                     actor: Actor | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """The statement of a fiscal year; with ``close``, freeze it (idempotent). With
        ``out``, its files are written there, ``progress(done, total)`` told after each
        municipality's statement."""
        self._check_year(fiscal_year)
        if out is not None:
            try:
                await asyncio.to_thread(prepare_data_dir, out)
            except ConfigError as exc:
                raise InvalidInput(str(exc).replace("data directory", "--out"), field="out") from None
        _, end = fiscal_year_bounds(fiscal_year)
        stored = await self._store.settlement.closed_document(fiscal_year)
        if stored is not None:
            doc: dict[str, Any] = json.loads(stored)
        elif close:
            if self._clock.now() < end:
                raise InvalidInput(f"fiscal year {fiscal_year} ends on {fiscal_year + 1}-03-31 (Japan time); "
                                   "it cannot be closed before", field="fiscal-year")
            doc = await self._close(fiscal_year, iso_now(self._clock), actor or Actor("system", "scheduler"))
        else:
            doc = _statement(await self._store.settlement.statement_inputs(fiscal_year))
        if out is not None:
            await asyncio.to_thread(write_statements, doc, out, progress)
        return doc

    async def _close(self, fiscal_year: int, at: str, actor: Actor) -> dict[str, Any]:
        def compose(inputs: StatementInputs) -> str:
            doc = _statement(inputs)
            doc["closed"] = True
            doc["closed_at"] = at
            return json.dumps(doc, ensure_ascii=False, sort_keys=True)

        audit = AuditEntry(at, actor.name, actor.interface, None, "settle-close", "fiscal_year", None,
                           str(fiscal_year))
        stored: dict[str, Any] = json.loads(await self._store.settlement.close_year(fiscal_year, compose, audit))
        return stored  # exactly as stored


def _statement(inputs: StatementInputs) -> dict[str, Any]:
    return build_statement(inputs.fiscal_year, inputs.municipalities, inputs.own, inputs.late, inputs.voided)


def write_statements(doc: dict[str, Any], out: Path,
                     progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """One PDF and one CSV per municipality, a summary CSV and a per-operator CSV."""
    from bcl_console.pdfgen.statement import render_statement

    fy = doc["fiscal_year"]
    written = []
    rows = doc["municipalities"]
    for n, row in enumerate(rows, 1):
        base = out / f"statement-{fy}-{row['code']}"
        with open(f"{base}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["month", *TYPES, "total"])
            for month, counts in row["by_month"].items():
                w.writerow([month, *(counts.get(t, 0) for t in TYPES), sum(counts.values())])
            w.writerow(["total", *(row["certificates"].get(t, 0) for t in TYPES), row["billable"]])
            for key in ("usage_fee", "commission", "fees_collected", "net_to_municipality", "contribution",
                        "payable_to_jlis"):
                w.writerow([key, row[key]])
            for key, value in row["adjustments"].items():
                if key != "from_fiscal_years":
                    w.writerow([f"adjustment_{key}", value])
        Path(f"{base}.pdf").write_bytes(render_statement(doc, row))
        written += [Path(f"{base}.csv"), Path(f"{base}.pdf")]
        if progress is not None:
            progress(n, len(rows))
    summary = out / f"summary-{fy}.csv"
    with open(summary, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        cols = ["billable", "usage_fee", "commission", "fees_collected", "net_to_municipality", "contribution",
                "payable_to_jlis"]
        w.writerow(["code", "name", *TYPES, *cols, "adjustment_billable"])
        for row in doc["municipalities"]:
            w.writerow([row["code"], row["name"], *(row["certificates"].get(t, 0) for t in TYPES),
                        *(row[c] for c in cols), row["adjustments"]["billable"]])
        w.writerow(["total", "", *(doc["totals"]["certificates"].get(t, 0) for t in TYPES),
                    *(doc["totals"][c] for c in cols), doc["totals"]["adjustment_billable"]])
    operators = out / f"operators-{fy}.csv"
    with open(operators, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["operator", "billable", "commission", "adjustment_billable", "adjustment_commission"])
        for op in doc["operators"]:
            w.writerow([op["operator"], op["billable"], op["commission"], op["adjustment_billable"],
                        op["adjustment_commission"]])
    return [*written, summary, operators]
