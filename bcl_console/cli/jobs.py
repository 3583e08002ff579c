"""`jobs`: run a scheduled job now, or list past runs."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, whole, with_runtime
from bcl_console.cli.output import EXIT_FAILURE, EXIT_OK, emit, table
from bcl_console.services.platform.runtime import Runtime
from bcl_console.services.platform.scheduler import JOBS

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    j = sub.add_parser("jobs", help="scheduled jobs: run one now, or list past runs")
    jsub = j.add_subparsers(dest="action", metavar="ACTION", required=True)
    names = [spec.name for spec in JOBS]
    x = jsub.add_parser("run", parents=common.json, help=f"run a job now ({', '.join(names)})")
    x.add_argument("job", choices=names)
    x = jsub.add_parser("history", parents=common.json, help="past runs with their outcomes")
    x.add_argument("--limit", type=whole, default=20)
    j.set_defaults(func=cmd_jobs)


def cmd_jobs(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        if args.action == "run":
            outcome, detail = await runtime.scheduler.run_now(args.job)
            emit(args, {"job": args.job, "outcome": outcome, "detail": detail},
                 lambda: print(f"{args.job}: {outcome} — {detail}"))
            return EXIT_OK if outcome == "ok" else EXIT_FAILURE
        runs = await runtime.scheduler.history(args.limit)
        docs = [dataclasses.asdict(r) for r in runs]
        emit(args, {"runs": docs}, lambda: table(
            [(r.job, r.started_at[:19], r.outcome, r.detail[:60]) for r in runs],
            ("job", "started (UTC)", "outcome", "detail")))
        return EXIT_OK

    return with_runtime(args, body)
