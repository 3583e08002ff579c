"""`centre`: this centre's role among the two, East and West (contract §11), and the
promotion of the standby when the active centre is lost."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bcl_console.cli.common import Common, actor, settings_from, with_runtime
from bcl_console.cli.output import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, CliError, emit
from bcl_console.services.platform.centres import (
    METHODS,
    centre_alert,
    rejoined_document,
    state_document,
)
from bcl_console.services.platform.keys import KeyMismatch, provision_keys
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store.api import CentreState

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
    x = csub.add_parser("rejoin", parents=common.json,
                        help="at the old active centre after a promotion of the other: become its standby")
    x.add_argument("--from", dest="source", required=True, metavar="URL",
                   help="the active centre's database (postgresql://…), the one promoted over this centre")
    x.add_argument("--pgdata", default=None, metavar="DIR",
                   help="this centre's server's data directory (default: the one its server names)")
    x.add_argument("--name", default="standby", metavar="NAME",
                   help="the name this centre streams under, which the active one waits for (default standby)")
    x.add_argument("--method", choices=METHODS, default="auto",
                   help="pg_rewind (needs data checksums or wal_log_hints), a fresh pg_basebackup, or auto: "
                        "rewind, else a base backup (default)")
    x = csub.add_parser("sync", parents=common.json,
                        help="at the active centre: wait for the standby (on) or serve on without it (off)")
    x.add_argument("state", choices=("on", "off"),
                   help="on: accepted writes wait for the standby --name again; off: the operator's decision "
                        "to serve on while the standby is lost (RPO is no longer 0)")
    x.add_argument("--name", default="standby", metavar="NAME", help="the standby's name (on; default standby)")
    x.add_argument("--reason", default="", metavar="TEXT", help="why (off; required, audited)")
    x = csub.add_parser("init-standby", parents=common.json,
                        help="give this (standby) data directory the active centre's keys")
    x.add_argument("--keys-from", required=True, metavar="DIR",
                   help="the active centre's data directory (or its keys directory), e.g. mounted or copied")
    p.set_defaults(func=cmd_centre)


def cmd_centre(args: argparse.Namespace) -> int:
    if args.action == "init-standby":
        return _init_standby(args)

    async def body(runtime: Runtime) -> int:
        if args.action == "rejoin":
            done = await runtime.centres.rejoin(
                args.source, actor=actor(), pgdata=args.pgdata, name=args.name, method=args.method,
                progress=None if args.json else lambda m: print(f"rejoin: {m}", file=sys.stderr, flush=True))

            def rejoined() -> None:
                print(f"rejoined by {done.method}: this centre is the standby of the active one "
                      f"(epoch {done.active.epoch}), which waits for it")
                describe(done.state)

            emit(args, rejoined_document(done), rejoined)
            return EXIT_OK
        if args.action == "sync":
            state = await runtime.centres.require_sync(
                actor=actor(), standby=args.name if args.state == "on" else None, reason=args.reason)
            emit(args, state_document(state), lambda: describe(state))
            return EXIT_OK
        if args.action == "promote":
            state = await runtime.centres.promote(actor=actor(), force=args.force, reason=args.reason)
        else:
            state = await runtime.centres.state()
        emit(args, state_document(state), lambda: describe(state))
        return EXIT_OK

    return with_runtime(args, body)


def describe(state: CentreState) -> None:
    print(f"role: {state.role}   epoch: {state.epoch}   peer: {state.peer or '-'}")
    r = state.replication
    if r is None:
        print(SINGLE_HINT if state.role == "single" else "replication: -")
        return
    lag = "-" if r.lag_bytes is None else f"{r.lag_bytes:,} bytes, {r.lag_seconds or 0:.3f} s"
    print(f"replication: {r.state}   sync: {'yes' if r.sync else 'NO'}   lag: {lag}")
    alert = centre_alert(state)
    if alert is not None:
        print(f"warning: {alert}")


def _init_standby(args: argparse.Namespace) -> int:
    """Before the standby's first start (which would make keys of its own)."""
    from pathlib import Path

    settings = settings_from(args)
    try:
        copied = provision_keys(Path(args.keys_from), settings.keys_dir)
    except KeyMismatch as exc:
        raise CliError(str(exc), EXIT_REJECTED, "keys_differ") from None
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise CliError(str(exc), EXIT_USAGE, "usage") from None
    except PermissionError as exc:
        raise CliError(f"the keys cannot be read or written: {exc.filename}: {exc.strerror}", EXIT_USAGE,
                       "usage") from None

    def human() -> None:
        if copied:
            print(f"the active centre's keys are in {settings.keys_dir}: {', '.join(copied)}")
        else:
            print(f"{settings.keys_dir} holds the active centre's keys already; nothing changed")

    emit(args, {"keys_dir": str(settings.keys_dir), "copied": copied}, human)
    return EXIT_OK
