"""Resident linkage: ingest a batch (`link`), its encrypted backups (`backup`), a
linkage server's token (`linkage-token`), and the municipality side's agent
(`linkage-agent`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

from bcl_console.cli.common import (
    Common,
    actor,
    read_token_file,
    stop_signal,
    whole,
    with_runtime,
)
from bcl_console.cli.output import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    CliError,
    emit,
    print_token,
    table,
)
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("link", parents=common.json, help="ingest one linkage batch (directory or .zip)")
    p.add_argument("path", help="the batch: a directory with manifest.json, or a .zip")
    p.set_defaults(func=cmd_link)

    b = sub.add_parser("backup", help="encrypted backups of linkage batches (BCP)")
    bsub = b.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = bsub.add_parser("list", parents=common.json, help="list backups")
    x.add_argument("code", nargs="?", default=None)
    x = bsub.add_parser("restore", parents=common.json,
                        help="rebuild a municipality from its last full backup plus deltas")
    x.add_argument("code")
    x.add_argument("--sequence", type=whole, default=None, help="restore up to this sequence (default: the last)")
    x = bsub.add_parser("export", parents=common.json,
                        help="write a municipality's current data as a full batch")
    x.add_argument("code")
    x.add_argument("--out", required=True, metavar="DIR", help="an empty or new directory")
    b.set_defaults(func=cmd_backup)

    p = sub.add_parser("linkage-token", parents=common.json,
                       help="issue a token for a municipality's linkage server (printed once)")
    p.add_argument("code")
    p.set_defaults(func=cmd_linkage_token)

    p = sub.add_parser("linkage-agent", parents=common.json_only,
                       help="the municipality side: send complete batches from an outbox folder")
    p.add_argument("--outbox", required=True, metavar="DIR")
    p.add_argument("--url", required=True, action="append", metavar="URL",
                   help="the centre, e.g. http://127.0.0.1:8470; give it twice for East and West (East "
                        "first): a batch moves on to the next on a connection failure or 503 standby")
    p.add_argument("--token-file", required=True, metavar="FILE",
                   help="file whose last line is the linkage token")
    p.add_argument("--once", action="store_true", help="send what is complete now, then exit")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between outbox scans (default 5)")
    p.set_defaults(func=cmd_linkage_agent)


def cmd_link(args: argparse.Namespace) -> int:
    from pathlib import Path

    async def body(runtime: Runtime) -> int:
        from bcl_console.cli.progress import Bars

        path = Path(args.path)
        with Bars(args, "records") as bars:
            result = await runtime.linkage.link(path, source="cli", progress=bars.of(path.name))
        doc = result.as_dict()

        def human() -> None:
            head = f"{path.name}: {result.outcome}"
            if result.municipality_code:
                head += f" — municipality {result.municipality_code}, sequence {result.sequence} ({result.kind})"
            print(head)
            if result.counts:
                print("  " + ", ".join(f"{k} {v:,}" for k, v in result.counts.items()))
            for p in result.problems:
                print(f"  {p.sentence()}")
            if result.problems_omitted:
                print(f"  … and {result.problems_omitted:,} more problems")

        emit(args, doc, human)
        if result.outcome == "rejected":
            first = f" (first: {result.problems[0].sentence()})" if result.problems else ""
            print(f"bcl-console: batch rejected with {len(result.problems) + result.problems_omitted} "
                  f"problem(s); nothing changed{first}", file=sys.stderr)
            return EXIT_REJECTED
        return EXIT_OK

    return with_runtime(args, body)


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    async def body(runtime: Runtime) -> int:
        svc = runtime.linkage
        if args.action == "list":
            backups = await svc.backups(args.code)
            emit(args, {"backups": [b.__dict__ for b in backups]}, lambda: table(
                [(b.municipality_code, b.sequence, b.kind, f"{b.size:,}", b.created_at[:19], b.path)
                 for b in backups],
                ("code", "sequence", "kind", "bytes", "at (UTC)", "file"),
            ))
        elif args.action == "restore":
            from bcl_console.cli.progress import Bars

            with Bars(args, "records") as bars:
                restored = await svc.restore(args.code, args.sequence, actor=actor(),
                                             progress=bars.of(f"restore {args.code}"))
            emit(args, restored.as_dict(), lambda: print(
                f"{args.code} restored to sequence {restored.restored_to_sequence} from backups "
                f"{', '.join(map(str, restored.batches))}: {restored.residents:,} residents, "
                f"{restored.seals:,} seals, {restored.taxes:,} tax records."))
        else:
            exported = await svc.export(args.code, Path(args.out))
            emit(args, exported.as_dict(), lambda: print(
                f"{args.code} exported to {exported.out} as full batch {exported.sequence}: "
                + ", ".join(f"{k} {v:,}" for k, v in exported.counts.items())))
        return EXIT_OK

    return with_runtime(args, body)


def cmd_linkage_token(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        token = await runtime.linkage.issue_token(args.code, actor=actor())
        print_token(args, {"municipality_code": args.code, "token": token},
                    f"Linkage token for municipality {args.code}")
        return EXIT_OK

    return with_runtime(args, body)


def cmd_linkage_agent(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bcl_console.clients.linkage_agent import AgentStopped, LinkageAgent

    outbox = Path(args.outbox)
    if not outbox.is_dir():
        raise CliError(f"outbox {outbox} is not a directory", EXIT_USAGE, "usage")
    token = read_token_file(args.token_file)

    def say(text: str) -> None:
        print(text, flush=True)

    async def main() -> int:
        agent = LinkageAgent(outbox, args.url, token, interval=args.interval, say=say)
        stop = stop_signal()
        try:
            deliveries = await agent.run(once=args.once, stop=stop)
        except AgentStopped as exc:
            raise CliError(str(exc), EXIT_FAILURE, "unauthorized") from None
        if args.json:
            print(json.dumps({"deliveries": [d.__dict__ for d in deliveries]}, ensure_ascii=False))
        return EXIT_OK

    return asyncio.run(main())
