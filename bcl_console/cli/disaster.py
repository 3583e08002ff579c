"""`disaster`: disaster-victim support — disasters, damage assessments, the victim
ledger (被災者台帳), evacuation centres, reconstruction support, the people needing
evacuation help and reports of harm (被災届出, certified by the 被災証明書). One small function per action, looked up in ``ACTIONS``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bcl_console.cli.common import Common, actor, whole, with_runtime
from bcl_console.cli.output import EXIT_OK, EXIT_REJECTED, emit, print_token, table
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers

Action = Callable[[Runtime, argparse.Namespace], Awaitable[int]]


def register(sub: Subparsers, common: Common) -> None:
    d = sub.add_parser("disaster", help="disaster-victim support: disasters, assessments, ledger, centres, support")
    dsub = d.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = dsub.add_parser("declare", parents=common.json, help="declare a disaster")
    x.add_argument("--name", required=True)
    x.add_argument("--kind", required=True, help="flood, earthquake, typhoon, landslide, tsunami, snow, fire, …")
    x.add_argument("--date", required=True, help="the day it occurred (YYYY-MM-DD or 和暦)")
    x.add_argument("--municipality", action="append", required=True, metavar="CODE", help="affected (repeatable)")
    dsub.add_parser("list", parents=common.json, help="every disaster")
    for name, text in (("show", "one disaster: households by class, centres, applications, support"),
                       ("close", "close a disaster (its centres closed first)")):
        x = dsub.add_parser(name, parents=common.json, help=text)
        x.add_argument("id", type=whole)
    x = dsub.add_parser("assess", parents=common.json, help="assess a dwelling (a re-assessment keeps history)")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--household", required=True)
    x.add_argument("--ratio", type=whole, help="damage ratio in percent (0–100)")
    x.add_argument("--class", dest="damage_class", help="全壊, 大規模半壊, 中規模半壊, 半壊, 準半壊, 一部損壊")
    x.add_argument("--inspector", required=True)
    x.add_argument("--date", help="assessed on (default today)")
    x.add_argument("--flood", help="浸水区分 of a flood: 床上浸水 (床上) or 床下浸水 (床下)")
    x.add_argument("--flood-depth", type=whole, help="flood depth above ground in cm (with --flood)")
    x = dsub.add_parser("import-assessments", parents=common.json,
                        help="import assessments from CSV, all or nothing")
    x.add_argument("id", type=whole)
    x.add_argument("file")
    x = dsub.add_parser("ledger", parents=common.json, help="the victim ledger (被災者台帳), filtered; --out writes CSV")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality")
    x.add_argument("--min-class", help="this class or worse, e.g. 半壊")
    x.add_argument("--needs-help", action="store_true", help="only people needing evacuation help")
    x.add_argument("--whereabouts", help="home, shelter, relatives, elsewhere, unknown")
    x.add_argument("--out", help="write the extract as CSV (UTF-8 with BOM)")
    x = dsub.add_parser("person", parents=common.json, help="set a person's whereabouts (居所), injury, note")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--resident", required=True)
    x.add_argument("--whereabouts")
    x.add_argument("--injury", help="none, injured, seriously-injured, dead, missing")
    x.add_argument("--note")
    x = dsub.add_parser("shelter-open", parents=common.json, help="open an evacuation centre (避難所)")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--name", required=True)
    x.add_argument("--capacity", type=whole, required=True)
    x = dsub.add_parser("shelter-close", parents=common.json, help="close an evacuation centre (empty)")
    x.add_argument("shelter", type=whole)
    x = dsub.add_parser("shelters", parents=common.json, help="evacuation centres with occupancy")
    x.add_argument("id", type=whole, nargs="?")
    x = dsub.add_parser("checkin", parents=common.json, help="check a person in by hand")
    x.add_argument("shelter", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--resident", required=True)
    x = dsub.add_parser("checkout", parents=common.json, help="check a person out")
    x.add_argument("--municipality", required=True)
    x.add_argument("--resident", required=True)
    x.add_argument("--whereabouts", default="home")
    x = dsub.add_parser("shelter-token", parents=common.json,
                        help="register a shelter terminal; prints its token once (for /shelter/v1)")
    x.add_argument("terminal")
    x = dsub.add_parser("support-apply", parents=common.json, help="apply for reconstruction support (支援金)")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--household", required=True)
    x.add_argument("--method", help="build, repair or rent (加算支援金)")
    x.add_argument("--demolished", action="store_true")
    x.add_argument("--long-term", action="store_true", help="long-term evacuation (長期避難)")
    x = dsub.add_parser("support-decide", parents=common.json, help="approve, reject or pay an application")
    x.add_argument("application", type=whole)
    x.add_argument("decision", choices=["approve", "reject", "pay"])
    x.add_argument("--note")
    x = dsub.add_parser("support", parents=common.json, help="support applications of a disaster with totals")
    x.add_argument("id", type=whole)
    x = dsub.add_parser("needs-help", parents=common.json,
                        help="people needing evacuation help (避難行動要支援者名簿) with their plans")
    x.add_argument("code")
    x = dsub.add_parser("plan", parents=common.json, help="set a person's individual evacuation plan")
    x.add_argument("code")
    x.add_argument("resident")
    x.add_argument("--supporter", required=True)
    x.add_argument("--destination", required=True)
    x.add_argument("--notes")
    x = dsub.add_parser("applications", parents=common.json, help="residents' online applications")
    x.add_argument("--state", choices=["waiting", "approved", "rejected"])
    for name in ("approve", "reject"):
        x = dsub.add_parser(name, parents=common.json, help=f"{name} an online application")
        x.add_argument("application", type=whole)
        x.add_argument("--reason")
    x = dsub.add_parser("victim-report", parents=common.json,
                        help="record a person's report of harm (被災届出): the 被災証明書 certifies it")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True, metavar="CODE")
    x.add_argument("--resident", required=True, metavar="R", help="the resident code")
    x.add_argument("--harm", required=True, metavar="TEXT",
                   help="what was damaged, as reported (dwelling, household goods, vehicle, business …; "
                        "at most 200 characters)")
    x.add_argument("--date", help="届出日, the day it was reported (default today)")
    x.add_argument("--amend", action="store_true",
                   help="replace the person's earlier report (a second report is refused without it)")
    x = dsub.add_parser("victim-reports", parents=common.json, help="the reports of harm of a disaster")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", metavar="CODE")
    d.set_defaults(func=cmd_disaster)



def cmd_disaster(args: argparse.Namespace) -> int:
    action = ACTIONS[args.action]
    return with_runtime(args, lambda runtime: action(runtime, args))


def shown(args: argparse.Namespace, doc: dict[str, Any]) -> int:
    """An action's result: the document, indented for a person too."""
    emit(args, doc, lambda: print(json.dumps(doc, ensure_ascii=False, indent=2, default=str)))
    return EXIT_OK


async def declare(rt: Runtime, args: argparse.Namespace) -> int:
    view = await rt.ledger.declarations.declare(args.name, args.kind, args.date, args.municipality, actor=actor())
    return shown(args, view.as_dict())


async def disasters(rt: Runtime, args: argparse.Namespace) -> int:
    views = await rt.ledger.declarations.disasters()
    emit(args, {"disasters": [v.as_dict() for v in views]}, lambda: table(
        [(v.disaster.id, v.disaster.name, v.disaster.kind, v.disaster.occurred_on.isoformat(),
          ",".join(v.disaster.municipalities), sum(v.by_class.values()),
          "closed" if v.disaster.closed_at else "open") for v in views],
        ("id", "name", "kind", "date", "municipalities", "assessed", "state")))
    return EXIT_OK


async def show(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.declarations.get(args.id)).as_dict())


async def close(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.declarations.close(args.id, actor=actor())).as_dict())


async def assess(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.assessments.assess(
        args.id, args.municipality, args.household, ratio=args.ratio, damage_class=args.damage_class,
        inspector=args.inspector, assessed_on=args.date or "", flood_level=args.flood,
        flood_depth_cm=args.flood_depth, actor=actor())).as_dict())


async def import_assessments(rt: Runtime, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bcl_console.services.disaster.assessments import AssessmentsRejected

    try:
        done = await rt.ledger.assessments.import_assessments(args.id, Path(args.file), actor=actor())
    except AssessmentsRejected as exc:
        problems = exc.problems.items
        print(f"bcl-console: {exc.message}", file=sys.stderr)

        def listing() -> None:
            for p in problems:
                print(f"  {p.sentence()}")

        emit(args, {"outcome": "rejected", "problems": [p.as_dict() for p in problems],
                    "problems_omitted": exc.problems.omitted}, listing)
        return EXIT_REJECTED
    return shown(args, done.as_dict())


async def ledger(rt: Runtime, args: argparse.Namespace) -> int:
    from pathlib import Path

    filters = {"code": args.municipality, "min_class": args.min_class, "needs_help": args.needs_help,
               "whereabouts": args.whereabouts}
    if args.out:
        return shown(args, (await rt.ledger.victims.export_ledger(args.id, Path(args.out), **filters)).as_dict())
    rows = await rt.ledger.victims.ledger(args.id, **filters)
    emit(args, {"disaster_id": args.id, "people": [r.as_dict() for r in rows]}, lambda: table(
        [(r.municipality_code, r.household_number, r.damage_class, r.name,
          r.relationship, "要支援" if r.needs_evacuation_help else "", r.whereabouts,
          r.shelter or "", r.support_state or "") for r in rows],
        ("code", "household", "damage", "name", "rel.", "help", "whereabouts", "shelter", "support")))
    return EXIT_OK


async def person(rt: Runtime, args: argparse.Namespace) -> int:
    await rt.ledger.victims.set_person(args.id, args.municipality, args.resident, whereabouts=args.whereabouts,
                                       injury=args.injury, note=args.note, actor=actor())
    rows = await rt.ledger.victims.ledger(args.id, code=args.municipality)
    found = next((r for r in rows if r.resident_code == args.resident), None)
    return shown(args, found.as_dict() if found else {"resident_code": args.resident})


async def shelter_open(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.centres.open_shelter(args.id, args.municipality, args.name, args.capacity,
                                                             actor=actor())).as_dict())


async def shelter_close(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.centres.close_shelter(args.shelter, actor=actor())).as_dict())


async def shelters(rt: Runtime, args: argparse.Namespace) -> int:
    found = await rt.ledger.centres.shelters(args.id)
    emit(args, {"shelters": [x.as_dict() for x in found]}, lambda: table(
        [(x.id, x.disaster_id, x.municipality_code, x.name, f"{x.occupancy}/{x.capacity}",
          "closed" if x.closed_at else "open") for x in found],
        ("id", "disaster", "code", "name", "occupancy", "state")))
    return EXIT_OK


async def checkin(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.centres.check_in(args.shelter, args.municipality, args.resident,
                                                         actor=actor())).as_dict())


async def checkout(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.centres.check_out(args.municipality, args.resident,
                                                          whereabouts=args.whereabouts, actor=actor())).as_dict())


async def shelter_token(rt: Runtime, args: argparse.Namespace) -> int:
    token = await rt.tokens.issue("shelter", args.terminal, actor=actor())
    print_token(args, {"terminal": args.terminal, "token": token}, f"Token for shelter terminal {args.terminal}")
    return EXIT_OK


async def support_apply(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.payments.apply_support(
        args.id, args.municipality, args.household, method=args.method, demolished=args.demolished,
        long_term=args.long_term, actor=actor())).as_dict())


async def support_decide(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.payments.decide_support(args.application, args.decision, note=args.note,
                                                                actor=actor())).as_dict())


async def support(rt: Runtime, args: argparse.Namespace) -> int:
    items = await rt.ledger.payments.support_list(args.id)
    doc = {"disaster_id": args.id, "applications": [i.as_dict() for i in items],
           "totals": {st: sum(i.total for i in items if i.state == st)
                      for st in ("applied", "approved", "paid")}}
    emit(args, doc, lambda: table(
        [(i.id, i.municipality_code, i.household_number, i.damage_class, i.members,
          i.rebuild_method or "-", f"{i.total:,}", i.state) for i in items],
        ("id", "code", "household", "damage", "members", "rebuild", "yen", "state")))
    return EXIT_OK


async def needs_help(rt: Runtime, args: argparse.Namespace) -> int:
    people = await rt.ledger.plans.needs_help(args.code)
    emit(args, {"municipality_code": args.code, "people": [p.as_dict() for p in people]}, lambda: table(
        [(p.resident_code, p.name, p.status, p.supporter or "-", p.destination or "-",
          p.review_reason or "") for p in people],
        ("resident", "name", "status", "supporter", "destination", "review")))
    return EXIT_OK


async def plan(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.plans.set_plan(args.code, args.resident, supporter=args.supporter,
                                                       destination=args.destination, notes=args.notes or "",
                                                       actor=actor())).as_dict())


async def applications(rt: Runtime, args: argparse.Namespace) -> int:
    apps = await rt.ledger.requests.applications(args.state)
    emit(args, {"applications": [a.as_dict() for a in apps]}, lambda: table(
        [(a.id, a.municipality_code, a.resident_code, a.disaster_id, a.applied_at[:19],
          a.state) for a in apps],
        ("id", "code", "resident", "disaster", "applied (UTC)", "state")))
    return EXIT_OK


async def decide_application(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.requests.decide_application(args.application, args.action == "approve",
                                                                    reason=args.reason, actor=actor())).as_dict())


async def victim_report(rt: Runtime, args: argparse.Namespace) -> int:
    return shown(args, (await rt.ledger.reports.report_harm(
        args.id, args.municipality, args.resident, args.harm, reported_on=args.date or "", amend=args.amend,
        actor=actor())).as_dict())


async def victim_reports(rt: Runtime, args: argparse.Namespace) -> int:
    reports = await rt.ledger.reports.reports(args.id, args.municipality)
    emit(args, {"disaster_id": args.id, "reports": [r.as_dict() for r in reports]}, lambda: table(
        [(r.municipality_code, r.resident_code, r.name, r.reported_on, r.revision, r.harm) for r in reports],
        ("code", "resident", "name", "届出日", "rev.", "harm")))
    return EXIT_OK


#: Each action of `disaster`, by its name on the command line.
ACTIONS: dict[str, Action] = {
    "declare": declare,
    "list": disasters,
    "show": show,
    "close": close,
    "assess": assess,
    "import-assessments": import_assessments,
    "ledger": ledger,
    "person": person,
    "shelter-open": shelter_open,
    "shelter-close": shelter_close,
    "shelters": shelters,
    "checkin": checkin,
    "checkout": checkout,
    "shelter-token": shelter_token,
    "support-apply": support_apply,
    "support-decide": support_decide,
    "support": support,
    "needs-help": needs_help,
    "plan": plan,
    "applications": applications,
    "approve": decide_application,
    "reject": decide_application,
    "victim-report": victim_report,
    "victim-reports": victim_reports,
}
