"""`terminal` and `counter`: the terminals of the municipalities, each bound to one
municipality — management terminals (管理端末, /manage/v1) and counter terminals
(らくらく窓口, /counter/v1). Register one (its token printed once), list them, revoke one
(its token stops working at once). Both groups are one set of commands over the kind."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, actor, with_runtime
from bcl_console.cli.output import EXIT_OK, EXIT_USAGE, CliError, emit, print_token, table
from bcl_console.services.platform.runtime import Runtime
from bcl_console.services.platform.terminals import TerminalService, terminal_json

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    _group(sub, common, "terminal", "add", lambda runtime: runtime.terminals,
           help_="management terminals (管理端末) of the municipalities",
           add_help="register a municipality's management terminal; prints its token once",
           example="'総務課 LGWAN端末'")
    _group(sub, common, "counter", "register", lambda runtime: runtime.counters,
           help_="counter terminals (らくらく窓口: card issuance at the town hall counter)",
           add_help="register a municipality's counter terminal; prints its token once",
           example="'住民課 窓口1'")


def _group(sub: Subparsers, common: Common, command: str, add_verb: str,
           service: Callable[[Runtime], TerminalService], *, help_: str, add_help: str, example: str) -> None:
    t = sub.add_parser(command, help=help_)
    tsub = t.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = tsub.add_parser(add_verb, parents=common.json, help=add_help)
    a.add_argument("--municipality", required=True, metavar="CODE")
    a.add_argument("--name", required=True, help=f"the terminal's name, e.g. {example}")
    x = tsub.add_parser("list", parents=common.json, help="registered terminals, in use and revoked")
    x.add_argument("--municipality", default=None, metavar="CODE", help="one municipality's only")
    r = tsub.add_parser("revoke", parents=common.json, help="revoke a terminal: its token is refused at once")
    r.add_argument("terminal", metavar="NAME-or-ID")
    r.add_argument("--municipality", required=True, metavar="CODE")
    t.set_defaults(func=lambda args: _run(args, add_verb, service))


def _run(args: argparse.Namespace, add_verb: str, service: Callable[[Runtime], TerminalService]) -> int:
    async def body(runtime: Runtime) -> int:
        svc = service(runtime)
        label = svc.kind.label
        if args.action == add_verb:
            issued = await svc.add(args.municipality, args.name, actor=actor())
            t = issued.terminal
            emit(args, {**terminal_json(t), "token": issued.token},
                 lambda: print_token(args, {"token": issued.token},
                                     f"{label.capitalize()} {t.id} of {t.municipality_code}, {t.name}: token"))
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
                f"{label.capitalize()} {record.id} of {record.municipality_code}, {record.name}: "
                + ("revoked; its token is refused from now on." if changed else "was already revoked.")))
        else:  # pragma: no cover - argparse restricts the choices
            raise CliError(f"unknown action {args.action}", EXIT_USAGE)
        return EXIT_OK

    return with_runtime(args, body)
