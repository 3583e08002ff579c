"""`terminal`: management terminals (管理端末), each bound to one municipality: register one
(its token printed once), list them, revoke one (its token stops working at once)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, actor, with_runtime
from bcl_console.cli.output import EXIT_OK, EXIT_USAGE, CliError, emit, print_token, table
from bcl_console.services.manage.terminals import terminal_json
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    t = sub.add_parser("terminal", help="management terminals (管理端末) of the municipalities")
    tsub = t.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = tsub.add_parser("add", parents=common.json,
                        help="register a municipality's management terminal; prints its token once")
    a.add_argument("--municipality", required=True, metavar="CODE")
    a.add_argument("--name", required=True, help="the terminal's name, e.g. '総務課 LGWAN端末'")
    x = tsub.add_parser("list", parents=common.json, help="registered terminals, in use and revoked")
    x.add_argument("--municipality", default=None, metavar="CODE", help="one municipality's only")
    r = tsub.add_parser("revoke", parents=common.json, help="revoke a terminal: its token is refused at once")
    r.add_argument("terminal", metavar="NAME-or-ID")
    r.add_argument("--municipality", required=True, metavar="CODE")
    t.set_defaults(func=cmd_terminal)


def cmd_terminal(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        svc = runtime.terminals
        if args.action == "add":
            issued = await svc.add(args.municipality, args.name, actor=actor())
            t = issued.terminal
            label = f"Management terminal {t.id} of {t.municipality_code}, {t.name}: token"
            emit(args, {**terminal_json(t), "token": issued.token},
                 lambda: print_token(args, {"token": issued.token}, label))
        elif args.action == "list":
            found = await svc.list(args.municipality)
            emit(args, {"terminals": [terminal_json(t) for t in found]}, lambda: table(
                [(t.id, t.municipality_code, t.name, "active" if t.active else "revoked",
                  t.created_at[:19], (t.revoked_at or "")[:19]) for t in found],
                ("id", "code", "name", "state", "registered (UTC)", "revoked (UTC)"),
            ))
        elif args.action == "revoke":
            record, changed = await svc.revoke(args.municipality, args.terminal, actor=actor())
            doc = {**terminal_json(record), "changed": changed}
            emit(args, doc, lambda: print(
                f"Terminal {record.id} of {record.municipality_code}, {record.name}: "
                + ("revoked; its token is refused from now on." if changed else "was already revoked.")))
        else:  # pragma: no cover - argparse restricts the choices
            raise CliError(f"unknown action {args.action}", EXIT_USAGE)
        return EXIT_OK

    return with_runtime(args, body)
