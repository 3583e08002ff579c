"""The long-running commands: the console, `serve` (the services headless) and
`own-server` (a reference municipal issuance server)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bcl_console.cli.common import (
    Common,
    render_workers,
    settings_from,
    stop_signal,
    whole,
    with_runtime,
)
from bcl_console.cli.output import EXIT_OK, EXIT_USAGE, CliError
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("console", parents=common.plain, help="start the console (the default)")
    p.add_argument("--attach", action="store_true",
                   help="attach to a centre another process runs (`web` starts each tab so): "
                        "no demo data, no HTTP API or scheduler of its own")
    p.add_argument("--api-url", default=None, metavar="URL",
                   help="with --attach: the HTTP API of that process (shown, driven by simulated traffic)")
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("serve", parents=common.plain,
                       help="run the services headless (relay, linkage API, scheduler)")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=whole, default=None, help="port (default 8470; 0 picks a free one)")
    p.add_argument("--workers", type=whole, default=1, metavar="N",
                   help="N processes serving one port (PostgreSQL only: --database or $BCL_DATABASE_URL); "
                        "the render pool is sized for the machine, not per worker; /metrics answers "
                        "with every worker's numbers added up")
    p.add_argument("--trusted-proxies", default=None, metavar="NETWORKS",
                   help="the load balancers in front (addresses or networks, comma-separated): "
                        "from them, the client of a request is read from X-Forwarded-For "
                        "(default: $BCL_TRUSTED_PROXIES, else trusted-proxies in config.toml, else none)")
    p.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("own-server", parents=common.plain,
                       help="a reference municipal issuance server for own-server municipalities")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=whole, default=8471)
    p.set_defaults(func=cmd_own_server)


def cmd_console(args: argparse.Namespace) -> int:
    from bcl_console.app import run_console

    if getattr(args, "api_url", None) and not getattr(args, "attach", False):
        raise CliError("--api-url needs --attach", EXIT_USAGE, "usage")
    return run_console(settings_from(args), attach=bool(getattr(args, "attach", False)),
                       api_url=getattr(args, "api_url", None))


def cmd_serve(args: argparse.Namespace) -> int:
    if args.workers > 1 and args.listen_fd is None:
        return _supervise(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    """One serving process: alone, or worker ``--worker-index`` of ``serve --workers``
    on the listening socket its supervisor handed down (``--listen-fd``)."""
    import socket

    from bcl_console.http.app import start_http

    sock = None if args.listen_fd is None else socket.socket(fileno=args.listen_fd)
    share = max(1, args.workers)

    async def body(runtime: Runtime) -> int:
        await runtime.issuance.use_workers(max(1, render_workers() // share))
        if args.worker_index == 0:  # one scheduler per serve, whatever the number of workers
            await runtime.scheduler.start()
        server = await start_http(runtime, args.host, args.port, sock=sock)
        who = f"worker {args.worker_index + 1}/{share}" if sock is not None else "listening"
        print(f"bcl-console serve: {who} on {server.url} (data: {runtime.settings.data_dir})", flush=True)
        await stop_signal().wait()
        who = f"worker {args.worker_index + 1} " if sock is not None else ""
        print(f"bcl-console serve: {who}stopping", flush=True)
        return EXIT_OK

    return with_runtime(args, body, trusted_proxies=args.trusted_proxies)


def _supervise(args: argparse.Namespace) -> int:
    """``serve --workers N``: bind the port once, start N workers on that one socket (the
    kernel hands each connection to one of them), restart a worker that dies, and stop
    them all on SIGINT/SIGTERM. PostgreSQL only: every worker must see every other's
    work in the database, nothing in one process's memory."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time

    from bcl_console.cli.output import EXIT_USAGE, CliError
    from bcl_console.services.platform.metrics import MULTIPROC_ENV, prepare_shared_dir, worker_gone

    settings = settings_from(args, trusted_proxies=args.trusted_proxies)
    if not settings.database_url:
        raise CliError("serve --workers needs the PostgreSQL store (--database postgresql://… or "
                       "$BCL_DATABASE_URL); on SQLite one process serves", EXIT_USAGE, "usage")
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    sock = socket.create_server((host, port), backlog=1024, reuse_port=False)
    sock.set_inheritable(True)
    actual = sock.getsockname()[1]
    base = [sys.executable, "-m", "bcl_console", "--data-dir", str(settings.data_dir)]
    if getattr(args, "now", None):
        base += ["--now", args.now]
    base += ["--log-format", settings.log_format]
    # One fresh directory of per-process metrics files for these workers: a scrape at any
    # worker adds up all of them (services/platform/metrics.py).
    shared = settings.tmp_dir / f"metrics-{os.getpid()}"
    prepare_shared_dir(shared)
    env = {**os.environ, "BCL_DATABASE_URL": settings.database_url, MULTIPROC_ENV: str(shared),
           "BCL_TRUSTED_PROXIES": ",".join(str(network) for network in settings.trusted_proxies)}

    def spawn(index: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*base, "serve", "--host", host, "--port", str(actual), "--workers",
                                 str(args.workers), "--listen-fd", str(sock.fileno()), "--worker-index",
                                 str(index)], pass_fds=(sock.fileno(),), env=env)

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    workers = [spawn(i) for i in range(args.workers)]
    print(f"bcl-console serve: listening on http://{host}:{actual} with {args.workers} workers "
          f"(data: {settings.data_dir})", flush=True)
    restarts: list[float] = []
    try:
        while not stopping:
            time.sleep(0.2)
            for i, worker in enumerate(workers):
                if worker.poll() is not None and not stopping:
                    now = time.monotonic()
                    restarts = [t for t in restarts if now - t < 60] + [now]
                    if len(restarts) > 5 * args.workers:
                        print("bcl-console serve: workers keep dying; stopping", file=sys.stderr, flush=True)
                        stopping = True
                        break
                    print(f"bcl-console serve: worker {i + 1} exited ({worker.returncode}); restarting",
                          file=sys.stderr, flush=True)
                    worker_gone(shared, worker.pid)
                    workers[i] = spawn(i)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for worker in workers:
            try:
                worker.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        sock.close()
        shutil.rmtree(shared, ignore_errors=True)
    print("bcl-console serve: stopped", flush=True)
    return EXIT_OK


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
