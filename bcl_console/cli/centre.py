"""A centre's data directory: make an empty centre (`init`), the demo data set (`demo`),
and its clock (`clock`)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, settings_from, whole, with_runtime
from bcl_console.cli.output import EXIT_OK, EXIT_USAGE, CliError, emit
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("clock", parents=common.json,
                       help="the data directory's clock: show, set a training clock, clear it (real time)")
    csub_ = p.add_subparsers(dest="action", metavar="ACTION")
    csub_.add_parser("show", parents=common.json, help="the centre's time and whether it is a training clock")
    cs = csub_.add_parser("set", parents=common.json, help="run every command on this directory from INSTANT on")
    cs.add_argument("instant", metavar="ISO", help="e.g. 2026-12-01T10:00+09:00")
    csub_.add_parser("clear", parents=common.json, help="back to real time")
    p.set_defaults(func=cmd_clock, action="show")

    p = sub.add_parser("init", parents=common.json,
                       help="make an empty centre (database, keys); changes nothing on an existing one")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", parents=common.json, help="(re)create the demo data set")
    p.add_argument("--seed", type=whole, default=2026, help="random seed (default 2026)")
    p.add_argument("--residents", type=whole, default=None, metavar="N",
                   help="scale the BCL-hosted city to N residents (e.g. 500000 for benchmarks)")
    p.set_defaults(func=cmd_demo)


def cmd_init(args: argparse.Namespace) -> int:
    from bcl_console.services.platform.datadir import holds_centre

    settings = settings_from(args)
    existed = holds_centre(settings.data_dir, settings.database_url)

    async def body(runtime: Runtime) -> int:
        doc = {"data_dir": str(runtime.settings.data_dir), "created": not existed,
               "schema_version": runtime.schema_versions[1]}
        emit(args, doc, lambda: print(
            f"{'A centre already exists' if existed else 'Empty centre made'} in {doc['data_dir']} "
            f"(schema {doc['schema_version']}); nothing else was changed." if existed else
            f"Empty centre made in {doc['data_dir']}: database (schema {doc['schema_version']}) and keys. "
            "Add municipalities with `bcl-console municipality add`, or make the demo with `bcl-console demo`."))
        return EXIT_OK

    return with_runtime(args, body, create=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from bcl_console.cli.progress import Bars
    from bcl_console.demo.make import remake_demo

    settings = settings_from(args)
    with Bars(args, "residents") as bars:

        def progress(step: str, done: int, total: int) -> None:
            # the residents of every municipality on one bar; then the cards and the
            # onboarding story, one step each
            if step in ("cards", "onboarding"):
                bars.update(step, done, total, unit="step")
            else:
                bars.update("residents", done, total, description=f"residents: {step}")

        summary = asyncio.run(remake_demo(settings, args.seed, residents=args.residents, progress=progress))
    doc = {"data_dir": str(settings.data_dir), **summary.as_dict()}
    emit(args, doc, lambda: print(
        f"Demo data set (seed {summary.seed}) made in {settings.data_dir}: "
        f"{summary.municipalities} municipalities, {summary.residents:,} resident records "
        f"({summary.active_residents:,} active, the others moved out or deceased) in "
        f"{summary.households:,} households, {summary.seals:,} seals, {summary.taxes:,} "
        f"tax records ({summary.seconds:.1f} s)."
    ))
    return EXIT_OK


def cmd_clock(args: argparse.Namespace) -> int:
    """The data directory's clock: show it, set a training clock, or go back to real time."""
    from datetime import datetime

    from bcl_console.domain.fiscal import tokyo
    from bcl_console.services.platform.clock import (
        clear_training_clock,
        set_training_clock,
        training_now,
    )
    from bcl_console.services.platform.datadir import require_centre

    settings = settings_from(args)
    require_centre(settings.data_dir)
    if args.action == "set":
        try:
            start = datetime.fromisoformat(args.instant)
        except ValueError:
            raise CliError(f"{args.instant!r} is not an ISO date-time, e.g. 2026-12-01T10:00+09:00",
                           EXIT_USAGE, "usage") from None
        if start.tzinfo is None:
            raise CliError(f"{args.instant!r} needs a time zone, e.g. +09:00", EXIT_USAGE, "usage")
        set_training_clock(settings.data_dir, start)
    elif args.action == "clear":
        clear_training_clock(settings.data_dir)
    now = training_now(settings.data_dir)
    doc = {"training": now is not None, "now": tokyo(now or datetime.now().astimezone()).isoformat(timespec="seconds")}
    emit(args, doc, lambda: print(
        f"training clock: {doc['now']} (every command and the console on {settings.data_dir} run on it; "
        "`bcl-console clock clear` goes back to real time)" if doc["training"] else
        f"real time: {doc['now']} (no training clock)"))
    return EXIT_OK
