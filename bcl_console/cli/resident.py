"""`resident find`: residents by name, kana, household number or code."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, with_runtime
from bcl_console.cli.output import EXIT_OK, emit, table
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("resident", parents=common.plain,
                       help="find residents by name, kana, household number or code (for issue, check-in …)")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = rsub.add_parser("find", parents=common.json, help="residents whose name or kana contains TEXT, or "
                        "whose household number or resident code is TEXT (at most 20)")
    r.add_argument("text", metavar="NAME|KANA|HOUSEHOLD|CODE")
    r.add_argument("--municipality", default=None, metavar="CODE", help="only this municipality")
    r.set_defaults(func=cmd_resident)


def cmd_resident(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        found = await runtime.residents.find(args.text, args.municipality)
        docs = [{"municipality_code": r.municipality_code, "resident_code": r.resident_code,
                 "household_number": r.household_number, "name": r.name, "name_kana": r.name_kana,
                 "birth_date": r.birth_date.isoformat(), "status": r.status.value} for r in found]
        emit(args, {"residents": docs}, lambda: table(
            [(d["municipality_code"], d["resident_code"], d["household_number"], d["name"], d["name_kana"],
              d["birth_date"], d["status"]) for d in docs],
            ("code", "resident", "household", "name", "kana", "born", "status")) if docs else print(
            f"no resident matches {args.text!r}"))
        return EXIT_OK

    return with_runtime(args, body)
