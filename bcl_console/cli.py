"""The `bcl-console` command: parse, call a service, print. No business logic here.

Exit codes (contract §1): 0 done; 2 usage error; 3 input rejected, nothing changed;
1 any other failure. Errors go to stderr as one sentence; with --json the same error
is also printed on stdout as ``{"error": {...}}`` so that a scheduler always gets JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bcl_console import __version__
from bcl_console.config import ConfigError, Settings, load_settings
from bcl_console.domain.errors import DomainError
from bcl_console.services.actor import Actor
from bcl_console.services.runtime import Runtime
from bcl_console.store import StoreError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, exit_code: int, code: str = "error", **where: Any) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
        self.where = {k: v for k, v in where.items() if v is not None}


# --------------------------------------------------------------------------- output
def emit(args: argparse.Namespace, document: dict[str, Any], human: Callable[[], None]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(document, ensure_ascii=False, indent=2, default=str))
    else:
        human()


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# --------------------------------------------------------------------------- runtime
def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(getattr(args, "data_dir", None), now=getattr(args, "now", None), **extra)


def with_runtime(
    args: argparse.Namespace, body: Callable[[Runtime], Awaitable[int]], **extra: Any
) -> int:
    async def main() -> int:
        runtime = Runtime(settings_from(args, **extra))
        await runtime.start()
        try:
            return await body(runtime)
        finally:
            await runtime.stop()

    return asyncio.run(main())


def actor() -> Actor:
    return Actor.local("cli")


# --------------------------------------------------------------------------- commands
def cmd_console(args: argparse.Namespace) -> int:
    from bcl_console.app import run_console

    return run_console(settings_from(args))


def cmd_serve(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        server = await runtime.start_http(args.host, args.port)
        print(f"bcl-console serve: listening on {server.url} (data: {runtime.settings.data_dir})",
              flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print("bcl-console serve: stopping", flush=True)
        return EXIT_OK

    return with_runtime(args, body)


def cmd_demo(args: argparse.Namespace) -> int:
    show_progress = not args.json and sys.stderr.isatty()

    def progress(step: str, done: int, total: int) -> None:
        if show_progress and total:
            filled = done * 30 // total
            sys.stderr.write(f"\r{step:<6} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} residents")
            sys.stderr.flush()

    async def body(runtime: Runtime) -> int:
        summary = await runtime.demo.create(args.seed, residents=args.residents, progress=progress)
        if show_progress:
            sys.stderr.write("\n")
        doc = {"data_dir": str(runtime.settings.data_dir), **summary.as_dict()}
        emit(args, doc, lambda: print(
            f"Demo data set (seed {summary.seed}) made in {runtime.settings.data_dir}: "
            f"{summary.municipalities} municipalities, {summary.residents:,} residents in "
            f"{summary.households:,} households, {summary.seals:,} seals, {summary.taxes:,} "
            f"tax records ({summary.seconds:.1f} s)."
        ))
        return EXIT_OK

    return with_runtime(args, body)


def cmd_municipality(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        svc = runtime.municipalities
        action = args.action
        if action == "list":
            views = await svc.all()
            emit(args, {"municipalities": [v.summary() for v in views]}, lambda: table(
                [(v.code, v.municipality.name, v.municipality.kind.value, f"{v.municipality.population:,}",
                  v.municipality.hosting.value, v.summary()["service_start"] or "-", v.state.value)
                 for v in views],
                ("code", "name", "kind", "population", "hosting", "service start", "state"),
            ))
            return EXIT_OK
        if action == "add":
            view = await svc.add(
                code=args.code, name=args.name, kind=args.kind, population=args.population,
                hosting=args.hosting, server_url=args.server_url,
                service_start=args.service_start, prefecture=args.prefecture or "",
                mayor=args.mayor or "", actor=actor(),
            )
        elif action == "show":
            view = await svc.get(args.code)
        elif action == "hours":
            view = await svc.set_hours(args.code, args.open, args.close, actor=actor())
        elif action == "suspend":
            view = await svc.suspend(args.code, args.reason, actor=actor())
        elif action == "resume":
            view = await svc.resume(args.code, actor=actor())
        elif action == "fees":
            view = await svc.set_fee(args.code, args.type, args.yen, actor=actor())
        elif action == "audit":
            entries = await svc.audit_trail(args.code, args.limit)
            docs = [e.__dict__ for e in entries]
            emit(args, {"audit": docs}, lambda: table(
                [(e.at[:19], e.actor, e.interface, e.municipality_code, e.action,
                  e.field or "", e.old_value or "", e.new_value or "") for e in entries],
                ("at (UTC)", "actor", "via", "code", "action", "field", "old", "new"),
            ))
            return EXIT_OK
        else:  # pragma: no cover - argparse restricts the choices
            raise CliError(f"unknown action {action}", EXIT_USAGE)
        detail = view.detail()
        emit(args, detail, lambda: _print_detail(detail))
        return EXIT_OK

    return with_runtime(args, body)


def _print_detail(detail: dict[str, Any]) -> None:
    hours = detail["hours"]
    fees = ", ".join(f"{k} {v}円" for k, v in detail["fees"].items())
    suspended = f"yes — {detail['suspension_reason']}" if detail["suspended"] else "no"
    rows = [
        ("code", detail["code"]),
        ("name", f"{detail['prefecture']}{detail['name']}"),
        ("kind", detail["kind"]),
        ("population", f"{detail['population']:,} ({detail['contribution_class']})"),
        ("hosting", detail["hosting"] + (f" → {detail['server_url']}" if detail["server_url"] else "")),
        ("service start", detail["service_start"] or "-"),
        ("state", detail["state"]),
        ("mayor", detail["mayor"] or "-"),
        ("hours", f"{hours['open']}–{hours['close']} (Asia/Tokyo)"),
        ("suspended", suspended),
        ("open now", "yes" if detail["open_now"] else f"no ({detail['closed_reason']})"),
        ("fees", fees),
    ]
    for key, value in rows:
        print(f"{key:<14}{value}")


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="data directory (default: $BCL_DATA_DIR, else the user data directory)")
    common.add_argument("--now", default=argparse.SUPPRESS, metavar="ISO",
                        help="start the centre's clock at this instant, e.g. 2027-04-01T02:00+09:00 "
                             "(training and tests)")
    js = argparse.ArgumentParser(add_help=False)
    js.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    parser = argparse.ArgumentParser(
        prog="bcl-console",
        description="Operations console of the BCL municipal infrastructure cloud. "
                    "With no command, starts the console (demo data on an empty data directory).",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"bcl-console {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("console", parents=[common], help="start the console (the default)")
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("serve", parents=[common],
                       help="run the services headless (relay, linkage API, scheduler)")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8470; 0 picks a free one)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", parents=[common, js], help="(re)create the demo data set")
    p.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    p.add_argument("--residents", type=int, default=None, metavar="N",
                   help="scale the BCL-hosted city to N residents (e.g. 500000 for benchmarks)")
    p.set_defaults(func=cmd_demo)

    m = sub.add_parser("municipality", help="municipalities and their management-terminal controls")
    msub = m.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = msub.add_parser("add", parents=[common, js], help="register a municipality")
    a.add_argument("--code", required=True, help="6-digit local-government code with check digit")
    a.add_argument("--name", required=True)
    a.add_argument("--kind", required=True,
                   help="designated-city | city | special-ward | town | village")
    a.add_argument("--population", required=True, type=int)
    a.add_argument("--hosting", default="bcl", help="bcl (default) or own-server")
    a.add_argument("--server-url", default=None, help="issuance server URL (own-server hosting)")
    a.add_argument("--service-start", default=None, metavar="YYYY-MM-DD")
    a.add_argument("--prefecture", default=None, help="prefecture name printed on certificates")
    a.add_argument("--mayor", default=None, help="mayor's name printed on certificates")
    msub.add_parser("list", parents=[common, js], help="list municipalities")
    s = msub.add_parser("show", parents=[common, js], help="one municipality with its controls")
    s.add_argument("code")
    h = msub.add_parser("hours", parents=[common, js], help="set store-issuance hours (Asia/Tokyo)")
    h.add_argument("code")
    h.add_argument("open", metavar="HH:MM")
    h.add_argument("close", metavar="HH:MM")
    s = msub.add_parser("suspend", parents=[common, js], help="suspend store issuance")
    s.add_argument("code")
    s.add_argument("--reason", required=True)
    s = msub.add_parser("resume", parents=[common, js], help="resume store issuance")
    s.add_argument("code")
    f = msub.add_parser("fees", parents=[common, js], help="set an issuance fee (交付手数料)")
    f.add_argument("code")
    f.add_argument("--type", required=True, help="residence | seal | tax | disaster")
    f.add_argument("--yen", required=True, type=int)
    au = msub.add_parser("audit", parents=[common, js], help="the audit trail of control changes")
    au.add_argument("code", nargs="?", default=None)
    au.add_argument("--limit", type=int, default=50)
    m.set_defaults(func=cmd_municipality)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_console)
    wants_json = bool(getattr(args, "json", False))
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except DomainError as exc:
        error = CliError(exc.sentence(), EXIT_REJECTED, exc.code, file=exc.file, line=exc.line,
                         field=exc.field)
    except ConfigError as exc:
        error = CliError(str(exc), EXIT_USAGE, "config")
    except CliError as exc:
        error = exc
    except StoreError as exc:
        error = CliError(str(exc), EXIT_FAILURE, "store")
    except OSError as exc:
        error = CliError(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
                         EXIT_FAILURE, "os")
    print(f"bcl-console: {error.message}", file=sys.stderr)
    if wants_json:
        print(json.dumps({"error": {"code": error.code, "message": error.message, **error.where}},
                         ensure_ascii=False))
    return error.exit_code
