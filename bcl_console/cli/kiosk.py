"""Kiosk operators (`kiosk register`, which prints a token once) and the kiosk
simulator (`simulate`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import TYPE_CHECKING

from bcl_console.cli.common import (
    Common,
    actor,
    read_token_file,
    settings_from,
    whole,
    with_runtime,
)
from bcl_console.cli.output import EXIT_OK, EXIT_USAGE, CliError, emit, print_token
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    k = sub.add_parser("kiosk", help="kiosk operators")
    ksub = k.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = ksub.add_parser("register", parents=common.json, help="register an operator; prints its token once")
    x.add_argument("--operator", required=True, metavar="NAME")
    k.set_defaults(func=cmd_kiosk)

    p = sub.add_parser("simulate", parents=common.json,
                       help="drive simulated kiosks against a relay and report throughput and latency")
    p.add_argument("--url", action="append", default=None, metavar="URL",
                   help="the centre (default http://127.0.0.1:8470); give it twice for East and West (East "
                        "first): kiosks move on to the next on a connection failure or 503 standby")
    p.add_argument("--kiosks", type=whole, default=4, help="concurrent kiosks (default 4)")
    p.add_argument("--rate", type=float, default=5.0, help="flows started per second, all kiosks (default 5)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--token-file", default=None, metavar="FILE",
                   help="kiosk token (default: register a 'simulator' operator in --data-dir)")
    p.add_argument("--cards", default=None, metavar="DIR", help="test cards (default DATA_DIR/cards)")
    p.add_argument("--seed", type=whole, default=None)
    p.set_defaults(func=cmd_simulate)


def cmd_kiosk(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        name = " ".join(args.operator.split())
        if not name or len(name) > 80:
            raise CliError("--operator must be a name of 1 to 80 characters", EXIT_USAGE, "usage")
        token = await runtime.tokens.issue("kiosk", name, actor=actor())
        print_token(args, {"operator": name, "token": token}, f"Kiosk operator {name}: token")
        return EXIT_OK

    return with_runtime(args, body)


def cmd_simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bcl_console.clients.simulator import Simulator, load_cards

    settings = settings_from(args)
    cards_dir = Path(args.cards) if args.cards else settings.cards_dir

    async def main() -> int:
        token = read_token_file(args.token_file) if args.token_file else None
        cards = await asyncio.to_thread(load_cards, cards_dir)
        if not cards:
            raise CliError(f"no test cards in {cards_dir} (run bcl-console demo, or give --cards DIR)",
                           EXIT_USAGE, "usage")
        if token is None:  # the centre's own data directory: register a simulator operator
            runtime = Runtime(settings)
            await runtime.start(create=False)
            try:
                token = await runtime.tokens.issue("kiosk", "simulator", actor=actor())
            finally:
                await runtime.stop()
        sim = Simulator(args.url or ["http://127.0.0.1:8470"], token, cards, kiosks=args.kiosks, rate=args.rate,
                        duration=args.duration, seed=args.seed)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, sim.stop)
        report = (await sim.run()).as_dict()

        def human() -> None:
            lat = report["latency_ms"]
            print(f"{report['flows']} flows in {report['seconds']} s: {report['completed_per_s']} completed/s; "
                  f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms")
            for outcome, n in report["outcomes"].items():
                print(f"  {outcome:<32} {n}")

        emit(args, report, human)
        return EXIT_OK

    return asyncio.run(main())
