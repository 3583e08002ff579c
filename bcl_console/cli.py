"""The `bcl-console` command: parse, call a service, print. No business logic here.

Exit codes (contract §1): 0 done; 2 usage error; 3 input rejected, nothing changed;
1 any other failure. Errors go to stderr as one sentence; with --json the same error
is also printed on stdout as ``{"error": {...}}`` so that a scheduler always gets JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from bcl_console import __version__
from bcl_console.config import ConfigError, Settings, load_settings
from bcl_console.domain.errors import DomainError
from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store import StoreError, disk_full

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
    args: argparse.Namespace, body: Callable[[Runtime], Awaitable[int]], *, create: bool = False,
    **extra: Any,
) -> int:
    """Run ``body`` on the centre of the data directory. Only the console, ``demo`` and
    ``init`` make a centre (``create``); any other command on a directory that holds none
    is a usage error naming it, so a mistyped --data-dir never settles an empty year."""

    async def main() -> int:
        runtime = Runtime(settings_from(args, **extra))
        await runtime.start(create=create)
        try:
            return await body(runtime)
        finally:
            await runtime.stop()

    return asyncio.run(main())


def print_token(args: argparse.Namespace, doc: dict[str, str], label: str) -> None:
    """A new token: the JSON document, or a sentence and then the token alone on the last line."""
    if args.json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(f"{label} (shown once; only its hash is kept):")
        print(doc["token"])


def read_token_file(name: str) -> str:
    """A token from a file whose last non-empty line is the token (as the CLI prints it)."""
    from pathlib import Path

    try:
        lines = [line.strip() for line in Path(name).read_text(encoding="utf-8").splitlines() if line.strip()]
        return lines[-1]
    except (OSError, IndexError, UnicodeDecodeError) as exc:
        raise CliError(f"token file {name} cannot be read: {exc}", EXIT_USAGE, "usage") from None


def render_workers() -> int:
    """Certificate render processes for long-running services: one per core."""
    return max(1, os.cpu_count() or 1)


def stop_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: long-running commands stop cleanly on either."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def actor() -> Actor:
    return Actor.local("cli")


# --------------------------------------------------------------------------- commands
def cmd_console(args: argparse.Namespace) -> int:
    from bcl_console.app import run_console

    return run_console(settings_from(args))


def cmd_serve(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        await runtime.issuance.use_workers(render_workers())
        await runtime.scheduler.start()
        server = await start_http(runtime, args.host, args.port)
        print(f"bcl-console serve: listening on {server.url} (data: {runtime.settings.data_dir})",
              flush=True)
        await stop_signal().wait()
        print("bcl-console serve: stopping", flush=True)
        return EXIT_OK

    return with_runtime(args, body)


def cmd_own_server(args: argparse.Namespace) -> int:
    from bcl_console.http.app import HttpServer
    from bcl_console.http.own_server import BASE, build_own_server_app

    async def body(runtime: Runtime) -> int:
        server = await HttpServer.start(runtime, args.host, args.port, build_own_server_app(runtime))
        print(f"bcl-console own-server: issuance server on {server.url}{BASE} "
              f"(data: {runtime.settings.data_dir})", flush=True)
        await stop_signal().wait()
        await server.stop()
        print("bcl-console own-server: stopping", flush=True)
        return EXIT_OK

    return with_runtime(args, body)


def cmd_demo(args: argparse.Namespace) -> int:
    show_progress = not args.json and sys.stderr.isatty()

    def progress(step: str, done: int, total: int) -> None:
        if show_progress and total:
            filled = done * 30 // total
            sys.stderr.write(f"\r{step:<6} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} residents")
            sys.stderr.flush()

    from bcl_console.demo.make import remake_demo

    settings = settings_from(args)
    summary = asyncio.run(remake_demo(settings, args.seed, residents=args.residents, progress=progress))
    if show_progress:
        sys.stderr.write("\n")
    doc = {"data_dir": str(settings.data_dir), **summary.as_dict()}
    emit(args, doc, lambda: print(
        f"Demo data set (seed {summary.seed}) made in {settings.data_dir}: "
        f"{summary.municipalities} municipalities, {summary.residents:,} resident records "
        f"({summary.active_residents:,} active, the others moved out or deceased) in "
        f"{summary.households:,} households, {summary.seals:,} seals, {summary.taxes:,} "
        f"tax records ({summary.seconds:.1f} s)."
    ))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from bcl_console.services.platform.datadir import holds_centre

    existed = holds_centre(settings_from(args).data_dir)

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


def progress_printer(args: argparse.Namespace, label: str) -> Callable[[int, int], None]:
    """A one-line progress bar on stderr, only on a terminal and never with --json."""
    show = not getattr(args, "json", False) and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and total:
            filled = min(30, done * 30 // total)
            sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}")
            sys.stderr.flush()
            if done >= total:
                sys.stderr.write("\n")

    return progress


def cmd_link(args: argparse.Namespace) -> int:
    from pathlib import Path

    async def body(runtime: Runtime) -> int:
        path = Path(args.path)
        result = await runtime.linkage.link(path, source="cli",
                                            progress=progress_printer(args, path.name))
        doc = result.as_dict()

        def human() -> None:
            head = f"{path.name}: {result.outcome}"
            if result.municipality_code:
                head += f" — municipality {result.municipality_code}, sequence {result.sequence} ({result.kind})"
            print(head)
            if result.counts:
                print("  " + ", ".join(f"{k} {v:,}" for k, v in result.counts.items()))
            for p in result.problems:
                where = ":".join(str(x) for x in (p.file, p.line) if x is not None)
                column = f" [{p.column}]" if p.column else ""
                print(f"  {where}{column}: {p.reason}")
            if result.problems_omitted:
                print(f"  … and {result.problems_omitted:,} more problems")

        emit(args, doc, human)
        if result.outcome == "rejected":
            first = result.problems[0] if result.problems else None
            where = f"{first.file}" + (f", line {first.line}" if first and first.line else "") if first else ""
            print(f"bcl-console: batch rejected with {len(result.problems) + result.problems_omitted} "
                  f"problem(s); nothing changed" + (f" (first: {where}: {first.reason})" if first else ""),
                  file=sys.stderr)
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
            doc = await svc.restore(args.code, args.sequence, actor=actor(),
                                    progress=progress_printer(args, f"restore {args.code}"))
            emit(args, doc, lambda: print(
                f"{args.code} restored to sequence {doc['restored_to_sequence']} from backups "
                f"{', '.join(map(str, doc['batches']))}: {doc['residents']:,} residents, "
                f"{doc['seals']:,} seals, {doc['taxes']:,} tax records."))
        else:
            doc = await svc.export(args.code, Path(args.out))
            emit(args, doc, lambda: print(
                f"{args.code} exported to {doc['out']} as full batch {doc['sequence']}: "
                + ", ".join(f"{k} {v:,}" for k, v in doc["counts"].items())))
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


def cmd_resident(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        found = await runtime.residents.find(args.text, args.municipality)
        docs = [{"municipality_code": r.municipality_code, "resident_code": r.resident_code,
                 "household_number": r.household_number, "name": r.name, "name_kana": r.name_kana,
                 "birth_date": r.birth_date.isoformat(), "status": r.status.value} for r in found]
        emit(args, {"residents": docs}, lambda: table(
            [(d["municipality_code"], d["resident_code"], d["household_number"], d["name"], d["name_kana"],
              d["birth_date"], d["status"]) for d in docs],
            ("code", "resident", "household", "name", "kana", "born", "status")) if docs else print(
            f"no resident matches {args.text!r}"))
        return EXIT_OK

    return with_runtime(args, body)


def cmd_issue(args: argparse.Namespace) -> int:
    from pathlib import Path

    options: dict[str, Any] = {}
    if args.type == "residence":
        options = {"scope": args.scope, "include_domicile": args.include_domicile}
    elif args.scope != "self" or args.include_domicile:
        raise CliError("--scope and --include-domicile are for residence certificates", EXIT_USAGE, "usage")
    if args.fiscal_year is not None:
        options["fiscal_year"] = args.fiscal_year
    if args.disaster is not None:
        options["disaster_id"] = args.disaster
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise CliError(f"--out {out} is a directory; give a file name", EXIT_USAGE, "usage")

    async def body(runtime: Runtime) -> int:
        doc = await runtime.issuance.issue(args.resident, args.type, options, channel="counter")
        try:
            await asyncio.to_thread(out.write_bytes, doc.pdf)
        except OSError as exc:
            raise CliError(f"{out} cannot be written: {exc.strerror}", EXIT_FAILURE, "os") from None
        r = doc.record
        result = {"request_id": r.request_id, "type": r.type, "municipality_code": r.municipality_code,
                  "resident_code": r.resident_code, "verification_code": r.verification_code,
                  "pages": r.pages, "out": str(out), "bytes": len(doc.pdf)}
        emit(args, result, lambda: print(
            f"{out}: {r.type} certificate for resident {r.resident_code} ({r.municipality_code}), "
            f"{r.pages} pages, verification code {r.verification_code}"))
        return EXIT_OK

    return with_runtime(args, body)


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    if bool(args.file) == bool(args.code):
        raise CliError("give a PDF file or --code CODE (one of them)", EXIT_USAGE, "usage")

    async def body(runtime: Runtime) -> int:
        if args.code:
            verdict = await runtime.verification.verify_code(args.code)
        else:
            verdict = await runtime.verification.verify_pdf(Path(args.file))
        doc = verdict.as_dict()
        emit(args, doc, lambda: print(f"{verdict.status.upper()}: {verdict.reason}"
                                      + (f" (code {doc.get('code')}, {doc.get('type')}, "
                                         f"{doc.get('municipality')}, issued {doc.get('issued_at')})"
                                         if doc.get("type") else "")))
        return EXIT_OK if verdict.status == "genuine" else EXIT_REJECTED

    return with_runtime(args, body)


def cmd_card(args: argparse.Namespace) -> int:
    from pathlib import Path

    revoke_target = ""
    if args.action == "revoke":
        path = Path(args.card)
        revoke_target = path.read_text(encoding="ascii", errors="replace") if path.is_file() else args.card

    async def body(runtime: Runtime) -> int:
        if args.action == "issue":
            out = Path(args.out)
            card = await runtime.pki.issue_card(args.municipality, args.resident, actor=actor())
            try:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(card.pem)
            except OSError as exc:
                raise CliError(f"{out} cannot be written: {exc.strerror}", EXIT_FAILURE, "os") from None
            doc = {"serial": card.serial, "municipality_code": card.municipality_code,
                   "resident_code": card.resident_code, "not_after": card.not_after.isoformat(), "out": str(out)}
            emit(args, doc, lambda: print(
                f"{out}: test card {card.serial} for resident {card.resident_code} of {card.municipality_code}, "
                f"valid until {card.not_after:%Y-%m-%d}"))
        else:
            serial = await runtime.pki.revoke(revoke_target, actor=actor())
            emit(args, {"serial": serial, "revoked": True}, lambda: print(f"card {serial} revoked"))
        return EXIT_OK

    return with_runtime(args, body)


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
    cards_dir = Path(args.cards) if args.cards else settings.data_dir / "cards"

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
        sim = Simulator(args.url, token, cards, kiosks=args.kiosks, rate=args.rate, duration=args.duration,
                        seed=args.seed)
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


def cmd_settle(args: argparse.Namespace) -> int:
    from pathlib import Path

    async def body(runtime: Runtime) -> int:
        out = Path(args.out) if args.out else None
        doc = await runtime.settlement.settle(args.fiscal_year, close=args.close, out=out, actor=actor())

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


def cmd_onboarding(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        svc = runtime.onboarding
        if args.action == "list":
            lines = await svc.progress()
            emit(args, {"municipalities": [line.as_dict() for line in lines]}, lambda: table(
                [(ln.code, ln.name, ln.state.value, ln.status,
                  ln.service_start.isoformat() if ln.service_start else "-",
                  f"{ln.done}/{ln.total}" if ln.total else "-", ln.late or "",
                  f"{ln.next_step} ({ln.next_due.isoformat()})" if ln.next_step and ln.next_due else "")
                 for ln in lines],
                ("code", "name", "state", "progress", "service start", "steps", "late", "next step"),
            ))
            return EXIT_OK
        if args.action == "plan":
            view = await svc.plan(args.code, args.service_start, offers_seal=not args.without_seal,
                                  replace=args.replace, actor=actor())
        elif args.action == "done":
            view = await svc.done(args.code, args.step, note=args.note, actor=actor())
        elif args.action == "override":
            view = await svc.override(args.code, None if args.clear else args.reason, actor=actor())
        else:
            view = await svc.show(args.code)
        doc = view.as_dict()
        emit(args, doc, lambda: _print_plan(doc))
        return EXIT_OK

    if args.action == "override" and not args.clear and not args.reason:
        raise CliError("onboarding override needs --reason TEXT (or --clear)", EXIT_USAGE, "usage")
    return with_runtime(args, body)


def _print_plan(doc: dict[str, Any]) -> None:
    m = doc["municipality"]
    print(f"{m['name']} {m['code']} ({m['hosting']}): {doc['status']}, state {m['state']}; "
          f"service start {doc['service_start']} ({doc['service_start_ja']})")
    if doc["warning"]:
        print(f"warning: {doc['warning']}; cannot fit: {', '.join(doc['cannot_fit']) or 'none'}")
    if doc["override"]:
        print(f"go-live override by {doc['override']['by']}: {doc['override']['reason']}")
    table([(s["seq"], s["key"], s["title_ja"], s["due_on"], s["due_on_ja"], s["status"],
            s["done_on"] or "", "" if s["fits"] else "cannot fit") for s in doc["steps"]],
          ("#", "step", "title", "due", "due (和暦)", "status", "done", ""))
    print()
    table([(st["stage"], st["label_ja"], "yes" if st["required"] else "no", st["outcome"], st["reason"][:60])
           for st in doc["stages"]], ("stage", "name", "required", "outcome", "reason"))


def cmd_teststage(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        svc = runtime.teststages
        if args.action == "show":
            plan = (await runtime.onboarding.show(args.code)).as_dict()
            runs = await svc.runs(args.code)
            doc = {"municipality": plan["municipality"], "stages": plan["stages"],
                   "runs": [r.as_dict() for r in runs]}

            def human() -> None:
                table([(st["stage"], st["label_ja"], "yes" if st["required"] else "no", st["outcome"],
                        st["reason"][:70]) for st in doc["stages"]],
                      ("stage", "name", "required", "outcome", "reason"))
                if runs:
                    print()
                    table([(r.id, r.stage.value, r.started_at[:19], r.outcome.value, r.run_by,
                            r.confirmed_by or "") for r in runs],
                          ("run", "stage", "started (UTC)", "outcome", "by", "confirmed by"))

            emit(args, doc, human)
            return EXIT_OK
        if args.action == "confirm":
            run = await svc.confirm(args.code, args.stage, actor=actor(), note=args.note)
        else:
            show = not args.json and sys.stderr.isatty()
            run = await svc.run(args.code, args.stage, actor=actor(), operator=args.operator,
                                log=(lambda line: print(line, file=sys.stderr)) if show else None)
        doc = run.as_dict()
        emit(args, doc, lambda: print(f"{run.stage.value} run {run.id}: {run.outcome.value} — {run.reason}"))
        return EXIT_OK if run.outcome.value in ("passed", "not-required", "awaiting-confirmation") else EXIT_FAILURE

    return with_runtime(args, body)


def cmd_disaster(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bcl_console.services.disaster.service import AssessmentsRejected

    async def body(runtime: Runtime) -> int:
        svc, act, who = runtime.ledger, args.action, actor()
        doc: dict[str, Any]
        if act == "declare":
            doc = (await svc.declare(args.name, args.kind, args.date, args.municipality, actor=who)).as_dict()
        elif act == "list":
            views = await svc.disasters()
            doc = {"disasters": [v.as_dict() for v in views]}
            emit(args, doc, lambda: table(
                [(v.disaster.id, v.disaster.name, v.disaster.kind, v.disaster.occurred_on.isoformat(),
                  ",".join(v.disaster.municipalities), sum(v.by_class.values()),
                  "closed" if v.disaster.closed_at else "open") for v in views],
                ("id", "name", "kind", "date", "municipalities", "assessed", "state")))
            return EXIT_OK
        elif act == "show":
            doc = (await svc.get(args.id)).as_dict()
        elif act == "close":
            doc = (await svc.close(args.id, actor=who)).as_dict()
        elif act == "assess":
            doc = await svc.assess(args.id, args.municipality, args.household, ratio=args.ratio,
                                   damage_class=args.damage_class, inspector=args.inspector,
                                   assessed_on=args.date or "", actor=who)
        elif act == "import-assessments":
            try:
                doc = await svc.import_assessments(args.id, Path(args.file), actor=who)
            except AssessmentsRejected as exc:
                problems = [p.__dict__ for p in exc.problems.items]
                print(f"bcl-console: {exc.message}", file=sys.stderr)

                def listing() -> None:
                    for p in problems:
                        print(f"  {p['file']}:{p['line']} [{p['column'] or '-'}] {p['reason']}")

                emit(args, {"outcome": "rejected", "problems": problems, "problems_omitted": exc.problems.omitted},
                     listing)
                return EXIT_REJECTED
        elif act == "ledger":
            filters = {"code": args.municipality, "min_class": args.min_class, "needs_help": args.needs_help,
                       "whereabouts": args.whereabouts}
            if args.out:
                doc = await svc.export_ledger(args.id, Path(args.out), **filters)
            else:
                rows = await svc.ledger(args.id, **filters)
                doc = {"disaster_id": args.id, "people": rows}
                emit(args, doc, lambda: table(
                    [(r["municipality_code"], r["household_number"], r["damage_class"], r["name"],
                      r["relationship"], "要支援" if r["needs_evacuation_help"] else "", r["whereabouts"],
                      r["shelter"] or "", r["support_state"] or "") for r in rows],
                    ("code", "household", "damage", "name", "rel.", "help", "whereabouts", "shelter", "support")))
                return EXIT_OK
        elif act == "person":
            await svc.set_person(args.id, args.municipality, args.resident, whereabouts=args.whereabouts,
                                 injury=args.injury, note=args.note, actor=who)
            doc = next((r for r in await svc.ledger(args.id, code=args.municipality)
                        if r["resident_code"] == args.resident), {"resident_code": args.resident})
        elif act == "shelter-open":
            doc = (await svc.open_shelter(args.id, args.municipality, args.name, args.capacity, actor=who)).as_dict()
        elif act == "shelter-close":
            doc = (await svc.close_shelter(args.shelter, actor=who)).as_dict()
        elif act == "shelters":
            rows_s = await svc.shelters(args.id)
            doc = {"shelters": [x.as_dict() for x in rows_s]}
            emit(args, doc, lambda: table([(x.id, x.disaster_id, x.municipality_code, x.name,
                                            f"{x.occupancy}/{x.capacity}", "closed" if x.closed_at else "open")
                                           for x in rows_s], ("id", "disaster", "code", "name", "occupancy", "state")))
            return EXIT_OK
        elif act == "checkin":
            doc = await svc.check_in(args.shelter, args.municipality, args.resident, actor=who)
        elif act == "checkout":
            doc = await svc.check_out(args.municipality, args.resident, whereabouts=args.whereabouts, actor=who)
        elif act == "shelter-token":
            token = await runtime.tokens.issue("shelter", args.terminal, actor=who)
            print_token(args, {"terminal": args.terminal, "token": token}, f"Token for shelter terminal {args.terminal}")
            return EXIT_OK
        elif act == "support-apply":
            doc = await svc.apply_support(args.id, args.municipality, args.household, method=args.method,
                                          demolished=args.demolished, long_term=args.long_term, actor=who)
        elif act == "support-decide":
            doc = await svc.decide_support(args.application, args.decision, note=args.note, actor=who)
        elif act == "support":
            items = await svc.support_list(args.id)
            doc = {"disaster_id": args.id, "applications": items,
                   "totals": {st: sum(i["total"] for i in items if i["state"] == st)
                              for st in ("applied", "approved", "paid")}}
            emit(args, doc, lambda: table([(i["id"], i["municipality_code"], i["household_number"], i["damage_class"],
                                            i["members"], i["rebuild_method"] or "-", f"{i['total']:,}", i["state"])
                                           for i in items],
                                          ("id", "code", "household", "damage", "members", "rebuild", "yen", "state")))
            return EXIT_OK
        elif act == "needs-help":
            people = await svc.needs_help(args.code)
            doc = {"municipality_code": args.code, "people": people}
            emit(args, doc, lambda: table([(p["resident_code"], p["name"], p["status"], p["supporter"] or "-",
                                            p["destination"] or "-", p["review_reason"] or "")
                                           for p in people],
                                          ("resident", "name", "status", "supporter", "destination", "review")))
            return EXIT_OK
        elif act == "plan":
            doc = await svc.set_plan(args.code, args.resident, supporter=args.supporter,
                                     destination=args.destination, notes=args.notes or "", actor=who)
        elif act == "applications":
            apps = await svc.applications(args.state)
            doc = {"applications": apps}
            emit(args, doc, lambda: table([(a["id"], a["municipality_code"], a["resident_code"], a["disaster_id"],
                                            a["applied_at"][:19], a["state"]) for a in apps],
                                          ("id", "code", "resident", "disaster", "applied (UTC)", "state")))
            return EXIT_OK
        else:  # approve / reject
            doc = await svc.decide_application(args.application, act == "approve", reason=args.reason, actor=who)
        emit(args, doc, lambda: print(json.dumps(doc, ensure_ascii=False, indent=2, default=str)))
        return EXIT_OK

    return with_runtime(args, body)


# --------------------------------------------------------------------------- parser
#: Whole numbers on the command line fit a signed 64-bit column (ids, limits, yen …).
_MAX_WHOLE = 2**63 - 1


def whole(text: str) -> int:
    """argparse's type for every whole number: one validation layer, so a value SQLite
    cannot hold is a usage error, never an OverflowError deep in a query."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not -_MAX_WHOLE - 1 <= value <= _MAX_WHOLE:
        raise argparse.ArgumentTypeError(f"{text} is out of range (at most {_MAX_WHOLE:,})")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="data directory (default: $BCL_DATA_DIR, else the user data directory)")
    common.add_argument("--now", default=argparse.SUPPRESS, metavar="ISO",
                        help="start the centre's clock at this instant, e.g. 2027-04-01T02:00+09:00 "
                             "(training and tests)")
    js = Parser(add_help=False)
    js.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    parser = Parser(
        prog="bcl-console",
        description="Operations console of the BCL municipal infrastructure cloud. "
                    "With no command, starts the console (demo data on an empty data directory).",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"bcl-console {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("console", parents=[common], help="start the console (the default)")
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("clock", parents=[common, js],
                       help="the data directory's clock: show, set a training clock, clear it (real time)")
    csub_ = p.add_subparsers(dest="action", metavar="ACTION")
    csub_.add_parser("show", parents=[common, js], help="the centre's time and whether it is a training clock")
    cs = csub_.add_parser("set", parents=[common, js], help="run every command on this directory from INSTANT on")
    cs.add_argument("instant", metavar="ISO", help="e.g. 2026-12-01T10:00+09:00")
    csub_.add_parser("clear", parents=[common, js], help="back to real time")
    p.set_defaults(func=cmd_clock, action="show")

    p = sub.add_parser("resident", parents=[common],
                       help="find residents by name, kana, household number or code (for issue, check-in …)")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = rsub.add_parser("find", parents=[common, js], help="residents whose name or kana contains TEXT, or "
                        "whose household number or resident code is TEXT (at most 20)")
    r.add_argument("text", metavar="NAME|KANA|HOUSEHOLD|CODE")
    r.add_argument("--municipality", default=None, metavar="CODE", help="only this municipality")
    r.set_defaults(func=cmd_resident)

    p = sub.add_parser("init", parents=[common, js],
                       help="make an empty centre (database, keys); changes nothing on an existing one")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", parents=[common],
                       help="run the services headless (relay, linkage API, scheduler)")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=whole, default=None, help="port (default 8470; 0 picks a free one)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("own-server", parents=[common],
                       help="a reference municipal issuance server for own-server municipalities")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=whole, default=8471)
    p.set_defaults(func=cmd_own_server)

    p = sub.add_parser("demo", parents=[common, js], help="(re)create the demo data set")
    p.add_argument("--seed", type=whole, default=2026, help="random seed (default 2026)")
    p.add_argument("--residents", type=whole, default=None, metavar="N",
                   help="scale the BCL-hosted city to N residents (e.g. 500000 for benchmarks)")
    p.set_defaults(func=cmd_demo)

    m = sub.add_parser("municipality", help="municipalities and their management-terminal controls")
    msub = m.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = msub.add_parser("add", parents=[common, js], help="register a municipality")
    a.add_argument("--code", required=True, help="6-digit local-government code with check digit")
    a.add_argument("--name", required=True)
    a.add_argument("--kind", required=True,
                   help="designated-city | city | special-ward | town | village")
    a.add_argument("--population", required=True, type=whole)
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
    f.add_argument("--yen", required=True, type=whole)
    au = msub.add_parser("audit", parents=[common, js], help="the audit trail of control changes")
    au.add_argument("code", nargs="?", default=None)
    au.add_argument("--limit", type=whole, default=50)
    m.set_defaults(func=cmd_municipality)

    p = sub.add_parser("issue", parents=[common, js], help="issue a certificate at the counter (窓口)")
    p.add_argument("--resident", required=True, metavar="CODE", help="the 11-digit resident code")
    p.add_argument("--type", required=True, choices=["residence", "seal", "tax", "disaster"])
    p.add_argument("--scope", default="self", choices=["self", "household"],
                   help="residence: the requester only, or every current member of the household")
    p.add_argument("--include-domicile", action="store_true", help="residence: print 本籍 and 筆頭者")
    p.add_argument("--fiscal-year", type=whole, default=None, help="tax: the fiscal year (default: the latest)")
    p.add_argument("--disaster", type=whole, default=None, metavar="ID",
                   help="disaster: the disaster number (default: the latest assessed)")
    p.add_argument("--out", required=True, metavar="FILE.pdf")
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("verify", parents=[common, js],
                       help="check that a certificate is genuine, unaltered and not voided")
    p.add_argument("file", nargs="?", help="the certificate PDF")
    p.add_argument("--code", default=None, help="look a verification code up instead")
    p.set_defaults(func=cmd_verify)

    c = sub.add_parser("card", help="test My Number cards (simulated JPKI)")
    csub = c.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = csub.add_parser("issue", parents=[common, js], help="issue a test card: one PEM with certificate and key")
    x.add_argument("--municipality", required=True, metavar="CODE")
    x.add_argument("--resident", required=True, metavar="RESIDENT_CODE")
    x.add_argument("--out", required=True, metavar="FILE")
    x = csub.add_parser("revoke", parents=[common, js], help="revoke a card: the relay refuses it at once")
    x.add_argument("card", metavar="FILE|SERIAL")
    c.set_defaults(func=cmd_card)

    k = sub.add_parser("kiosk", help="kiosk operators")
    ksub = k.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = ksub.add_parser("register", parents=[common, js], help="register an operator; prints its token once")
    x.add_argument("--operator", required=True, metavar="NAME")
    k.set_defaults(func=cmd_kiosk)

    p = sub.add_parser("simulate", parents=[common, js],
                       help="drive simulated kiosks against a relay and report throughput and latency")
    p.add_argument("--url", default="http://127.0.0.1:8470", help="the centre (default http://127.0.0.1:8470)")
    p.add_argument("--kiosks", type=whole, default=4, help="concurrent kiosks (default 4)")
    p.add_argument("--rate", type=float, default=5.0, help="flows started per second, all kiosks (default 5)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--token-file", default=None, metavar="FILE",
                   help="kiosk token (default: register a 'simulator' operator in --data-dir)")
    p.add_argument("--cards", default=None, metavar="DIR", help="test cards (default DATA_DIR/cards)")
    p.add_argument("--seed", type=whole, default=None)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("settle", parents=[common, js], help="fee settlement of a fiscal year (精算)")
    p.add_argument("--fiscal-year", required=True, type=whole, metavar="N", help="1 April N – 31 March N+1")
    p.add_argument("--close", action="store_true", help="freeze the year (idempotent; only after it ended)")
    p.add_argument("--out", default=None, metavar="DIR", help="write statements (PDF and CSV) and summaries")
    p.set_defaults(func=cmd_settle)

    j = sub.add_parser("jobs", help="scheduled jobs: run one now, or list past runs")
    jsub = j.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = jsub.add_parser("run", parents=[common, js], help="run a job now (year-end-settlement, nightly-backup-check, onboarding-reminders)")
    x.add_argument("job", choices=["year-end-settlement", "nightly-backup-check"])
    x = jsub.add_parser("history", parents=[common, js], help="past runs with their outcomes")
    x.add_argument("--limit", type=whole, default=20)
    j.set_defaults(func=cmd_jobs)

    o = sub.add_parser("onboarding", help="onboarding plans (導入スケジュール) and the go-live gate")
    osub = o.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = osub.add_parser("plan", parents=[common, js], help="make a municipality's plan from the schedule template")
    x.add_argument("code")
    x.add_argument("--service-start", required=True, metavar="YYYY-MM-DD")
    x.add_argument("--without-seal", action="store_true",
                   help="the municipality will not offer seal certificates (no seal ordinance step)")
    x.add_argument("--replace", action="store_true", help="re-plan an existing plan (steps done stay done)")
    x = osub.add_parser("show", parents=[common, js], help="a plan: steps with due dates and status, stages")
    x.add_argument("code")
    x = osub.add_parser("done", parents=[common, js], help="tick a checklist step")
    x.add_argument("code")
    x.add_argument("step")
    x.add_argument("--note", help="what was done, e.g. the ordinance number")
    x = osub.add_parser("list", parents=[common, js], help="every municipality's progress: on track, late, live")
    x = osub.add_parser("override", parents=[common, js],
                        help="allow go-live although stages are missing (audited), or --clear it")
    x.add_argument("code")
    x.add_argument("--reason")
    x.add_argument("--clear", action="store_true")
    o.set_defaults(func=cmd_onboarding)

    t = sub.add_parser("teststage", help="the test stages (試験), run against the live services")
    tsub = t.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = tsub.add_parser("run", parents=[common, js],
                        help="run a stage: linkage, stage1, stage2, stage3, operation, real-store")
    x.add_argument("code")
    x.add_argument("stage")
    x.add_argument("--operator", help="real-store: the kiosk operator whose store issues (default: the first)")
    x = tsub.add_parser("show", parents=[common, js], help="each stage's state and every run")
    x.add_argument("code")
    x = tsub.add_parser("confirm", parents=[common, js],
                        help="confirm the content of stage-3 documents: the stage passes")
    x.add_argument("code")
    x.add_argument("stage")
    x.add_argument("--note")
    t.set_defaults(func=cmd_teststage)

    d = sub.add_parser("disaster", help="disaster-victim support: disasters, assessments, ledger, centres, support")
    dsub = d.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = dsub.add_parser("declare", parents=[common, js], help="declare a disaster")
    x.add_argument("--name", required=True)
    x.add_argument("--kind", required=True, help="flood, earthquake, typhoon, landslide, tsunami, snow, fire, …")
    x.add_argument("--date", required=True, help="the day it occurred (YYYY-MM-DD or 和暦)")
    x.add_argument("--municipality", action="append", required=True, metavar="CODE", help="affected (repeatable)")
    dsub.add_parser("list", parents=[common, js], help="every disaster")
    for name, text in (("show", "one disaster: households by class, centres, applications, support"),
                       ("close", "close a disaster (its centres closed first)")):
        x = dsub.add_parser(name, parents=[common, js], help=text)
        x.add_argument("id", type=whole)
    x = dsub.add_parser("assess", parents=[common, js], help="assess a dwelling (a re-assessment keeps history)")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--household", required=True)
    x.add_argument("--ratio", type=whole, help="damage ratio in percent (0–100)")
    x.add_argument("--class", dest="damage_class", help="全壊, 大規模半壊, 中規模半壊, 半壊, 準半壊, 一部損壊")
    x.add_argument("--inspector", required=True)
    x.add_argument("--date", help="assessed on (default today)")
    x = dsub.add_parser("import-assessments", parents=[common, js],
                        help="import assessments from CSV, all or nothing")
    x.add_argument("id", type=whole)
    x.add_argument("file")
    x = dsub.add_parser("ledger", parents=[common, js], help="the victim ledger (被災者台帳), filtered; --out writes CSV")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality")
    x.add_argument("--min-class", help="this class or worse, e.g. 半壊")
    x.add_argument("--needs-help", action="store_true", help="only people needing evacuation help")
    x.add_argument("--whereabouts", help="home, shelter, relatives, elsewhere, unknown")
    x.add_argument("--out", help="write the extract as CSV (UTF-8 with BOM)")
    x = dsub.add_parser("person", parents=[common, js], help="set a person's whereabouts (居所), injury, note")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--resident", required=True)
    x.add_argument("--whereabouts")
    x.add_argument("--injury", help="none, injured, seriously-injured, dead, missing")
    x.add_argument("--note")
    x = dsub.add_parser("shelter-open", parents=[common, js], help="open an evacuation centre (避難所)")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--name", required=True)
    x.add_argument("--capacity", type=whole, required=True)
    x = dsub.add_parser("shelter-close", parents=[common, js], help="close an evacuation centre (empty)")
    x.add_argument("shelter", type=whole)
    x = dsub.add_parser("shelters", parents=[common, js], help="evacuation centres with occupancy")
    x.add_argument("id", type=whole, nargs="?")
    x = dsub.add_parser("checkin", parents=[common, js], help="check a person in by hand")
    x.add_argument("shelter", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--resident", required=True)
    x = dsub.add_parser("checkout", parents=[common, js], help="check a person out")
    x.add_argument("--municipality", required=True)
    x.add_argument("--resident", required=True)
    x.add_argument("--whereabouts", default="home")
    x = dsub.add_parser("shelter-token", parents=[common, js],
                        help="register a shelter terminal; prints its token once (for /shelter/v1)")
    x.add_argument("terminal")
    x = dsub.add_parser("support-apply", parents=[common, js], help="apply for reconstruction support (支援金)")
    x.add_argument("id", type=whole)
    x.add_argument("--municipality", required=True)
    x.add_argument("--household", required=True)
    x.add_argument("--method", help="build, repair or rent (加算支援金)")
    x.add_argument("--demolished", action="store_true")
    x.add_argument("--long-term", action="store_true", help="long-term evacuation (長期避難)")
    x = dsub.add_parser("support-decide", parents=[common, js], help="approve, reject or pay an application")
    x.add_argument("application", type=whole)
    x.add_argument("decision", choices=["approve", "reject", "pay"])
    x.add_argument("--note")
    x = dsub.add_parser("support", parents=[common, js], help="support applications of a disaster with totals")
    x.add_argument("id", type=whole)
    x = dsub.add_parser("needs-help", parents=[common, js],
                        help="people needing evacuation help (避難行動要支援者名簿) with their plans")
    x.add_argument("code")
    x = dsub.add_parser("plan", parents=[common, js], help="set a person's individual evacuation plan")
    x.add_argument("code")
    x.add_argument("resident")
    x.add_argument("--supporter", required=True)
    x.add_argument("--destination", required=True)
    x.add_argument("--notes")
    x = dsub.add_parser("applications", parents=[common, js], help="residents' online applications")
    x.add_argument("--state", choices=["waiting", "approved", "rejected"])
    for name in ("approve", "reject"):
        x = dsub.add_parser(name, parents=[common, js], help=f"{name} an online application")
        x.add_argument("application", type=whole)
        x.add_argument("--reason")
    d.set_defaults(func=cmd_disaster)

    p = sub.add_parser("link", parents=[common, js], help="ingest one linkage batch (directory or .zip)")
    p.add_argument("path", help="the batch: a directory with manifest.json, or a .zip")
    p.set_defaults(func=cmd_link)

    b = sub.add_parser("backup", help="encrypted backups of linkage batches (BCP)")
    bsub = b.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = bsub.add_parser("list", parents=[common, js], help="list backups")
    x.add_argument("code", nargs="?", default=None)
    x = bsub.add_parser("restore", parents=[common, js],
                        help="rebuild a municipality from its last full backup plus deltas")
    x.add_argument("code")
    x.add_argument("--sequence", type=whole, default=None, help="restore up to this sequence (default: the last)")
    x = bsub.add_parser("export", parents=[common, js],
                        help="write a municipality's current data as a full batch")
    x.add_argument("code")
    x.add_argument("--out", required=True, metavar="DIR", help="an empty or new directory")
    b.set_defaults(func=cmd_backup)

    p = sub.add_parser("linkage-token", parents=[common, js],
                       help="issue a token for a municipality's linkage server (printed once)")
    p.add_argument("code")
    p.set_defaults(func=cmd_linkage_token)

    p = sub.add_parser("linkage-agent", parents=[js],
                       help="the municipality side: send complete batches from an outbox folder")
    p.add_argument("--outbox", required=True, metavar="DIR")
    p.add_argument("--url", required=True, help="the centre, e.g. http://127.0.0.1:8470")
    p.add_argument("--token-file", required=True, metavar="FILE",
                   help="file whose last line is the linkage token")
    p.add_argument("--once", action="store_true", help="send what is complete now, then exit")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between outbox scans (default 5)")
    p.set_defaults(func=cmd_linkage_agent)
    return parser


class Parser(argparse.ArgumentParser):
    """argparse, whose usage errors reach ``main`` (and so ``--json``) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)", EXIT_USAGE, "usage")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        func = getattr(args, "func", cmd_console)
        wants_json = bool(getattr(args, "json", False))
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bcl-console … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # every failure leaves as one sentence (and JSON with --json)
        error = cli_error(exc)
    print(f"bcl-console: {error.message}", file=sys.stderr)
    if wants_json:
        print(json.dumps({"error": {"code": error.code, "message": error.message, **error.where}},
                         ensure_ascii=False))
    return error.exit_code


def cli_error(exc: Exception) -> CliError:
    """The one sentence, exit code and error code of a failure (contract §1)."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, DomainError):
        return CliError(exc.sentence(), EXIT_REJECTED, exc.code, file=exc.file, line=exc.line, field=exc.field)
    if isinstance(exc, ConfigError):
        return CliError(str(exc), EXIT_USAGE, "config")
    if disk_full(exc) and isinstance(exc, OSError) and exc.filename:
        return CliError(f"the disk is full: {exc.filename} could not be written (free space, then run the "
                        "command again)", EXIT_FAILURE, "storage_full", file=str(exc.filename))
    if disk_full(exc):
        return CliError("the data directory's disk is full; nothing more was written (free space, then "
                        "run the command again)", EXIT_FAILURE, "storage_full")
    if isinstance(exc, StoreError):
        return CliError(str(exc), EXIT_FAILURE, "store")
    if isinstance(exc, OSError):
        return CliError(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
                        EXIT_FAILURE, "os")
    if os.environ.get("BCL_DEBUG"):
        raise exc
    return CliError(f"unexpected error ({type(exc).__name__}: {exc}); run again with BCL_DEBUG=1 "
                    "for the traceback", EXIT_FAILURE, "internal")
