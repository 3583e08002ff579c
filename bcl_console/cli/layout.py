"""`layout`: layout versions of the certificate types (法改正対応): list them, stage a new
one, let the centre re-test it (stage 2 for every live municipality offering the type),
and activate it once every re-test passed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, actor, with_runtime
from bcl_console.cli.output import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, emit, table
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.municipality import parse_certificate_type
from bcl_console.services.onboarding.layouts import parse_version
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("layout", help="layout versions of the certificates (法改正対応) and their re-tests")
    lsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lsub.add_parser("list", parents=common.json, help="every type's layout versions and their state")
    s = lsub.add_parser("stage", parents=common.json, help="stage a new layout version (stores keep the active one)")
    s.add_argument("type", metavar="TYPE")
    s.add_argument("version", metavar="VERSION")
    r = lsub.add_parser("retest", parents=common.json,
                        help="the centre runs stage 2 on the staged layout for every live municipality offering TYPE")
    r.add_argument("type", metavar="TYPE")
    a = lsub.add_parser("activate", parents=common.json,
                        help="make the staged version the one every channel prints (exit 3 unless every re-test passed)")
    a.add_argument("type", metavar="TYPE")
    a.add_argument("version", metavar="VERSION")
    p.set_defaults(func=cmd_layout)


def _check(args: argparse.Namespace) -> None:
    """Type and version are checked before the centre is opened: bad input is a usage error."""
    try:
        if getattr(args, "type", None) is not None:
            ctype = parse_certificate_type(args.type)
            if getattr(args, "version", None) is not None:
                parse_version(ctype, args.version)
    except InvalidInput as exc:
        raise CliError(exc.sentence(), EXIT_USAGE, "usage", field=exc.field) from None


def cmd_layout(args: argparse.Namespace) -> int:
    _check(args)

    async def body(runtime: Runtime) -> int:
        svc = runtime.layouts
        if args.action == "list":
            views = await svc.views()
            emit(args, {"layouts": [v.as_dict() for v in views]}, lambda: table(
                [(v.layout.type.value, v.layout.version, v.state.value, v.layout.title,
                  "" if v.state.value != "staged" else
                  f"passed {len(v.passed)}, failed {len(v.failed)}, to re-test {len(v.untested)}")
                 for v in views],
                ("type", "version", "state", "layout", "re-tests"),
            ))
            return EXIT_OK
        if args.action == "stage":
            lay, changed = await svc.stage(args.type, args.version, actor=actor())
            emit(args, {"type": lay.type.value, "version": lay.version, "state": "staged", "changed": changed},
                 lambda: print(f"{lay.type.value} layout version {lay.version} ({lay.title}) "
                               + ("staged: re-test it with `layout retest " + lay.type.value + "`."
                                  if changed else "was already staged.")))
            return EXIT_OK
        if args.action == "retest":
            done = await svc.retest(args.type, actor=actor())
            passed = all(r.outcome == "passed" for r in done)
            emit(args, {"type": done[0].type, "version": done[0].version, "passed": passed,
                        "retests": [r.as_dict() for r in done]}, lambda: table(
                [(r.municipality_code, r.outcome, r.reason) for r in done], ("code", "outcome", "reason")))
            return EXIT_OK if passed else EXIT_FAILURE
        if args.action == "activate":
            lay = await svc.activate(args.type, args.version, actor=actor())
            emit(args, {"type": lay.type.value, "version": lay.version, "state": "active"},
                 lambda: print(f"{lay.type.value} layout version {lay.version} ({lay.title}) is active: "
                               "every channel prints it from now on."))
            return EXIT_OK
        raise CliError(f"unknown action {args.action}", EXIT_USAGE)  # pragma: no cover - argparse restricts it

    return with_runtime(args, body)
