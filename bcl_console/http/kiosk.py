"""Kiosk relay API (contract §5), base path /kiosk/v1, and /metrics.

Each route reads its JSON body into the relay's typed values (a 400 for what is not of
the expected shape), calls the relay, and writes its answer as JSON; what the relay
refuses becomes a status in the one error middleware (``http.common``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from bcl_console.domain.errors import BadRequest
from bcl_console.domain.municipality import CertificateType
from bcl_console.http.common import (
    LOG_FIELDS,
    RUNTIME_KEY,
    bearer_token,
    client_address,
    header_text,
    json_error,
    read_json,
)
from bcl_console.services.issuance.relay import (
    MAX_COPIES,
    RelayService,
    check_idempotency_key,
    order_fingerprint,
)
from bcl_console.services.issuance.relay_values import (
    CardProof,
    CertificateOrder,
    ChallengeIssued,
    RequestAccepted,
    SessionOpened,
)
from bcl_console.services.platform.logs import begin_request, end_request
from bcl_console.services.platform.metrics import CONTENT_TYPE
from bcl_console.store import StoreError

T = TypeVar("T")


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
    """Each request's latency and status by route (metrics), and the fields every log line
    written while it is served carries (request id, route, municipality once known)."""
    started = time.perf_counter()
    status = 500
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    request[LOG_FIELDS], logged = begin_request(route, request.method, request.headers.get("X-Request-Id"))
    client_address(request)  # the access log's client, worked out while the route's app is known
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        end_request(logged)
        request.app[RUNTIME_KEY].metrics.observe_request(route, request.method, status, time.perf_counter() - started)


def _relay(request: web.Request) -> RelayService:
    return request.app[RUNTIME_KEY].relay


# --------------------------------------------------------------------------- bodies → values
def _string(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadRequest(f"{key} must be a non-empty string of at most {limit} characters")
    return value


def card_proof(body: dict[str, Any]) -> CardProof:
    """A card's answer to a challenge (kiosks, shelter terminals and residents send it alike)."""
    return CardProof(_string(body, "challenge_id", 64), _string(body, "certificate", 16 * 1024),
                     _string(body, "signature", 1024))


_ORDER_FIELDS = frozenset({"session_id", "type", "copies", "options"})
_TYPES = {t.value: t for t in CertificateType}


def _session_id(body: dict[str, Any]) -> str:
    session_id = body.get("session_id")
    if not isinstance(session_id, str) or len(session_id) > 64:
        raise BadRequest("session_id must be a string")
    return session_id


def _order(body: dict[str, Any], session_id: str) -> CertificateOrder:
    unknown = set(body) - _ORDER_FIELDS
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    type_ = body.get("type")
    ctype = _TYPES.get(type_) if isinstance(type_, str) else None
    if ctype is None:
        raise BadRequest(f"unknown certificate type {type_!r}", code="unknown_type")
    copies = body.get("copies", 1)
    if not isinstance(copies, int) or isinstance(copies, bool) or not 1 <= copies <= MAX_COPIES:
        raise BadRequest(f"copies must be a whole number from 1 to {MAX_COPIES}", code="bad_copies")
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise BadRequest("options must be an object", code="bad_options")
    return CertificateOrder(session_id, ctype, copies, options)


def _amount(body: dict[str, Any]) -> int:
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise BadRequest("amount must be a whole number of yen", code="bad_amount")
    return amount


def printed_result(body: dict[str, Any]) -> bool:
    result = body.get("result")
    if result not in ("printed", "failed"):
        raise BadRequest("result must be printed or failed", code="bad_result")
    return bool(result == "printed")


# --------------------------------------------------------------------------- values → JSON
def challenge_json(c: ChallengeIssued) -> dict[str, Any]:
    return {"challenge_id": c.challenge_id, "nonce": c.nonce}


def session_json(s: SessionOpened) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "municipality": {"code": s.municipality_code, "name": s.municipality_name},
        "resident_code": s.resident_code,
        "certificates": [{"type": c.type, "fee": c.fee} for c in s.certificates],
    }


def _accepted(r: RequestAccepted) -> web.Response:
    return web.json_response({"request_id": r.request_id, "fee_total": r.fee_total, "status": r.status},
                             status=201)


# --------------------------------------------------------------------------- routes
async def challenges(request: web.Request) -> web.Response:
    await read_json(request)  # a challenge takes nothing, but a body sent is checked like any (§9)
    return web.json_response(challenge_json(await _relay(request).challenge(request[OPERATOR])), status=201)


async def sessions(request: web.Request) -> web.Response:
    proof = card_proof(await read_json(request))
    return web.json_response(session_json(await _relay(request).open_session(request[OPERATOR], proof)),
                             status=201)


async def read_order(request: web.Request, operator: str) -> tuple[CertificateOrder | RequestAccepted, str, str]:
    """A request's order with its Idempotency-Key and the body's fingerprint, or, for a
    body that is no order but a retry of an answered key, that answer (kiosks and counter
    terminals alike): a retry's answer and the session's state come before the body's own
    mistakes."""
    body = await read_json(request)
    key = check_idempotency_key(header_text(request, "Idempotency-Key", 200))
    relay = _relay(request)
    fingerprint = order_fingerprint(body)
    session_id: str | None = None
    try:
        session_id = _session_id(body)
        return _order(body, session_id), key, fingerprint
    except BadRequest:
        again = await relay.replay(operator, key, fingerprint)
        if again is not None:
            return again, key, fingerprint
        if session_id is not None:
            await relay.session(operator, session_id)
        raise


async def requests_(request: web.Request) -> web.Response:
    operator = request[OPERATOR]
    order, key, fingerprint = await read_order(request, operator)
    if isinstance(order, RequestAccepted):
        return _accepted(order)
    return _accepted(await _relay(request).request(operator, order, idempotency_key=key, fingerprint=fingerprint))


async def for_request(request: web.Request, operator: str, parse: Callable[[dict[str, Any]], T]) -> T:
    """A body read for a request id: a body that is wrong for an unknown request is
    answered as the unknown request it is (404), whatever its mistakes."""
    body = await read_json(request)
    try:
        return parse(body)
    except BadRequest:
        await _relay(request).find(operator, request.match_info["id"])
        raise


async def payment(request: web.Request) -> web.Response:
    amount = await for_request(request, request[OPERATOR], _amount)
    relay, operator, request_id = _relay(request), request[OPERATOR], request.match_info["id"]
    paid = await relay.pay(operator, request_id, amount)
    return web.json_response({"status": paid.status, "verification_code": paid.verification_code,
                              "pages": paid.pages})


async def document(request: web.Request) -> web.Response:
    pdf = await _relay(request).document(request[OPERATOR], request.match_info["id"])
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Cache-Control": "no-store"})


async def completion(request: web.Request) -> web.Response:
    printed = await for_request(request, request[OPERATOR], printed_result)
    relay, operator, request_id = _relay(request), request[OPERATOR], request.match_info["id"]
    done = await relay.complete(operator, request_id, printed=printed)
    return web.json_response({"status": done.status, "refunded": done.refunded})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text of the whole centre (every worker's under ``serve --workers``: the
    files of all of them are read, so off the event loop)."""
    runtime = request.app[RUNTIME_KEY]
    text = await asyncio.to_thread(runtime.metrics.render)
    try:
        text += runtime.metrics.centre(await runtime.centres.state())
    except StoreError:
        pass  # the database is down: the counters still answer, the centre's role does not
    return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE, "X-Content-Type-Options": "nosniff"})


def setup(app: web.Application) -> None:
    app[RATE_LIMIT_KEY] = RateLimiter()
    app.router.add_post("/kiosk/v1/challenges", challenges)
    app.router.add_post("/kiosk/v1/sessions", sessions)
    app.router.add_post("/kiosk/v1/requests", requests_)
    app.router.add_post("/kiosk/v1/requests/{id}/payment", payment)
    app.router.add_get("/kiosk/v1/requests/{id}/document", document)
    app.router.add_post("/kiosk/v1/requests/{id}/completion", completion)
    app.router.add_get("/metrics", metrics)
