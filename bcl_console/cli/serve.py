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
    from bcl_console.http.app import start_http

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
