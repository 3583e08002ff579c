"""The relay's challenges and sessions are rows of the store: a restart of the centre keeps
an open session, a challenge is taken exactly once, and expiry holds as before."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp

from bcl_console.config import load_settings
from bcl_console.http.app import start_http
from bcl_console.services.issuance.pki import CardHolder
from bcl_console.services.issuance.relay_values import CardProof
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.services.relay_client import Kiosk

OP = Actor("op", "cli")
TOWN = "993611"


def resident(db: Path) -> str:
    return str(query(db, "SELECT resident_code FROM residents WHERE municipality_code=? AND status='active' "
                         "AND restricted=0 LIMIT 1", TOWN)[0][0])


async def test_a_session_survives_a_restart_of_the_centre(demo_dir: Path, clock: FixedClock) -> None:
    settings = load_settings(str(demo_dir))
    first = Runtime(settings, clock=clock)
    await first.start()
    try:
        server = await start_http(first, "127.0.0.1", 0)
        token = await first.tokens.issue("kiosk", "Seven Mart", actor=OP)
        card = (await first.pki.issue_card(TOWN, resident(settings.db_path), actor=OP)).pem
        async with aiohttp.ClientSession() as http:
            status, s = await Kiosk(server.url, token, http).session(card)
            assert status == 201, s
            status, c = await Kiosk(server.url, token, http).call("POST", "/challenges")
            assert status == 201
    finally:
        await first.stop()
    clock.advance(timedelta(minutes=5))  # within the session's ten minutes
    again = Runtime(settings, clock=clock)
    await again.start()
    try:
        server = await start_http(again, "127.0.0.1", 0)
        async with aiohttp.ClientSession() as http:
            kiosk = Kiosk(server.url, token, http)
            # the challenge asked for before the restart has expired (60 s) and says so
            status, err = await kiosk.call("POST", "/sessions", {
                "challenge_id": c["challenge_id"], "certificate": CardHolder(card).certificate,
                "signature": CardHolder(card).sign(c["nonce"])})
            assert status == 409 and err["error"]["code"] == "expired_challenge", err
            status, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                           {"Idempotency-Key": "after-restart"})
            assert status == 201 and req["status"] == "awaiting_payment", req
            status, paid = await kiosk.call("POST", f"/requests/{req['request_id']}/payment",
                                            {"amount": req["fee_total"]})
            assert status == 200 and paid["status"] == "issued", paid
            status, done = await kiosk.call("POST", f"/requests/{req['request_id']}/completion",
                                            {"result": "printed"})
            assert status == 200 and done == {"status": "printed", "refunded": 0}
            # and it still expires as before: ten minutes after it was opened
            clock.advance(timedelta(minutes=5, seconds=1))
            status, err = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "seal"},
                                           {"Idempotency-Key": "too-late"})
            assert status == 409 and err["error"]["code"] == "expired_session", err
    finally:
        await again.stop()


async def test_a_challenge_is_taken_once_however_many_ask_at_once(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    holder = CardHolder((await rt.pki.issue_card(TOWN, resident(rt.settings.db_path), actor=OP)).pem)
    challenge = await rt.relay.challenge("Seven Mart")
    proof = CardProof(challenge.challenge_id, holder.certificate, holder.sign(challenge.nonce))
    results = await asyncio.gather(*(rt.relay.open_session("Seven Mart", proof) for _ in range(20)),
                                   return_exceptions=True)
    opened = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(opened) == 1 and opened[0].resident_code == resident(rt.settings.db_path)
    assert len(refused) == 19 and {getattr(e, "code", None) for e in refused} == {"unknown_challenge"}
    assert query(rt.settings.db_path, "SELECT count(*) FROM relay_challenges WHERE challenge_id=?",
                 challenge.challenge_id) == [(0,)]
    assert query(rt.settings.db_path, "SELECT count(*) FROM relay_sessions WHERE session_id=?",
                 opened[0].session_id) == [(1,)]
