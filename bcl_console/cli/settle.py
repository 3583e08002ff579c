"""`settle`: the fee settlement of a fiscal year (精算)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, actor, whole, with_runtime
from bcl_console.cli.output import EXIT_OK, table
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("settle", parents=common.json, help="fee settlement of a fiscal year (精算)")
    p.add_argument("--fiscal-year", required=True, type=whole, metavar="N", help="1 April N – 31 March N+1")
    p.add_argument("--close", action="store_true", help="freeze the year (idempotent; only after it ended)")
    p.add_argument("--out", default=None, metavar="DIR", help="write statements (PDF and CSV) and summaries")
    p.set_defaults(func=cmd_settle)


def cmd_settle(args: argparse.Namespace) -> int:
    from pathlib import Path

    async def body(runtime: Runtime) -> int:
        from bcl_console.cli.progress import Bars

        out = Path(args.out) if args.out else None
        with Bars(args, "statements") as bars:
            doc = await runtime.settlement.settle(args.fiscal_year, close=args.close, out=out, actor=actor(),
                                                  progress=bars.of(f"statements FY{args.fiscal_year}"))

        def human() -> None:
            state = f"closed {doc.get('closed_at', '')[:19]}" if doc["closed"] else "open (not closed)"
            print(f"Settlement {doc['fiscal_year_ja']} (FY{doc['fiscal_year']}), {state}")
            table(
                [(r["code"], r["name"], f"{r['billable']:,}", f"{r['usage_fee']:,}", f"{r['commission']:,}",
                  f"{r['fees_collected']:,}", f"{r['net_to_municipality']:,}", f"{r['contribution']:,}",
                  f"{r['adjustments']['billable']:+,}") for r in doc["municipalities"]],
                ("code", "name", "billable", "usage fee", "commission", "fees", "net", "contribution", "adj."),
            )
            t = doc["totals"]
            print(f"totals: {t['billable']:,} billable, usage fee {t['usage_fee']:,} yen, commission "
                  f"{t['commission']:,} yen, contributions {t['contribution']:,} yen")
            for op in doc["operators"]:
                print(f"  operator {op['operator']}: {op['billable']:,} certificates, commission {op['commission']:,} yen")
            if out:
                print(f"statements written to {out}")

        if args.json:
            print(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True))
        else:
            human()
        return EXIT_OK

    return with_runtime(args, body)
