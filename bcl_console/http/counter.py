"""Counter terminals' API (らくらく窓口, contract §14), base path /counter/v1: at the town
hall counter the resident presents the My Number card and staff print the certificate
without a written application. The kiosk flow's shapes (contract §5), without payment:

1. ``POST /counter/v1/challenges`` → 201 ``{"challenge_id", "nonce"}``
2. ``POST /counter/v1/sessions`` ``{"challenge_id", "certificate", "signature"}`` → 201
   ``{"session_id", "municipality", "resident_code", "certificates": [{"type", "fee"}]}``
3. ``POST /counter/v1/requests`` (``Idempotency-Key``) ``{"session_id", "type", "copies",
   "options"}`` → 201 ``{"request_id", "fee_total", "status": "issued",
   "verification_code", "pages"}``: issued at once, the fee recorded (taken at the counter)
4. ``GET /counter/v1/requests/{id}/document`` → ``application/pdf``
5. ``POST /counter/v1/requests/{id}/completion`` ``{"result": "printed"|"failed"}`` →
   ``{"status", "refunded"}``; ``failed`` voids it

Every call carries the counter terminal's token (``bcl-console counter register``),
checked afresh each time (unknown or revoked: 401). The card is checked as at a kiosk
(chain, validity, revocation, signature over the challenge); a card of another
municipality than the terminal's is 403 ``other_municipality``. The store controls
(hours, suspension, go-live, the year-end closure) do not close the counter; a failure
drill of the centre does (503). Issuances are on channel ``counter-card``: on the Monitor,
never billed by settlement; each issuance and void is in the audit trail with the
terminal's name and interface ``counter``. Bodies above 64 KiB are 413.
"""

from __future__ import annotations

from aiohttp import web

from bcl_console.http.common import RUNTIME_KEY, read_json
from bcl_console.http.kiosk import (
    RateLimiter,
    card_proof,
    challenge_json,
    for_request,
    printed_result,
    read_order,
    session_json,
)
from bcl_console.http.terminals import terminal_auth
from bcl_console.services.issuance.relay import COUNTER_CARD, RelayService
from bcl_console.services.issuance.relay_values import CounterIssued, RequestAccepted
from bcl_console.services.platform.terminals import terminal_actor
from bcl_console.store.api import TerminalRecord

PREFIX = "/counter/v1"

TERMINAL: web.RequestKey[TerminalRecord] = web.RequestKey("counter-terminal", TerminalRecord)
COUNTER_LIMIT_KEY: web.AppKey[RateLimiter] = web.AppKey("counter-rate-limiter")

counter_auth = terminal_auth("/counter/", lambda runtime: runtime.counters, TERMINAL, COUNTER_LIMIT_KEY)


def client(terminal: TerminalRecord) -> str:
    """Whom the relay's challenges, sessions and requests belong to (the issuance's
    operator): this terminal alone, whatever its name."""
    return f"counter:{terminal.id}"


def _relay(request: web.Request) -> RelayService:
    return request.app[RUNTIME_KEY].relay


def _issued_json(r: CounterIssued) -> dict[str, object]:
    return {"request_id": r.request_id, "fee_total": r.fee_total, "status": r.status,
            "verification_code": r.verification_code, "pages": r.pages}


async def challenges(request: web.Request) -> web.Response:
    await read_json(request)  # a challenge takes nothing, but a body sent is checked like any (§9)
    challenge = await _relay(request).challenge(client(request[TERMINAL]))
    return web.json_response(challenge_json(challenge), status=201)


async def sessions(request: web.Request) -> web.Response:
    terminal = request[TERMINAL]
    proof = card_proof(await read_json(request))
    opened = await _relay(request).open_session(client(terminal), proof, channel=COUNTER_CARD,
                                                only_municipality=terminal.municipality_code)
    return web.json_response(session_json(opened), status=201)


async def requests_(request: web.Request) -> web.Response:
    terminal = request[TERMINAL]
    relay, operator, actor = _relay(request), client(terminal), terminal_actor(terminal)
    order, key, fingerprint = await read_order(request, operator)
    if isinstance(order, RequestAccepted):  # a retry of an answered key
        issued = await relay.counter_issued(operator, order.request_id, actor=actor)
    else:
        issued = await relay.counter_request(operator, order, idempotency_key=key, fingerprint=fingerprint,
                                             actor=actor)
    return web.json_response(_issued_json(issued), status=201)


async def document(request: web.Request) -> web.Response:
    pdf = await _relay(request).document(client(request[TERMINAL]), request.match_info["id"])
    return web.Response(body=pdf, content_type="application/pdf", headers={"Cache-Control": "no-store"})


async def completion(request: web.Request) -> web.Response:
    terminal = request[TERMINAL]
    operator = client(terminal)
    printed = await for_request(request, operator, printed_result)
    done = await _relay(request).complete(operator, request.match_info["id"], printed=printed,
                                          actor=terminal_actor(terminal))
    return web.json_response({"status": done.status, "refunded": done.refunded})


def setup(app: web.Application) -> None:
    app[COUNTER_LIMIT_KEY] = RateLimiter(rate=20.0, burst=100.0)
    app.router.add_post(f"{PREFIX}/challenges", challenges)
    app.router.add_post(f"{PREFIX}/sessions", sessions)
    app.router.add_post(f"{PREFIX}/requests", requests_)
    app.router.add_get(f"{PREFIX}/requests/{{id}}/document", document)
    app.router.add_post(f"{PREFIX}/requests/{{id}}/completion", completion)
