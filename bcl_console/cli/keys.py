"""The centre's keys: `keys public` publishes the verification key (contract §12), the
file a bank or a 司法書士 gives to `verify --public-key` to check certificates with no
access to the centre."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, with_runtime
from bcl_console.cli.output import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, emit
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    k = sub.add_parser("keys", help="the centre's keys: publish the verification key")
    ksub = k.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = ksub.add_parser("public", parents=common.json,
                        help="the centre's verification key (PEM: the document signing certificate, then the "
                             "centre CA's), for `verify --public-key` anywhere")
    x.add_argument("--out", default=None, metavar="FILE", help="write it to FILE instead of printing it")
    k.set_defaults(func=cmd_keys)


def cmd_keys(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bcl_console.services.issuance.verification import TrustAnchor

    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise CliError(f"--out {out} is a directory; give a file name", EXIT_USAGE, "usage")

    async def body(runtime: Runtime) -> int:
        pem = runtime.keys.public_pem()
        anchor = TrustAnchor.from_pem(pem, "the centre's key")
        if out is not None:
            try:
                out.write_bytes(pem)
            except OSError as exc:
                raise CliError(f"{out} cannot be written: {exc.strerror}", EXIT_FAILURE, "os") from None
        doc = {"pem": pem.decode("ascii"), "key_sha256": anchor.fingerprint(),
               "certificates": [{"subject": c.subject.rfc4514_string(), "not_after":
                                 c.not_valid_after_utc.isoformat()} for c in anchor.certificates],
               "out": str(out) if out is not None else None}

        def human() -> None:
            if out is None:
                print(pem.decode("ascii"), end="")
            else:
                print(f"{out}: the centre's verification key (key SHA-256 {anchor.fingerprint()}); "
                      f"give it to `bcl-console verify FILE.pdf --public-key {out}`")

        emit(args, doc, human)
        return EXIT_OK

    return with_runtime(args, body)
