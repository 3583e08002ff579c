"""らくらく窓口 over real HTTP (contract §14): a counter terminal of 北山町 (993611) issues a
certificate at once on the resident's card (a card from the card service, checked as at a
kiosk), with no payment call; residents of another municipality are 403, a revoked
terminal is 401 at once, a revoked card is refused; the issuance is on channel
counter-card, on the Monitor, in the audit trail, and never billed by settlement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bcl_console.domain.terminals import COUNTER
from bcl_console.http.app import start_http
from bcl_console.services.issuance.pki import certificate_pem, sign_nonce
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.events import Event, IssuanceChanged
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.services.relay_client import Kiosk

TOWN, VILLAGE = "993611", "994821"  # 北山町, 桜川村 (the demo's, both live)
CONSOLE = Actor("sato", "console")
NAME = "住民課 窓口1"


def q(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, sql, *params)


def resident(rt: Runtime, code: str = TOWN) -> str:
    return str(q(rt, "SELECT resident_code FROM residents WHERE municipality_code=? AND status='active' "
                     "AND restricted=0 ORDER BY resident_code LIMIT 1", code)[0][0])


async def card_for(rt: Runtime, code: str = TOWN) -> tuple[bytes, str, str]:
    """A card from the card service (what `card issue` makes): its PEM, serial and holder."""
    holder = resident(rt, code)
    card = await rt.pki.issue_card(code, holder, actor=CONSOLE)
    return card.pem, card.serial, holder


@pytest.fixture
async def counter(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, Kiosk, str]]:
    """The demo centre served on a loopback port, a new counter terminal of 北山町 and a
    client holding its token."""
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    issued = await demo_runtime.counters.add(TOWN, NAME, actor=CONSOLE)
    async with aiohttp.ClientSession() as http:
        yield demo_runtime, Kiosk(server.url, issued.token, http, api="counter"), issued.token


def code_of(doc: Any) -> str:
    assert set(doc) == {"error"} and doc["error"]["message"], doc
    return str(doc["error"]["code"])


async def test_full_flow_issues_a_genuine_document_at_once(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, token = counter
    assert token.startswith(COUNTER.token_prefix)
    events: list[Event] = []
    rt.bus.subscribe(events.append)
    card, _, holder = await card_for(rt)
    before = await rt.monitor.snapshot()

    status, s = await desk.session(card)
    assert status == 201, s
    assert s["municipality"] == {"code": TOWN, "name": "北山町"} and s["resident_code"] == holder
    assert {"type": "residence", "fee": 300} in s["certificates"]

    body = {"session_id": s["session_id"], "type": "residence", "copies": 1, "options": {"scope": "household"}}
    status, issued = await desk.call("POST", "/requests", body, {"Idempotency-Key": "窓口-1"})
    assert status == 201, issued
    assert issued["status"] == "issued" and issued["fee_total"] == 300 and issued["pages"] >= 2
    rid, code = issued["request_id"], issued["verification_code"]
    assert code
    # the same key and body: the same issuance; another body: 409; no payment call exists
    status, again = await desk.call("POST", "/requests", body, {"Idempotency-Key": "窓口-1"})
    assert status == 201 and again == issued
    status, err = await desk.call("POST", "/requests", {**body, "copies": 2}, {"Idempotency-Key": "窓口-1"})
    assert status == 409 and code_of(err) == "idempotency_conflict"
    status, err = await desk.call("POST", f"/requests/{rid}/payment", {"amount": 300})
    assert status in (404, 405)

    status, pdf = await desk.call("GET", f"/requests/{rid}/document")
    assert status == 200 and pdf.startswith(b"%PDF")
    verdict = await rt.verification.verify_bytes(pdf)
    assert verdict.status == "genuine" and verdict.details["code"] == code
    status, done = await desk.call("POST", f"/requests/{rid}/completion", {"result": "printed"})
    assert status == 200 and done == {"status": "printed", "refunded": 0}
    status, err = await desk.call("POST", f"/requests/{rid}/completion", {"result": "printed"})
    assert status == 409

    # one row: channel counter-card, the fee recorded, this terminal the operator, no settlement key
    terminal = next(t for t in await rt.counters.list(TOWN) if t.name == NAME and t.active)
    assert q(rt, "SELECT channel, fee, operator, state, resident_code, settle_year, settle_key FROM issuances "
                 "WHERE request_id = ?", rid) == [
        ("counter-card", 300, f"counter:{terminal.id}", "printed", holder, None, None)]
    # audited with the terminal's name and interface counter (no resident in the line)
    trail = await rt.municipalities.audit_trail(TOWN, limit=3)
    line = next(e for e in trail if e.action == "counter-issue")
    number = q(rt, "SELECT certificate_number FROM issuances WHERE request_id = ?", rid)[0][0]
    assert (line.actor, line.interface, line.field, line.new_value) == (NAME, "counter", "residence", number)
    assert holder not in str(trail)
    # on the Monitor: in the feed, counted apart from the stores, and as live events
    after = await rt.monitor.snapshot()
    assert rid in [r.request_id for r in after.feed]
    assert after.other_channels["counter-card"][TOWN] == before.other_channels.get("counter-card", {}).get(TOWN, 0) + 1
    assert after.today_total == before.today_total
    assert [e.state for e in events if isinstance(e, IssuanceChanged) and e.request_id == rid] == [
        "awaiting_payment", "issued", "printed"]


async def test_a_failed_print_is_voided_refunded_and_audited(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    card, _, _ = await card_for(rt)
    status, s = await desk.session(card)
    assert status == 201
    status, issued = await desk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                     {"Idempotency-Key": "seal-1"})
    assert status == 201 and issued["status"] == "issued", issued
    status, done = await desk.call("POST", f"/requests/{issued['request_id']}/completion", {"result": "failed"})
    assert status == 200 and done == {"status": "voided", "refunded": 300}
    line = (await rt.municipalities.audit_trail(TOWN, limit=1))[0]
    assert (line.actor, line.interface, line.action, line.new_value) == (NAME, "counter", "counter-void", "voided")
    status, again = await desk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                    {"Idempotency-Key": "seal-1"})
    assert status == 201 and again["status"] == "voided"  # a retry answers what happened


async def test_a_resident_of_another_municipality_is_403(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    card, _, holder = await card_for(rt, VILLAGE)
    sessions = q(rt, "SELECT count(*) FROM relay_sessions")
    status, err = await desk.session(card)
    assert status == 403 and code_of(err) == "other_municipality"
    assert holder not in str(err) and "桜川村" not in str(err)
    assert q(rt, "SELECT count(*) FROM relay_sessions") == sessions  # nothing of the holder was read or kept
    # that village's own counter issues to that resident
    village = await rt.counters.add(VILLAGE, "桜川村 住民課", actor=CONSOLE)
    own = Kiosk(desk.base.removesuffix("/counter/v1"), village.token, desk.http, api="counter")
    status, s = await own.session(card)
    assert status == 201 and s["municipality"]["code"] == VILLAGE


@pytest.mark.sqlite_only
async def test_a_revoked_terminal_is_401_at_once(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, token = counter
    card, _, _ = await card_for(rt)
    status, s = await desk.session(card)
    assert status == 201
    record, changed = await rt.counters.revoke(TOWN, NAME, actor=CONSOLE)
    assert changed and not record.active
    for method, path, body in (("POST", "/challenges", None), ("POST", "/sessions", {}),
                               ("POST", "/requests", {"session_id": s["session_id"], "type": "residence"}),
                               ("GET", "/requests/x/document", None), ("POST", "/requests/x/completion", {})):
        status, doc = await desk.call(method, path, body, {"Idempotency-Key": "k"})
        assert status == 401 and code_of(doc) == "unauthorized", (path, doc)
    assert not q(rt, "SELECT 1 FROM issuances WHERE operator = ?", f"counter:{record.id}")
    # a token of another kind opens neither API: a management terminal's here, a counter's at /manage
    manage = await rt.terminals.add(TOWN, NAME, actor=CONSOLE)
    counter2 = await rt.counters.add(TOWN, NAME, actor=CONSOLE)  # the name is free again
    other = Kiosk(desk.base.removesuffix("/counter/v1"), manage.token, desk.http, api="counter")
    assert (await other.call("POST", "/challenges"))[0] == 401
    status, _ = await Kiosk(desk.base.removesuffix("/counter/v1"), counter2.token, desk.http,
                            api="manage").call("GET", "/status")
    assert status == 401
    fresh = Kiosk(desk.base.removesuffix("/counter/v1"), counter2.token, desk.http, api="counter")
    assert (await fresh.call("POST", "/challenges"))[0] == 201
    assert token.encode() not in rt.settings.db_path.read_bytes()  # only hashes are kept


async def test_the_card_is_checked_as_at_a_kiosk(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    card, serial, _ = await card_for(rt)
    # a signature over another nonce: 401; a challenge used twice: 409
    status, c = await desk.call("POST", "/challenges")
    assert status == 201
    status, err = await desk.call("POST", "/sessions", {
        "challenge_id": c["challenge_id"], "certificate": certificate_pem(card),
        "signature": sign_nonce(card, "AAAA" + c["nonce"][4:])})
    assert status == 401, err
    status, err = await desk.call("POST", "/sessions", {
        "challenge_id": c["challenge_id"], "certificate": certificate_pem(card), "signature": sign_nonce(card, c["nonce"])})
    assert status == 409 and code_of(err) == "unknown_challenge"
    # a revoked card: refused at once
    await rt.pki.revoke(serial, actor=CONSOLE)
    status, err = await desk.session(card)
    assert status == 403 and code_of(err) == "revoked"
    # a kiosk's challenge is not the counter's
    kiosk_token = await rt.tokens.issue("kiosk", "Seven Mart", actor=CONSOLE)
    kiosk = Kiosk(desk.base.removesuffix("/counter/v1"), kiosk_token, desk.http)
    status, kc = await kiosk.call("POST", "/challenges")
    fresh, _, _ = await card_for(rt)
    status, err = await desk.call("POST", "/sessions", {
        "challenge_id": kc["challenge_id"], "certificate": certificate_pem(fresh),
        "signature": sign_nonce(fresh, kc["nonce"])})
    assert status == 409 and code_of(err) == "unknown_challenge"


async def test_store_controls_do_not_close_the_counter(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    await rt.municipalities.suspend(TOWN, "庁舎 停電", actor=CONSOLE)
    card, _, _ = await card_for(rt)
    status, s = await desk.session(card)
    assert status == 201, s
    status, issued = await desk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                     {"Idempotency-Key": "停電中"})
    assert status == 201 and issued["status"] == "issued"


async def test_bad_input_is_the_standard_error(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    history = q(rt, "SELECT count(*) FROM issuances WHERE channel = 'counter-card'")  # the demo's
    card, _, _ = await card_for(rt)
    status, s = await desk.session(card)
    sid = s["session_id"]
    cases: list[tuple[dict[str, Any], dict[str, str], int, str]] = [
        ({"session_id": sid, "type": "residence"}, {}, 400, "missing_idempotency_key"),
        ({"session_id": sid, "type": "passport"}, {"Idempotency-Key": "a"}, 400, "unknown_type"),
        ({"session_id": sid, "type": "residence", "copies": 9}, {"Idempotency-Key": "b"}, 400, "bad_copies"),
        ({"session_id": sid, "type": "residence", "options": {"scope": "all"}}, {"Idempotency-Key": "c"}, 400,
         "bad_options"),
        ({"session_id": "nope", "type": "residence"}, {"Idempotency-Key": "d"}, 404, "unknown_session"),
    ]
    for body, headers, want, code in cases:
        status, err = await desk.call("POST", "/requests", body, headers)
        assert (status, code_of(err)) == (want, code), (body, err)
    status, err = await desk.call("POST", "/requests", raw=b'{"session_id": "' + b"x" * 70_000 + b'"}',
                                  headers={"Idempotency-Key": "e"})
    assert status == 413
    status, err = await desk.call("GET", "/requests/unknown/document")
    assert status == 404 and code_of(err) == "unknown_request"
    assert q(rt, "SELECT count(*) FROM issuances WHERE channel = 'counter-card'") == history


async def test_settlement_of_the_year_does_not_bill_counter_card(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    fiscal_year = 2026  # the clock's 17 June 2026

    def town(doc: dict[str, Any]) -> dict[str, Any]:
        return next(m for m in doc["municipalities"] if m["code"] == TOWN)

    before = await rt.settlement.settle(fiscal_year)
    card, _, _ = await card_for(rt)
    for n in range(3):
        status, s = await desk.session(card)
        assert status == 201
        status, issued = await desk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                         {"Idempotency-Key": f"fy-{n}"})
        assert status == 201 and issued["status"] == "issued"
        await desk.call("POST", f"/requests/{issued['request_id']}/completion", {"result": "printed"})
    after = await rt.settlement.settle(fiscal_year)
    assert town(after) == town(before) and after["totals"] == before["totals"]
    # while a store issuance of the same resident, type and day is billed (the test can fail)
    kiosk_token = await rt.tokens.issue("kiosk", "Seven Mart", actor=CONSOLE)
    await Kiosk(desk.base.removesuffix("/counter/v1"), kiosk_token, desk.http).flow(card)
    billed = await rt.settlement.settle(fiscal_year)
    assert town(billed)["billable"] == town(before)["billable"] + 1
    assert town(billed)["fees_collected"] == town(before)["fees_collected"] + 300
    terminal = next(t for t in await rt.counters.list(TOWN) if t.name == NAME)
    assert q(rt, "SELECT count(*) FROM issuances WHERE operator = ?", f"counter:{terminal.id}") == [(3,)]
    assert q(rt, "SELECT count(settle_key), count(settle_year) FROM issuances WHERE channel = 'counter-card'") == [
        (0, 0)]


@pytest.mark.sqlite_only
async def test_the_demo_has_a_counter_for_each_live_municipality_and_its_history(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    live = {v.code for v in await rt.municipalities.all() if v.state.value == "live"}
    counters = await rt.counters.list()
    assert sorted(t.municipality_code for t in counters) == sorted(live) and all(t.active for t in counters)
    assert "北山町 住民課 らくらく窓口" in {t.name for t in counters}
    assert not {t.id for t in counters} & {t.id for t in await rt.terminals.list()}  # kinds kept apart
    # a month of card issuances at each counter: weekdays, office hours (Japan), never billed
    rows = q(rt, "SELECT operator, municipality_code, strftime('%w', created_at, '+9 hours'), "
                 "CAST(strftime('%H', created_at, '+9 hours') AS INTEGER), settle_key FROM issuances "
                 "WHERE channel = 'counter-card'")
    held = {r[0] for r in q(rt, "SELECT DISTINCT municipality_code FROM residents")}  # not an own server's
    assert rows and {r[0] for r in rows} == {f"counter:{t.id}" for t in counters if t.municipality_code in held}
    assert all(r[2] not in ("0", "6") and 8 <= r[3] <= 17 and r[4] is None for r in rows)
    mine = {t.id: t.municipality_code for t in counters}
    assert all(mine[int(r[0].split(":")[1])] == r[1] for r in rows)  # each counter issues its own residents'


async def test_a_retry_at_the_same_moment_issues_one_document(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    card, _, _ = await card_for(rt)
    status, s = await desk.session(card)
    body = {"session_id": s["session_id"], "type": "residence"}
    answers = await asyncio.gather(*(desk.call("POST", "/requests", body, {"Idempotency-Key": "twice"})
                                     for _ in range(3)))
    ok = [doc for status, doc in answers if status == 201]
    assert ok and all(status in (201, 409) for status, _ in answers), answers
    assert all(code_of(doc) == "in_progress" for status, doc in answers if status == 409)
    assert len({(d["request_id"], d["verification_code"]) for d in ok}) == 1
    terminal = next(t for t in await rt.counters.list(TOWN) if t.name == NAME)
    assert q(rt, "SELECT count(*), count(verification_code) FROM issuances WHERE operator = ?",
             f"counter:{terminal.id}") == [(1, 1)]
    status, again = await desk.call("POST", "/requests", body, {"Idempotency-Key": "twice"})
    assert status == 201 and again == ok[0]


async def test_a_restricted_resident_is_refused_at_the_counter_by_card(counter: tuple[Runtime, Kiosk, str]) -> None:
    rt, desk, _ = counter
    holder = str(q(rt, "SELECT resident_code FROM residents WHERE municipality_code=? AND status='active' "
                       "AND restricted=1 LIMIT 1", TOWN)[0][0])
    card = await rt.pki.issue_card(TOWN, holder, actor=CONSOLE)
    status, err = await desk.session(card.pem)
    assert status == 403 and code_of(err) == "restricted" and "written application" in err["error"]["message"]
