"""`bcl-console web`: the console in a browser, for classrooms (contract §16).

textual-serve runs one process per websocket: here each browser tab gets its own
``bcl-console console --attach`` on the same data directory (no demo data made, no HTTP
API or scheduler of its own: this process runs those once for the centre). The page is
our own template (``web_templates/``): textual-serve's links a web font on the internet,
and a classroom may have none, so everything the page loads comes from this server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bcl_console.cli.common import Common, settings_from, stop_signal, whole
from bcl_console.cli.output import EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from aiohttp import web

    from bcl_console.cli.common import Subparsers

log = logging.getLogger("bcl_console.web")

DEFAULT_PORT = 8000
DEFAULT_MAX_SESSIONS = 8
TEMPLATES = Path(__file__).with_name("web_templates")
#: How long a session's console has to stop after its tab closed (then it is killed).
STOP_SECONDS = 10.0
#: The websocket close code of a refused session: 1013, "try again later".
TRY_AGAIN_LATER = 1013


def register(sub: Subparsers, common: Common) -> None:
    p = sub.add_parser("web", parents=common.plain,
                       help="serve the console to browsers, each tab its own console (classrooms)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 for a classroom network)")
    p.add_argument("--port", type=whole, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--max-sessions", type=whole, default=DEFAULT_MAX_SESSIONS, metavar="N",
                   help=f"browser sessions at once (default {DEFAULT_MAX_SESSIONS}); one more is refused")
    p.set_defaults(func=cmd_web)


def session_command(data_dir: Path, api_url: str | None) -> list[str]:
    """The command each browser tab runs: the console attached to this centre."""
    argv = [sys.executable, "-m", "bcl_console", "console", "--attach", "--data-dir", str(data_dir)]
    if api_url:
        argv += ["--api-url", api_url]
    return argv


def cmd_web(args: argparse.Namespace) -> int:
    if not 1 <= args.max_sessions <= 1000:
        raise CliError(f"--max-sessions {args.max_sessions} must be between 1 and 1000", EXIT_USAGE, "usage")
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a port (0-65535)", EXIT_USAGE, "usage")
    settings = settings_from(args)
    if settings.database_url:  # each tab's console on the same database (in the environment,
        os.environ["BCL_DATABASE_URL"] = settings.database_url  # not on a command line: a password)

    async def main() -> int:
        from bcl_console.app import prepare_centre

        runtime = await prepare_centre(settings, announce=lambda line: print(line, flush=True))
        try:
            api_url = runtime.http.url if runtime.http else None
            server = WebConsole(session_command(settings.data_dir, api_url), args.max_sessions)
            url = await server.start(args.host, args.port)
            print(f"bcl-console web: the console on {url} (at most {args.max_sessions} sessions; "
                  f"data: {settings.data_dir})", flush=True)
            await stop_signal().wait()
            print("bcl-console web: stopping", flush=True)
            await server.stop()
            return EXIT_OK
        finally:
            await runtime.stop()

    return asyncio.run(main())


class WebConsole:
    """textual-serve's server with our page, a cap on sessions, and a clean stop."""

    def __init__(self, command: list[str], max_sessions: int) -> None:
        self.command = command
        self.max_sessions = max_sessions
        #: Each session's websocket, and the event set once its console has stopped.
        self.sessions: dict[web.WebSocketResponse, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self._server: Any = None

    async def start(self, host: str, port: int) -> str:
        import aiohttp_jinja2
        import jinja2
        from aiohttp import web
        from textual_serve.server import Server

        self._server = Server(shlex.join(self.command), host=host, port=port, title="BCL console")
        self._server.templates_path = TEMPLATES
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/ws", self.handle_websocket),
            web.get("/sessions", self.handle_sessions),
            web.get("/download/{key}", self._server.handle_download),
            web.static("/static", self._server.statics_path, name="static"),
        ])
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=STOP_SECONDS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise CliError(f"{host}:{port}: {exc.strerror or exc}", EXIT_USAGE, "usage") from None
        bound = self._runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
        return f"http://{shown}:{bound[1]}/"

    async def stop(self) -> None:
        """Close every session (their consoles stop as on `q`), then the server."""
        stopped = list(self.sessions.values())
        for ws in list(self.sessions):
            await ws.close()
        if stopped:
            await asyncio.wait([asyncio.create_task(event.wait()) for event in stopped], timeout=STOP_SECONDS)
        if self._runner is not None:
            await self._runner.cleanup()

    def _full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    async def handle_sessions(self, request: web.Request) -> web.Response:
        from aiohttp import web

        return web.json_response({"in_use": len(self.sessions), "max": self.max_sessions})

    async def handle_index(self, request: web.Request) -> web.Response:
        import aiohttp_jinja2

        try:
            font_size = max(8, min(40, int(request.query.get("fontsize", "16"))))
        except ValueError:
            font_size = 16
        if self._full():
            return aiohttp_jinja2.render_template(
                "full.html", request, {"title": "BCL console", "max_sessions": self.max_sessions}, status=503)
        return aiohttp_jinja2.render_template("app_index.html", request,
                                              {"title": "BCL console", "font_size": font_size})

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        from aiohttp import web
        from textual_serve.app_service import AppService

        ws = web.WebSocketResponse(heartbeat=15)
        await ws.prepare(request)
        if self._full():
            await ws.send_bytes(
                f"\r\nThis console is full: all {self.max_sessions} sessions are in use. Close another "
                "tab, or ask the trainer to raise --max-sessions, then restart.\r\n".encode())
            await ws.close(code=TRY_AGAIN_LATER, message=b"all sessions in use")
            return ws
        stopped = self.sessions[ws] = asyncio.Event()
        width = _size(request.query.get("width"), 80)
        height = _size(request.query.get("height"), 24)
        async def close() -> None:
            await ws.close()

        service = AppService(self._server.command, write_bytes=ws.send_bytes, write_str=ws.send_str,
                             close=close, download_manager=self._server.download_manager)
        log.info("web session %s started (%d in use)", service.app_service_id, len(self.sessions))
        try:
            await service.start(width, height)
            await self._server._process_messages(ws, service)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("web session %s failed", service.app_service_id)
        finally:
            try:
                await asyncio.wait_for(service.stop(), STOP_SECONDS)
            except (TimeoutError, Exception):
                process = getattr(service, "_process", None)
                if process is not None and process.returncode is None:
                    process.kill()
            self.sessions.pop(ws, None)
            stopped.set()
            await ws.close()
        return ws


def _size(text: str | None, default: int) -> int:
    try:
        return max(10, min(1000, int(text or default)))
    except ValueError:
        return default


