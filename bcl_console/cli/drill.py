"""`drill two-centres`: the trainer's one command (contract §11). East and West on this
machine, East killed mid-traffic, West promoted, the figures, East rejoined."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, positive_seconds, with_runtime
from bcl_console.cli.output import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, emit
from bcl_console.demo.drill import Drill, DrillEvent, DrillFailed, summary_line
from bcl_console.demo.make import ensure_demo
from bcl_console.services.platform.postgres_local import PostgresMissing
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("drill", help="drills: two-centres (East lost, West takes over, East rejoins)")
    dsub = p.add_subparsers(dest="drill", metavar="DRILL", required=True)
    x = dsub.add_parser("two-centres", parents=common.json,
                        help="two PostgreSQL centres on this machine, kiosk and linkage traffic, East killed "
                             "with SIGKILL, West promoted; prints accepted, lost, duplicated, RTO, verdict")
    x.add_argument("--seconds", type=positive_seconds, default=30.0, metavar="S",
                   help="seconds of kiosk traffic (East is killed between 30 %% and 55 %% of it; default 30)")
    x.add_argument("--seed", type=int, default=None, help="the moment of East's death and the traffic, repeatably")
    x.add_argument("--keep", action="store_true",
                   help="keep the clusters and the centres' directories under DATA_DIR/drills/ID")
    p.set_defaults(func=cmd_drill)


def cmd_drill(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        from bcl_console.cli.progress import Bars

        await ensure_demo(runtime)  # a fresh data directory drills on the demo centre
        with Bars(args, "%") as bars:
            def event(e: DrillEvent) -> None:
                bars.update("drill", int(e.fraction * 100), 100, description=f"drill: {e.phase:<9}")
                if e.logged and not args.json:
                    line = f"[{e.at:6.1f} s] {e.phase}: {e.message}"
                    if bars.shown:
                        bars.print(line)
                    else:
                        print(line, file=sys.stderr, flush=True)

            drill = Drill(runtime, seconds=args.seconds, keep=args.keep, seed=args.seed, on_event=event)
            # SIGTERM (a job system's stop, timeout(1)) ends the drill as Ctrl-C does: its
            # servers and serves stopped, its report written (the default would kill this
            # process with both clusters left running)
            task, loop = asyncio.current_task(), asyncio.get_running_loop()
            assert task is not None
            terminated: list[int] = []

            def on_term() -> None:
                terminated.append(signal.SIGTERM)
                task.cancel()

            loop.add_signal_handler(signal.SIGTERM, on_term)
            try:
                report = await drill.run()
            except asyncio.CancelledError:
                if not terminated:
                    raise
                task.uncancel()
                raise CliError(f"the drill was stopped (SIGTERM) before its end; everything it started is "
                               f"stopped; its report and logs: {drill.root}", EXIT_FAILURE, "drill_stopped") from None
            except PostgresMissing as exc:
                raise CliError(f"the drill needs PostgreSQL: {exc}", EXIT_USAGE, "postgresql_missing") from None
            except DrillFailed as exc:
                raise CliError(f"the drill could not be run: {exc}", EXIT_FAILURE, "drill_failed") from None

        def human() -> None:
            print(summary_line(report))
            for problem in report.problems:
                print(f"  - {problem}")
            print(f"report and logs: {report.directory}")

        doc = {"accepted": report.accepted, "lost": report.lost, "duplicated": report.duplicated,
               "rto_seconds": report.rto_seconds, "east_rejoined": report.east_rejoined,
               "verdict": report.verdict, **report.as_dict()}
        emit(args, doc, human)
        return EXIT_OK if report.verdict == "pass" else EXIT_FAILURE

    return with_runtime(args, body, create=True)
