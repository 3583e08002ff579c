"""What the APIs of the municipalities' terminals share (``/manage/v1``, ``/counter/v1``):
a middleware that finds the terminal of the route's kind from its bearer token, afresh on
every request (unknown, revoked or another kind's token: 401 before anything is read), and
holds each terminal to its own rate."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bcl_console.http.common import RUNTIME_KEY, bearer_token, json_error
from bcl_console.http.kiosk import RateLimiter
from bcl_console.store.api import TerminalRecord

if TYPE_CHECKING:
    from bcl_console.services.platform.runtime import Runtime
    from bcl_console.services.platform.terminals import TerminalService


def terminal_auth(path_prefix: str, service: Callable[[Runtime], TerminalService],
                  terminal_key: web.RequestKey[TerminalRecord],
                  limiter_key: web.AppKey[RateLimiter]) -> Middleware:
    """The middleware of the routes under ``path_prefix``: their terminal, or 401/429."""

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(path_prefix):
            return await handler(request)
        terminals = service(request.app[RUNTIME_KEY])
        terminal = await terminals.authenticate(bearer_token(request))
        if terminal is None:
            return json_error(401, "unauthorized",
                              f"a valid {terminals.kind.label}'s token is required (Authorization: Bearer …)")
        if not request.app[limiter_key].allow(str(terminal.id)):
            return json_error(429, "rate_limited", "too many requests for this terminal; slow down")
        request[terminal_key] = terminal
        return await handler(request)

    return auth
