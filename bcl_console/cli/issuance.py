"""Certificates at the counter (`issue`), their verification (`verify`) and the test
My Number cards (`card`)."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import TYPE_CHECKING, Any

from bcl_console.cli.common import Common, actor, whole, with_runtime
from bcl_console.cli.output import EXIT_FAILURE, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, CliError, emit
from bcl_console.domain.municipality import CertificateType
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers
    from bcl_console.services.issuance.verification import Verdict


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("issue", parents=common.json, help="issue a certificate at the counter (窓口)")
    p.add_argument("--resident", required=True, metavar="CODE", help="the 11-digit resident code")
    p.add_argument("--type", required=True, choices=[t.value for t in CertificateType],
                   help="residence, seal, tax, disaster (罹災証明書) or disaster-victim (被災証明書)")
    p.add_argument("--scope", default="self", choices=["self", "household"],
                   help="residence: the requester only, or every current member of the household")
    p.add_argument("--include-domicile", action="store_true", help="residence: print 本籍 and 筆頭者")
    p.add_argument("--fiscal-year", type=whole, default=None, help="tax: the fiscal year (default: the latest)")
    p.add_argument("--disaster", type=whole, default=None, metavar="ID",
                   help="disaster, disaster-victim: the disaster number (default: the latest assessed or "
                        "reported)")
    p.add_argument("--out", required=True, metavar="FILE.pdf")
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("verify", parents=common.json,
                       help="check that a certificate is genuine, unaltered and not voided")
    p.add_argument("file", nargs="?", metavar="FILE.pdf", help="the certificate PDF")
    p.add_argument("--code", default=None, help="look a verification code up instead (at the centre)")
    p.add_argument("--scan", default=None, metavar="IMAGE",
                   help="a scan or photo (PNG/JPEG) of a back page: decode its 2-D code and print the signed "
                        "fields, to compare with the paper")
    p.add_argument("--public-key", default=None, metavar="FILE",
                   help="verify with this published key (`keys public`) alone: no data directory is used, "
                        "and revocation is not checked")
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

    from bcl_console.services.issuance.verification import TrustAnchor, VerificationService

    if sum(1 for given in (args.file, args.code, args.scan) if given) != 1:
        raise CliError("give exactly one of a PDF file, --code CODE or --scan IMAGE", EXIT_USAGE, "usage")

    def report(verdict: Verdict) -> int:
        doc = verdict.as_dict()
        emit(args, doc, lambda: _print_verdict(verdict, doc, scan=bool(args.scan)))
        return EXIT_OK if verdict.status == "genuine" else EXIT_REJECTED

    if args.public_key is not None:
        # Anywhere (a bank, a 司法書士): the published key alone. No settings are loaded,
        # no data directory is looked for, made or opened.
        if args.code:
            raise CliError("--code looks the code up at the issuing centre: give its data directory "
                           "instead of --public-key", EXIT_USAGE, "usage")
        key_file = Path(args.public_key)
        try:
            pem = key_file.read_bytes()
        except OSError as exc:
            raise CliError(f"--public-key {key_file} cannot be read: {exc.strerror}", EXIT_USAGE, "usage",
                           file=str(key_file)) from None
        service = VerificationService(None, TrustAnchor.from_pem(pem, f"--public-key {key_file}"))

        async def offline() -> Verdict:
            if args.scan:
                return await service.verify_scan_file(Path(args.scan))
            return await service.verify_pdf(Path(args.file))

        return report(asyncio.run(offline()))

    async def body(runtime: Runtime) -> int:
        if args.code:
            verdict = await runtime.verification.verify_code(args.code)
        elif args.scan:
            verdict = await runtime.verification.verify_scan_file(Path(args.scan))
        else:
            verdict = await runtime.verification.verify_pdf(Path(args.file))
        return report(verdict)

    return with_runtime(args, body)


#: How `verify --scan` labels the signed content beside the fields of the page.
_SCAN_LABELS = (("title", "証明書"), ("number", "証明番号"), ("code", "検証コード"), ("page", "頁"),
                ("sentence", "証明文"), ("date", "日付"), ("issuer", "発行者"))


def _print_verdict(verdict: Verdict, doc: dict[str, Any], *, scan: bool) -> None:
    print(f"{verdict.status.upper()}: {verdict.reason}"
          + (f" (code {doc.get('code')}, {doc.get('type')}, {doc.get('municipality')}, "
             f"issued {doc.get('issued_at')})" if doc.get("type") else ""))
    printed = doc.get("printed")
    if not scan or not isinstance(printed, dict) or not doc.get("signature_valid"):
        return  # what an unsigned code says is not worth comparing
    head = dict(_SCAN_LABELS[:4])
    print("The signed content of this page (compare it with the paper):")
    for key, label in head.items():
        value = f"{printed.get('page')} / {printed.get('pages')}" if key == "page" else printed.get(key)
        print(f"  {label}: {value}")
    for pair in printed.get("fields") or []:  # as signed: in order, a label as often as printed
        if isinstance(pair, list) and len(pair) == 2:
            print(f"  {pair[0]}: {pair[1]}")
    for key, label in _SCAN_LABELS[4:]:
        print(f"  {label}: {printed.get(key)}")


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
