"""The centre's HTTP side: an aiohttp application from a factory, embedded in our loop."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bcl_console import __version__
from bcl_console.http import counter as web_counter
from bcl_console.http import kiosk as web_kiosk
from bcl_console.http import linkage as web_linkage
from bcl_console.http import manage as web_manage
from bcl_console.http import shelter as web_disaster
from bcl_console.http import verify as web_verify
from bcl_console.http.common import RUNTIME_KEY, AccessLogger, JsonErrorsRunner, errors
from bcl_console.services.platform.clock import iso_now

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime

log = logging.getLogger(__name__)
#: The access log names no person: paths hold only random request ids, never a query.
access_log = logging.getLogger("bcl_console.access")

#: A connection that sends no complete request for this many seconds is closed, whether
#: it is idle, kept alive after a request, or dripping its headers (slowloris).
IDLE_TIMEOUT = 15.0

#: Largest request body accepted anywhere (a linkage batch zip is the largest).
MAX_BODY = 256 * 1024 * 1024


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    return web.json_response(
        {"status": "ok", "version": __version__, "time": iso_now(runtime.clock)}
    )


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[web_kiosk.measure, errors, web_kiosk.kiosk_auth,
                                       web_disaster.disaster_auth, web_manage.manage_auth,
                                       web_counter.counter_auth])
    app[RUNTIME_KEY] = runtime
    app.router.add_get("/healthz", healthz)
    web_linkage.setup(app)
    web_kiosk.setup(app)
    web_disaster.setup(app)
    web_verify.setup(app)
    web_manage.setup(app)
    web_counter.setup(app)
    return app


@dataclass
class HttpServer:
    """An AppRunner + TCPSite pair in a loop that the runtime owns."""

    runner: web.AppRunner
    host: str
    port: int

    @classmethod
    async def start(cls, runtime: Runtime, host: str, port: int, app: web.Application | None = None, *,
                    idle_timeout: float = IDLE_TIMEOUT, sock: socket.socket | None = None) -> HttpServer:
        """Serve on ``host:port``, or on ``sock``: a listening socket that several worker
        processes share (``serve --workers``), the kernel handing each connection to one."""
        runner = JsonErrorsRunner(app or build_app(runtime), handle_signals=False, access_log=access_log,
                               access_log_class=AccessLogger, keepalive_timeout=idle_timeout)
        await runner.setup()
        site: web.BaseSite = (web.SockSite(runner, sock) if sock is not None
                              else web.TCPSite(runner, host, port, reuse_address=True))
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        actual = sockets[0].getsockname()[1] if sockets else port
        return cls(runner, host, int(actual))

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


async def start_http(runtime: Runtime, host: str | None = None, port: int | None = None, *,
                     idle_timeout: float = IDLE_TIMEOUT, sock: socket.socket | None = None) -> HttpServer:
    """Serve the HTTP API (healthz, relay, linkage, shelter, verify, manage, counter) for a runtime on its loop;
    the runtime stops it when it stops. A runtime is served once: a second call returns
    the server already running."""
    if isinstance(runtime.http, HttpServer):
        return runtime.http
    server = await HttpServer.start(
        runtime,
        host or runtime.settings.host,
        runtime.settings.port if port is None else port,
        idle_timeout=idle_timeout,
        sock=sock,
    )
    runtime.serving(server)
    return server
