"""Kiosk relay API (contract §5), base path /kiosk/v1, and /metrics."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bcl_console.http.common import (
    RUNTIME_KEY,
    bearer_token,
    header_text,
    json_error,
    read_json,
)


class RateLimiter:
    """A token bucket per kiosk operator: bursts are fine, floods get 429."""

    def __init__(self, rate: float = 400.0, burst: float = 800.0) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True


RATE_LIMIT_KEY: web.AppKey[RateLimiter] = web.AppKey("rate-limiter")
OPERATOR: web.RequestKey[str] = web.RequestKey("operator", str)


@web.middleware
async def kiosk_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/kiosk/"):
        return await handler(request)
    runtime = request.app[RUNTIME_KEY]
    token = bearer_token(request)
    operator = await runtime.tokens.subject("kiosk", token) if token else None
    if operator is None:
        return json_error(401, "unauthorized", "a valid kiosk operator token is required (Authorization: Bearer …)")
    if not request.app[RATE_LIMIT_KEY].allow(operator):
        return json_error(429, "rate_limited", "too many requests for this operator; slow down")
    request[OPERATOR] = operator
    return await handler(request)


@web.middleware
async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[RUNTIME_KEY].metrics.observe_request(route, request.method, status, time.perf_counter() - started)


def _relay(request: web.Request) -> Any:
    return request.app[RUNTIME_KEY].relay


async def challenges(request: web.Request) -> web.Response:
    return web.json_response(_relay(request).challenge(request[OPERATOR]), status=201)


async def sessions(request: web.Request) -> web.Response:
    body = await read_json(request)
    return web.json_response(await _relay(request).open_session(request[OPERATOR], body), status=201)


async def requests_(request: web.Request) -> web.Response:
    body = await read_json(request)
    status, doc = await _relay(request).request(request[OPERATOR], header_text(request, "Idempotency-Key", 200), body)
    return web.json_response(doc, status=status)


async def payment(request: web.Request) -> web.Response:
    body = await read_json(request)
    doc = await _relay(request).pay(request[OPERATOR], request.match_info["id"], body)
    return web.json_response(doc)


async def document(request: web.Request) -> web.Response:
    pdf = await _relay(request).document(request[OPERATOR], request.match_info["id"])
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Cache-Control": "no-store"})


async def completion(request: web.Request) -> web.Response:
    body = await read_json(request)
    doc = await _relay(request).complete(request[OPERATOR], request.match_info["id"], body)
    return web.json_response(doc)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[RUNTIME_KEY].metrics.render(), content_type="text/plain",
                        charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})


def setup(app: web.Application) -> None:
    app[RATE_LIMIT_KEY] = RateLimiter()
    app.router.add_post("/kiosk/v1/challenges", challenges)
    app.router.add_post("/kiosk/v1/sessions", sessions)
    app.router.add_post("/kiosk/v1/requests", requests_)
    app.router.add_post("/kiosk/v1/requests/{id}/payment", payment)
    app.router.add_get("/kiosk/v1/requests/{id}/document", document)
    app.router.add_post("/kiosk/v1/requests/{id}/completion", completion)
    app.router.add_get("/metrics", metrics)
