"""Certificates at the counter (`issue`), their verification (`verify`) and the test
My Number cards (`card`)."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import TYPE_CHECKING, Any

from bcl_console.cli.common import Common, actor, whole, with_runtime
from bcl_console.cli.output import EXIT_FAILURE, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, CliError, emit
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("issue", parents=common.json, help="issue a certificate at the counter (窓口)")
    p.add_argument("--resident", required=True, metavar="CODE", help="the 11-digit resident code")
    p.add_argument("--type", required=True, choices=["residence", "seal", "tax", "disaster"])
    p.add_argument("--scope", default="self", choices=["self", "household"],
                   help="residence: the requester only, or every current member of the household")
    p.add_argument("--include-domicile", action="store_true", help="residence: print 本籍 and 筆頭者")
    p.add_argument("--fiscal-year", type=whole, default=None, help="tax: the fiscal year (default: the latest)")
    p.add_argument("--disaster", type=whole, default=None, metavar="ID",
                   help="disaster: the disaster number (default: the latest assessed)")
    p.add_argument("--out", required=True, metavar="FILE.pdf")
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("verify", parents=common.json,
                       help="check that a certificate is genuine, unaltered and not voided")
    p.add_argument("file", nargs="?", help="the certificate PDF")
    p.add_argument("--code", default=None, help="look a verification code up instead")
    p.set_defaults(func=cmd_verify)

    c = sub.add_parser("card", help="test My Number cards (simulated JPKI)")
    csub = c.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = csub.add_parser("issue", parents=common.json, help="issue a test card: one PEM with certificate and key")
    x.add_argument("--municipality", required=True, metavar="CODE")
    x.add_argument("--resident", required=True, metavar="RESIDENT_CODE")
    x.add_argument("--out", required=True, metavar="FILE")
    x = csub.add_parser("revoke", parents=common.json, help="revoke a card: the relay refuses it at once")
    x.add_argument("card", metavar="FILE|SERIAL")
    c.set_defaults(func=cmd_card)


def cmd_issue(args: argparse.Namespace) -> int:
    from pathlib import Path

    options: dict[str, Any] = {}
    if args.type == "residence":
        options = {"scope": args.scope, "include_domicile": args.include_domicile}
    elif args.scope != "self" or args.include_domicile:
        raise CliError("--scope and --include-domicile are for residence certificates", EXIT_USAGE, "usage")
    if args.fiscal_year is not None:
        options["fiscal_year"] = args.fiscal_year
    if args.disaster is not None:
        options["disaster_id"] = args.disaster
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise CliError(f"--out {out} is a directory; give a file name", EXIT_USAGE, "usage")

    async def body(runtime: Runtime) -> int:
        doc = await runtime.issuance.issue(args.resident, args.type, options, channel="counter")
        try:
            await asyncio.to_thread(out.write_bytes, doc.pdf)
        except OSError as exc:
            raise CliError(f"{out} cannot be written: {exc.strerror}", EXIT_FAILURE, "os") from None
        r = doc.record
        result = {"request_id": r.request_id, "type": r.type, "municipality_code": r.municipality_code,
                  "resident_code": r.resident_code, "verification_code": r.verification_code,
                  "pages": r.pages, "out": str(out), "bytes": len(doc.pdf)}
        emit(args, result, lambda: print(
            f"{out}: {r.type} certificate for resident {r.resident_code} ({r.municipality_code}), "
            f"{r.pages} pages, verification code {r.verification_code}"))
        return EXIT_OK

    return with_runtime(args, body)


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    if bool(args.file) == bool(args.code):
        raise CliError("give a PDF file or --code CODE (one of them)", EXIT_USAGE, "usage")

    async def body(runtime: Runtime) -> int:
        if args.code:
            verdict = await runtime.verification.verify_code(args.code)
        else:
            verdict = await runtime.verification.verify_pdf(Path(args.file))
        doc = verdict.as_dict()
        emit(args, doc, lambda: print(f"{verdict.status.upper()}: {verdict.reason}"
                                      + (f" (code {doc.get('code')}, {doc.get('type')}, "
                                         f"{doc.get('municipality')}, issued {doc.get('issued_at')})"
                                         if doc.get("type") else "")))
        return EXIT_OK if verdict.status == "genuine" else EXIT_REJECTED

    return with_runtime(args, body)


def cmd_card(args: argparse.Namespace) -> int:
    from pathlib import Path

    revoke_target = ""
    if args.action == "revoke":
        path = Path(args.card)
        revoke_target = path.read_text(encoding="ascii", errors="replace") if path.is_file() else args.card

    async def body(runtime: Runtime) -> int:
        if args.action == "issue":
            out = Path(args.out)
            card = await runtime.pki.issue_card(args.municipality, args.resident, actor=actor())
            try:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(card.pem)
            except OSError as exc:
                raise CliError(f"{out} cannot be written: {exc.strerror}", EXIT_FAILURE, "os") from None
            doc = {"serial": card.serial, "municipality_code": card.municipality_code,
                   "resident_code": card.resident_code, "not_after": card.not_after.isoformat(), "out": str(out)}
            emit(args, doc, lambda: print(
                f"{out}: test card {card.serial} for resident {card.resident_code} of {card.municipality_code}, "
                f"valid until {card.not_after:%Y-%m-%d}"))
        else:
            serial = await runtime.pki.revoke(revoke_target, actor=actor())
            emit(args, {"serial": serial, "revoked": True}, lambda: print(f"card {serial} revoked"))
        return EXIT_OK

    return with_runtime(args, body)
