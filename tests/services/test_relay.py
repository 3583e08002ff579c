"""The kiosk relay over real HTTP: the whole flow, every error case, and concurrency."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client.parser import text_string_to_metric_families
from pypdf import PdfReader

from bcl_console.http.app import start_http
from bcl_console.services.issuance.pki import PkiService, certificate_pem, sign_nonce
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.services.relay_client import Kiosk

OP = Actor("op", "cli")
TOWN = "993611"


def q(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, sql, *params)


@pytest.fixture
async def relay(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, Kiosk, str]]:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.tokens.issue("kiosk", "Seven Mart", actor=OP)
    async with aiohttp.ClientSession() as http:
        yield demo_runtime, Kiosk(server.url, token, http), token


def resident(rt: Runtime, where: str = "status='active' AND restricted=0", code: str = TOWN) -> str:
    sql = f"SELECT resident_code FROM residents WHERE municipality_code=? AND {where} LIMIT 1"  # noqa: S608
    return str(q(rt, sql, code)[0][0])


async def card_for(rt: Runtime, resident_code: str, code: str = TOWN) -> bytes:
    card = await rt.pki.issue_card(code, resident_code, actor=OP)
    return card.pem


async def test_complete_flow_gives_a_genuine_certificate(relay: tuple[Runtime, Kiosk, str]) -> None:
    rt, kiosk, _ = relay
    rc = resident(rt)
    card = await card_for(rt, rc)
    status, s = await kiosk.session(card)
    assert status == 201
    assert s["municipality"] == {"code": TOWN, "name": "北山町"} and s["resident_code"] == rc
    assert {"type": "residence", "fee": 300} in s["certificates"]
    body = {"session_id": s["session_id"], "type": "residence", "copies": 1, "options": {"scope": "self"}}
    status, req = await kiosk.call("POST", "/requests", body, {"Idempotency-Key": "abc"})
    assert status == 201 and req["status"] == "awaiting_payment" and req["fee_total"] == 300
    # the same key and body: the same request; another body: 409
    status, again = await kiosk.call("POST", "/requests", body, {"Idempotency-Key": "abc"})
    assert status == 201 and again["request_id"] == req["request_id"]
    status, err = await kiosk.call("POST", "/requests", {**body, "copies": 2}, {"Idempotency-Key": "abc"})
    assert status == 409 and err["error"]["code"] == "idempotency_conflict"
    rid = req["request_id"]
    status, err = await kiosk.call("GET", f"/requests/{rid}/document")
    assert status == 409  # document before payment
    status, err = await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": 200})
    assert status == 422 and err["error"]["code"] == "wrong_amount"
    status, paid = await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": 300})
    assert status == 200 and paid["status"] == "issued" and paid["pages"] == 2
    status, err = await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": 300})
    assert status == 409  # payment twice
    status, pdf = await kiosk.call("GET", f"/requests/{rid}/document")
    assert status == 200 and pdf.startswith(b"%PDF")
    verdict = await rt.verification.verify_bytes(pdf)
    assert verdict.status == "genuine" and verdict.details["code"] == paid["verification_code"]
    status, done = await kiosk.call("POST", f"/requests/{rid}/completion", {"result": "printed"})
    assert status == 200 and done["status"] == "printed"
    status, err = await kiosk.call("POST", f"/requests/{rid}/completion", {"result": "printed"})
    assert status == 409  # completion twice
    assert q(rt, "SELECT state, operator, channel, fee FROM issuances WHERE request_id=?", rid) == [
        ("printed", "Seven Mart", "store", 300)]
    async with kiosk.http.get(kiosk.base.removesuffix("/kiosk/v1") + "/metrics") as r:
        assert r.content_type == "text/plain"
        metrics = samples(await r.text())
    assert metrics[("bcl_issuances_total", (("municipality", "993611"), ("type", "residence")))] == 1
    assert metrics[("bcl_http_requests_total", (("method", "POST"), ("route", "/kiosk/v1/requests/{id}/payment"),
                                                ("status", "422")))] == 1
    completion = ("bcl_http_request_seconds_count", (("route", "/kiosk/v1/requests/{id}/completion"),))
    assert metrics[completion] == 2  # printed, then the second completion's 409
    assert metrics[("bcl_render_queue_depth", ())] == 0  # the one render is done


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_a_failed_print_voids_and_refunds(relay: tuple[Runtime, Kiosk, str]) -> None:
    rt, kiosk, _ = relay
    card = await card_for(rt, resident(rt))
    _, s = await kiosk.session(card)
    _, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                              {"Idempotency-Key": "f"})
    _, paid = await kiosk.call("POST", f"/requests/{req['request_id']}/payment", {"amount": 300})
    status, done = await kiosk.call("POST", f"/requests/{req['request_id']}/completion", {"result": "failed"})
    assert status == 200 and done == {"status": "voided", "refunded": 300}
    assert (await rt.verification.verify_code(paid["verification_code"])).status == "voided"


async def test_authentication_errors(relay: tuple[Runtime, Kiosk, str]) -> None:
    rt, kiosk, token = relay
    async with aiohttp.ClientSession() as http:
        anonymous = Kiosk(kiosk.base.removesuffix("/kiosk/v1"), "bcl_ksk_wrong", http)
        status, err = await anonymous.call("POST", "/challenges")
        assert status == 401 and err["error"]["code"] == "unauthorized"
        async with http.post(kiosk.base + "/challenges") as r:
            assert r.status == 401
    card = await card_for(rt, resident(rt))
    # reused challenge
    _, c = await kiosk.call("POST", "/challenges")
    body = {"challenge_id": c["challenge_id"], "certificate": certificate_pem(card),
            "signature": sign_nonce(card, c["nonce"])}
    assert (await kiosk.call("POST", "/sessions", body))[0] == 201
    status, err = await kiosk.call("POST", "/sessions", body)
    assert status == 409 and err["error"]["code"] == "unknown_challenge"
    # bad signature (over another nonce)
    _, c1 = await kiosk.call("POST", "/challenges")
    _, c2 = await kiosk.call("POST", "/challenges")
    status, err = await kiosk.call("POST", "/sessions", {"challenge_id": c1["challenge_id"],
                                                         "certificate": certificate_pem(card),
                                                         "signature": sign_nonce(card, c2["nonce"])})
    assert status == 401 and err["error"]["code"] == "bad_signature"
    # expired challenge
    _, c = await kiosk.call("POST", "/challenges")
    rt.clock.advance(timedelta(seconds=61))  # type: ignore[attr-defined]
    status, err = await kiosk.call("POST", "/sessions", {"challenge_id": c["challenge_id"],
                                                         "certificate": certificate_pem(card),
                                                         "signature": sign_nonce(card, c["nonce"])})
    assert status == 409 and err["error"]["code"] == "expired_challenge"


async def test_refused_cards(relay: tuple[Runtime, Kiosk, str], tmp_path: object) -> None:
    rt, kiosk, _ = relay
    rc = resident(rt)
    # revoked
    card = await rt.pki.issue_card(TOWN, rc, actor=OP)
    await rt.pki.revoke(card.serial, actor=OP)
    status, err = await kiosk.session(card.pem)
    assert status == 403 and err["error"]["code"] == "revoked"
    # expired and not yet valid
    now = rt.clock.now()
    for start, code in ((now - timedelta(days=365 * 6), "expired"), (now + timedelta(days=2), "not_yet_valid")):
        made = rt.pki.make_card(TOWN, rc, not_before=start)
        await rt.pki.record([made], actor=OP)
        status, err = await kiosk.session(made.pem)
        assert status == 403 and err["error"]["code"] == code
    # another CA
    other = PkiService(rt.store, rt.clock, rt.settings.data_dir / "other-ca")
    (rt.settings.data_dir / "other-ca").mkdir()
    other.ensure()
    status, err = await kiosk.session(other.make_card(TOWN, rc).pem)
    assert status == 403 and err["error"]["code"] == "unknown_issuer"
    # tampered certificate (a byte of the signed part changed)
    good = await rt.pki.issue_card(TOWN, rc, actor=OP)
    pem = certificate_pem(good.pem)
    lines = pem.splitlines()
    middle = len(lines) // 2
    lines[middle] = ("A" if lines[middle][5] != "A" else "B").join([lines[middle][:5], lines[middle][6:]])
    tampered = ("\n".join(lines) + "\n").encode() + good.pem[len(pem):]
    status, err = await kiosk.session(tampered)
    assert status in (400, 403) and err["error"]["code"] in ("bad_certificate_signature", "malformed_certificate")


async def test_routing_refusals(relay: tuple[Runtime, Kiosk, str]) -> None:
    rt, kiosk, _ = relay
    svc = rt.municipalities
    rc = resident(rt)
    card = await card_for(rt, rc)
    await svc.suspend(TOWN, "点検", actor=OP)
    status, err = await kiosk.session(card)
    assert status == 503 and err["error"]["code"] == "suspended"
    assert err["error"]["message"] == "store issuance is suspended for this municipality"  # what a kiosk shows
    await svc.resume(TOWN, actor=OP)
    await svc.set_hours(TOWN, "06:30", "09:00", actor=OP)
    status, err = await kiosk.session(card)
    assert status == 503 and err["error"]["code"] == "outside_hours"
    assert err["error"]["message"] == "store issuance is outside this municipality's service hours"
    await svc.set_hours(TOWN, "06:30", "23:00", actor=OP)
    # a municipality not live yet (the small city is onboarding)
    city_resident = resident(rt, code="992054")
    status, err = await kiosk.session(await card_for(rt, city_resident, "992054"))
    assert status == 503 and err["error"]["code"] == "not_live"
    assert err["error"]["message"] == "this municipality does not offer store issuance yet"
    # unknown, moved out, deceased, restricted
    for where, expected in (("status='moved-out'", (404, "not_a_resident")),
                            ("status='deceased'", (404, "not_a_resident")),
                            ("status='active' AND restricted=1", (403, "restricted"))):
        status, err = await kiosk.session(await card_for(rt, resident(rt, where)))
        assert (status, err["error"]["code"]) == expected
    status, err = await kiosk.session(await card_for(rt, "12345678901"))
    assert status == 404 and err["error"]["code"] == "unknown_resident"
    refusals = dict(q(rt, "SELECT reason, count(*) FROM relay_refusals GROUP BY reason"))
    assert refusals["suspended"] == 1 and refusals["not_a_resident"] == 2
    # the year-end closure
    rt.clock.set(rt.clock.now().replace(month=12, day=30))  # type: ignore[attr-defined]
    status, err = await kiosk.session(card)
    assert status == 503 and err["error"]["code"] == "year_end_closure"
    assert err["error"]["message"] == "store issuance is closed from 29 December to 3 January"


async def test_bad_requests(relay: tuple[Runtime, Kiosk, str]) -> None:
    rt, kiosk, _ = relay
    no_seal = resident(rt, "status='active' AND restricted=0 AND NOT EXISTS (SELECT 1 FROM seals s WHERE "
                           "s.resident_code = residents.resident_code AND s.status='active')")
    _, s = await kiosk.session(await card_for(rt, no_seal))
    sid = s["session_id"]
    cases = [
        ({"session_id": "nope", "type": "residence"}, {"Idempotency-Key": "1"}, 404, "unknown_session"),
        ({"session_id": sid, "type": "passport"}, {"Idempotency-Key": "2"}, 400, "unknown_type"),
        ({"session_id": sid, "type": "residence", "options": {"scope": "street"}}, {"Idempotency-Key": "3"}, 400, "bad_options"),
        ({"session_id": sid, "type": "residence", "options": {"colour": 1}}, {"Idempotency-Key": "4"}, 400, "bad_options"),
        ({"session_id": sid, "type": "residence", "copies": 99}, {"Idempotency-Key": "5"}, 400, "bad_copies"),
        ({"session_id": sid, "type": "residence", "extra": 1}, {"Idempotency-Key": "6"}, 400, "bad_request"),
        ({"session_id": sid, "type": "residence"}, {}, 400, "missing_idempotency_key"),
        ({"session_id": sid, "type": "seal"}, {"Idempotency-Key": "7"}, 422, "not_issuable"),
    ]
    for body, headers, status, code in cases:
        got, err = await kiosk.call("POST", "/requests", body, headers)
        assert (got, err["error"]["code"]) == (status, code), body
    got, err = await kiosk.call("POST", "/requests", raw=b"{not json", headers={"Idempotency-Key": "8"})
    assert got == 400 and err["error"]["code"] == "malformed_json"
    got, err = await kiosk.call("POST", "/requests", raw=b"[1,2]", headers={"Idempotency-Key": "9"})
    assert got == 400 and err["error"]["code"] == "malformed_json"
    got, err = await kiosk.call("POST", "/sessions", raw=b"{" + b" " * 70_000 + b"}")
    assert got == 413 and err["error"]["code"] == "too_large"
    got, err = await kiosk.call("POST", "/requests/doesnotexist/payment", {"amount": 1})
    assert got == 404 and err["error"]["code"] == "unknown_request"
    got, err = await kiosk.call("POST", "/requests/x/completion", {"result": "burned"})
    assert got == 404
    assert q(rt, "SELECT count(*) FROM issuances WHERE operator = 'Seven Mart'") == [(0,)]


async def test_another_operator_cannot_touch_a_request(relay: tuple[Runtime, Kiosk, str]) -> None:
    rt, kiosk, _ = relay
    other_token = await rt.tokens.issue("kiosk", "Lawsome", actor=OP)
    card = await card_for(rt, resident(rt))
    _, s = await kiosk.session(card)
    _, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                              {"Idempotency-Key": "x"})
    other = Kiosk(kiosk.base.removesuffix("/kiosk/v1"), other_token, kiosk.http)
    status, _ = await other.call("POST", f"/requests/{req['request_id']}/payment", {"amount": 300})
    assert status == 404
    status, _ = await other.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                 {"Idempotency-Key": "y"})
    assert status == 404


@pytest.mark.timeout(300)
async def test_200_concurrent_flows_never_mix_people(relay: tuple[Runtime, Kiosk, str]) -> None:
    """The 2023 incident: two requests within one second overwrote each other. Not here."""
    rt, kiosk, _ = relay
    await rt.municipalities.set_hours("994821", "00:00", "24:00", actor=OP)
    people = q(rt, "SELECT municipality_code, resident_code, name, household_number FROM residents "
                   "WHERE status='active' AND restricted=0 AND municipality_code IN ('993611','994821') "
                   "ORDER BY resident_code LIMIT 200")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # one key, 200 certificates
    cards = [rt.pki.make_card(code, rc, key=key) for code, rc, _, _ in people]
    await rt.pki.record(cards, actor=OP)
    results = await asyncio.gather(*(kiosk.flow(card.pem, key=f"k{i}") for i, card in enumerate(cards)))
    flat = {rc: "".join(name.split()) for _, rc, name, _ in people}
    for (_code, rc, _name, _), (rid, pdf) in zip(people, results, strict=True):
        front = "".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
        assert f"氏名{flat[rc]}" in front
        assert q(rt, "SELECT resident_code, state FROM issuances WHERE request_id=?", rid) == [(rc, "printed")]
        # no other requester is named as the person of this certificate
        assert not any(f"氏名{flat[other]}生" in front or f"氏名{flat[other]}フ" in front
                       for other in flat if other != rc and flat[other] != flat[rc])
    assert q(rt, "SELECT count(*), count(DISTINCT verification_code) FROM issuances WHERE state='printed' "
             "AND operator='Seven Mart'") == [(200, 200)]


async def test_a_flooding_operator_is_rate_limited(relay: tuple[Runtime, Kiosk, str]) -> None:
    rt, kiosk, _ = relay
    app = rt.http.runner.app  # type: ignore[union-attr]
    from bcl_console.http.kiosk import RATE_LIMIT_KEY

    limiter = app[RATE_LIMIT_KEY]
    limiter.rate, limiter.burst = 1.0, 5.0
    statuses = [(await kiosk.call("POST", "/challenges"))[0] for _ in range(8)]
    assert statuses[:5] == [201] * 5 and 429 in statuses[5:]
    status, err = await kiosk.call("POST", "/challenges")
    assert status == 429 and err["error"]["code"] == "rate_limited"
