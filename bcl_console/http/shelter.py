"""Disaster-support HTTP API: shelter terminals check people in and out by My Number
card (``/shelter/v1``, a shelter-terminal token, the card checked exactly as at a kiosk),
and residents apply for a disaster certificate from home (``/resident/v1``, the card
alone authenticates them).

1. ``POST /shelter/v1/challenges`` → 201 ``{"challenge_id", "nonce"}``
2. ``POST /shelter/v1/checkins`` ``{"challenge_id", "certificate", "signature", "shelter_id"}`` → 201
3. ``POST /shelter/v1/checkouts`` ``{"challenge_id", "certificate", "signature", "whereabouts"?}`` → 200
4. ``POST /resident/v1/challenges`` → 201 ``{"challenge_id", "nonce"}``
5. ``POST /resident/v1/applications`` ``{"challenge_id", "certificate", "signature", "disaster_id"}`` → 201
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bcl_console.domain.errors import BadRequest
from bcl_console.http.common import (
    RUNTIME_KEY,
    SharedLimit,
    bearer_token,
    client_address,
    json_error,
    read_json,
)
from bcl_console.http.kiosk import card_proof, challenge_json
from bcl_console.services.issuance.service import MAX_ROW_ID
from bcl_console.services.platform.actor import Actor

TERMINAL: web.RequestKey[str] = web.RequestKey("shelter-terminal", str)
RESIDENT_LIMIT_KEY: web.AppKey[SharedLimit] = web.AppKey("resident-rate-limiter")


@web.middleware
async def disaster_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if not path.startswith(("/shelter/", "/resident/")):
        return await handler(request)
    runtime = request.app[RUNTIME_KEY]
    if path.startswith("/shelter/"):
        token = bearer_token(request)
        terminal = await runtime.tokens.subject("shelter", token) if token else None
        if terminal is None:
            return json_error(401, "unauthorized", "a valid shelter-terminal token is required (Authorization: Bearer …)")
        request[TERMINAL] = terminal
    elif await request.app[RESIDENT_LIMIT_KEY].wait(request, client_address(request)) > 0:
        return json_error(429, "rate_limited", "too many requests; slow down")
    return await handler(request)


def _client(request: web.Request) -> str:
    """Whom the relay's challenges belong to: the terminal, or the resident's address."""
    if TERMINAL in request:
        return f"shelter:{request[TERMINAL]}"
    return f"resident:{client_address(request)}"


async def challenges(request: web.Request) -> web.Response:
    await read_json(request)  # a challenge takes nothing, but a body sent is checked like any (§9)
    return web.json_response(challenge_json(await request.app[RUNTIME_KEY].relay.challenge(_client(request))),
                             status=201)


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ROW_ID:
        raise BadRequest(f"{key} must be a whole number from 1 to {MAX_ROW_ID}")
    return value


async def checkins(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    body = await read_json(request)
    shelter_id = _int(body, "shelter_id")
    card = await runtime.relay.authenticate_card(_client(request), card_proof(body))
    done = await runtime.ledger.centres.check_in(shelter_id, card.municipality_code, card.resident_code,
                                                 via="card", actor=Actor(request[TERMINAL], "api"))
    doc = done.as_dict()
    return web.json_response({k: doc[k] for k in ("stay_id", "shelter", "occupancy", "capacity")} |
                             {"checked_in": True}, status=201)


async def checkouts(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    body = await read_json(request)
    whereabouts = body.get("whereabouts", "home")
    if not isinstance(whereabouts, str):
        raise BadRequest("whereabouts must be a string")
    card = await runtime.relay.authenticate_card(_client(request), card_proof(body))
    done = await runtime.ledger.centres.check_out(card.municipality_code, card.resident_code,
                                                  whereabouts=whereabouts, actor=Actor(request[TERMINAL], "api"))
    return web.json_response({"shelter": done.as_dict()["shelter"], "whereabouts": done.whereabouts,
                              "checked_in": False})


async def applications(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    body = await read_json(request)
    disaster_id = _int(body, "disaster_id")
    card = await runtime.relay.authenticate_card(_client(request), card_proof(body))
    applied = await runtime.ledger.requests.apply_online(card.municipality_code, card.resident_code, disaster_id)
    return web.json_response({"application_id": applied.id, "state": applied.state, "disaster_id": disaster_id},
                             status=201)


def setup(app: web.Application) -> None:
    app[RESIDENT_LIMIT_KEY] = SharedLimit("resident", 5.0, 20.0)
    app.router.add_post("/shelter/v1/challenges", challenges)
    app.router.add_post("/shelter/v1/checkins", checkins)
    app.router.add_post("/shelter/v1/checkouts", checkouts)
    app.router.add_post("/resident/v1/challenges", challenges)
    app.router.add_post("/resident/v1/applications", applications)
