"""`centre`: this centre's role among the two, East and West (contract §11), and the
promotion of the standby when the active centre is lost."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, actor, with_runtime
from bcl_console.cli.output import EXIT_OK, emit
from bcl_console.services.platform.centres import state_document
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers

SINGLE_HINT = ("one centre: two (East and West) need PostgreSQL, with West a streaming standby of East "
               "(`database copy` moves a SQLite centre to PostgreSQL; README, 'Two centres')")


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("centre", help="this centre's role (active, standby, single), epoch and replication; "
                                      "promote the standby")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    csub.add_parser("status", parents=common.json,
                    help="role, epoch, the other centre and the replication's state, sync and lag")
    x = csub.add_parser("promote", parents=common.json,
                        help="at the standby (West) when the active centre is lost: become active, next epoch")
    x.add_argument("--force", action="store_true",
                   help="promote although the active centre still seems alive (needs --reason; audited)")
    x.add_argument("--reason", default="", metavar="TEXT", help="why (kept with the new epoch)")
    p.set_defaults(func=cmd_centre)


def cmd_centre(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        if args.action == "promote":
            state = await runtime.centres.promote(actor=actor(), force=args.force, reason=args.reason)
        else:
            state = await runtime.centres.state()
        doc = state_document(state)

        def human() -> None:
            print(f"role: {state.role}   epoch: {state.epoch}   peer: {state.peer or '-'}")
            r = state.replication
            if r is None:
                print(SINGLE_HINT if state.role == "single" else "replication: -")
                return
            lag = "-" if r.lag_bytes is None else f"{r.lag_bytes:,} bytes, {r.lag_seconds or 0:.3f} s"
            print(f"replication: {r.state}   sync: {'yes' if r.sync else 'NO'}   lag: {lag}")
            if state.role == "active" and not r.sync:
                print("warning: accepted writes are not waiting for a standby (sync lost): the other "
                      "centre must rejoin as the standby")

        emit(args, doc, human)
        return EXIT_OK

    return with_runtime(args, body)
