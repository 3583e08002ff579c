"""`municipality`: register municipalities and set their management-terminal controls."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bcl_console.cli.common import Common, actor, whole, with_runtime
from bcl_console.cli.output import EXIT_OK, EXIT_USAGE, CliError, emit, table
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    m = sub.add_parser("municipality", help="municipalities and their management-terminal controls")
    msub = m.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = msub.add_parser("add", parents=common.json, help="register a municipality")
    a.add_argument("--code", required=True, help="6-digit local-government code with check digit")
    a.add_argument("--name", required=True)
    a.add_argument("--kind", required=True,
                   help="designated-city | city | special-ward | town | village")
    a.add_argument("--population", required=True, type=whole)
    a.add_argument("--hosting", default="bcl", help="bcl (default) or own-server")
    a.add_argument("--server-url", default=None, help="issuance server URL (own-server hosting)")
    a.add_argument("--service-start", default=None, metavar="YYYY-MM-DD")
    a.add_argument("--prefecture", default=None, help="prefecture name printed on certificates")
    a.add_argument("--mayor", default=None, help="mayor's name printed on certificates")
    msub.add_parser("list", parents=common.json, help="list municipalities")
    s = msub.add_parser("show", parents=common.json, help="one municipality with its controls")
    s.add_argument("code")
    h = msub.add_parser("hours", parents=common.json, help="set store-issuance hours (Asia/Tokyo)")
    h.add_argument("code")
    h.add_argument("open", metavar="HH:MM")
    h.add_argument("close", metavar="HH:MM")
    s = msub.add_parser("suspend", parents=common.json, help="suspend store issuance")
    s.add_argument("code")
    s.add_argument("--reason", required=True)
    s = msub.add_parser("resume", parents=common.json, help="resume store issuance")
    s.add_argument("code")
    f = msub.add_parser("fees", parents=common.json, help="set an issuance fee (交付手数料)")
    f.add_argument("code")
    f.add_argument("--type", required=True, help="residence | seal | tax | disaster")
    f.add_argument("--yen", required=True, type=whole)
    au = msub.add_parser("audit", parents=common.json, help="the audit trail of control changes")
    au.add_argument("code", nargs="?", default=None)
    au.add_argument("--limit", type=whole, default=50)
    m.set_defaults(func=cmd_municipality)


def cmd_municipality(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        svc = runtime.municipalities
        action = args.action
        if action == "list":
            views = await svc.all()
            emit(args, {"municipalities": [v.summary() for v in views]}, lambda: table(
                [(v.code, v.municipality.name, v.municipality.kind.value, f"{v.municipality.population:,}",
                  v.municipality.hosting.value, v.summary()["service_start"] or "-", v.state.value)
                 for v in views],
                ("code", "name", "kind", "population", "hosting", "service start", "state"),
            ))
            return EXIT_OK
        if action == "add":
            view = await svc.add(
                code=args.code, name=args.name, kind=args.kind, population=args.population,
                hosting=args.hosting, server_url=args.server_url,
                service_start=args.service_start, prefecture=args.prefecture or "",
                mayor=args.mayor or "", actor=actor(),
            )
        elif action == "show":
            view = await svc.get(args.code)
        elif action == "hours":
            view = await svc.set_hours(args.code, args.open, args.close, actor=actor())
        elif action == "suspend":
            view = await svc.suspend(args.code, args.reason, actor=actor())
        elif action == "resume":
            view = await svc.resume(args.code, actor=actor())
        elif action == "fees":
            view = await svc.set_fee(args.code, args.type, args.yen, actor=actor())
        elif action == "audit":
            entries = await svc.audit_trail(args.code, args.limit)
            docs = [e.__dict__ for e in entries]
            emit(args, {"audit": docs}, lambda: table(
                [(e.at[:19], e.actor, e.interface, e.municipality_code, e.action,
                  e.field or "", e.old_value or "", e.new_value or "") for e in entries],
                ("at (UTC)", "actor", "via", "code", "action", "field", "old", "new"),
            ))
            return EXIT_OK
        else:  # pragma: no cover - argparse restricts the choices
            raise CliError(f"unknown action {action}", EXIT_USAGE)
        detail = view.detail()
        emit(args, detail, lambda: _print_detail(detail))
        return EXIT_OK

    return with_runtime(args, body)


def _print_detail(detail: dict[str, Any]) -> None:
    hours = detail["hours"]
    fees = ", ".join(f"{k} {v}円" for k, v in detail["fees"].items())
    suspended = f"yes — {detail['suspension_reason']}" if detail["suspended"] else "no"
    rows = [
        ("code", detail["code"]),
        ("name", f"{detail['prefecture']}{detail['name']}"),
        ("kind", detail["kind"]),
        ("population", f"{detail['population']:,} ({detail['contribution_class']})"),
        ("hosting", detail["hosting"] + (f" → {detail['server_url']}" if detail["server_url"] else "")),
        ("service start", detail["service_start"] or "-"),
        ("state", detail["state"]),
        ("mayor", detail["mayor"] or "-"),
        ("hours", f"{hours['open']}–{hours['close']} (Asia/Tokyo)"),
        ("suspended", suspended),
        ("open now", "yes" if detail["open_now"] else f"no ({detail['closed_reason']})"),
        ("fees", fees),
    ]
    for key, value in rows:
        print(f"{key:<14}{value}")
