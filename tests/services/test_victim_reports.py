"""被災証明書 (issue #19 §3, contract §14): reports of harm, refusals that change nothing,
the certificate at the counter and through the kiosk relay over real HTTP, and settlement."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from pypdf import PdfReader

from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.services.relay_client import Kiosk

ME = Actor("防災課 佐藤", "cli")
TOWN = "993611"  # 北山町: the demo's disaster affects it alone
VILLAGE = "994821"
HARM = "自家用車（軽自動車）が冠水し走行不能となった。物置の農機具も流失"


def q(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, sql, *params)


def unreported(rt: Runtime, n: int = 1, code: str = TOWN) -> list[str]:
    """Active residents (no protection measure) with no report of harm yet."""
    return [r for (r,) in q(rt, "SELECT resident_code FROM residents WHERE municipality_code = ? AND status = "
                            "'active' AND restricted = 0 AND resident_code NOT IN (SELECT resident_code FROM "
                            "victim_reports) ORDER BY resident_code LIMIT ?", code, n)]


def flat(text: str) -> str:
    return "".join(text.split())


def front_text(pdf: bytes) -> str:
    return flat(PdfReader(io.BytesIO(pdf)).pages[0].extract_text())


async def disaster_id(rt: Runtime) -> int:
    return (await rt.ledger.declarations.disasters())[0].disaster.id


async def test_the_demo_holds_reports(demo_runtime: Runtime) -> None:
    reports = await demo_runtime.ledger.reports.reports(await disaster_id(demo_runtime))
    assert len(reports) == 5 and {r.municipality_code for r in reports} == {TOWN}
    assert all(r.harm and r.name and r.revision == 1 for r in reports)
    assert [r.reported_on for r in reports] == sorted((r.reported_on for r in reports), reverse=True)


async def test_a_report_and_every_refusal_changing_nothing(demo_runtime: Runtime,
                                                           db_dump: Callable[[Path], list[str]]) -> None:
    rt = demo_runtime
    did = await disaster_id(rt)
    closed = await rt.ledger.declarations.declare("令和8年6月東雲県地震", "earthquake", "2026-06-10", [TOWN], actor=ME)
    await rt.ledger.declarations.close(closed.disaster.id, actor=ME)
    person, = unreported(rt)
    moved = q(rt, "SELECT resident_code FROM residents WHERE municipality_code = ? AND status = 'moved-out' "
              "LIMIT 1", TOWN)[0][0]
    villager, = unreported(rt, code=VILLAGE)
    report = rt.ledger.reports.report_harm
    before = db_dump(rt.settings.db_path)
    refusals: list[tuple[type[Exception], str, dict[str, object]]] = [
        (NotFound, "there is no disaster 999", {"disaster_id": 999}),
        (Conflict, "is closed", {"disaster_id": closed.disaster.id}),
        (InvalidInput, f"municipality {VILLAGE} is not affected", {"code": VILLAGE, "resident": villager}),
        (NotFound, "is not an active resident of 993611", {"resident": villager}),  # of another municipality
        (NotFound, "is not an active resident", {"resident": moved}),
        (NotFound, "is not an active resident", {"resident": "99999999999"}),
        (InvalidInput, "harm is empty", {"harm": " \u3000 \n"}),
        (InvalidInput, "longer than 200 characters", {"harm": "浸" * 201}),
        (InvalidInput, "外字", {"harm": "𠮷野家の店舗が浸水"}),
        (InvalidInput, "not between the disaster", {"reported_on": "2026-01-05"}),
        (InvalidInput, "in the future", {"reported_on": "2026-06-18"}),  # tomorrow
        (InvalidInput, "date 'someday'", {"reported_on": "someday"}),
        (InvalidInput, "no report for disaster", {"amend": True}),
    ]
    for error, message, change in refusals:
        args: dict[str, object] = {"disaster_id": did, "code": TOWN, "resident": person, "harm": HARM} | change
        extra = {k: args.pop(k) for k in ("reported_on", "amend") if k in args}
        with pytest.raises(error, match=message):
            await report(args["disaster_id"], args["code"], args["resident"], args["harm"],  # type: ignore[arg-type]
                         actor=ME, **extra)  # type: ignore[arg-type]
    assert db_dump(rt.settings.db_path) == before

    done = await report(did, TOWN, person, f"  {HARM}\n", reported_on="R8.6.1", actor=ME)
    assert (done.harm, done.reported_on, done.revision, done.recorded_by) == (HARM, "2026-06-01", 1, ME.name)
    assert done.address == q(rt, "SELECT address FROM residents WHERE resident_code = ?", person)[0][0]
    assert done.name == q(rt, "SELECT name FROM residents WHERE resident_code = ?", person)[0][0]

    # a second report of the same person and disaster is refused and changes nothing …
    before = db_dump(rt.settings.db_path)
    with pytest.raises(Conflict, match="already reported harm for disaster .* on 2026-06-01; amend"):
        await report(did, TOWN, person, "店舗が浸水した", actor=ME)
    assert db_dump(rt.settings.db_path) == before
    # … it is amended on purpose: a revision, today's 届出日, the earlier text in the audit trail
    amended = await report(did, TOWN, person, "店舗が浸水した", amend=True, actor=ME)
    assert (amended.harm, amended.revision, amended.reported_on) == ("店舗が浸水した", 2, "2026-06-17")
    assert amended.amended_at is not None
    assert [r.harm for r in await rt.ledger.reports.reports(did) if r.resident_code == person] == ["店舗が浸水した"]
    trail = await rt.municipalities.audit_trail(TOWN)
    assert [(e.action, e.field, e.old_value, e.new_value, e.actor, e.interface) for e in trail[:2]] == [
        ("victim-report-amended", f"{did}/{person}", HARM, "店舗が浸水した", ME.name, "cli"),
        ("victim-report", f"{did}/{person}", None, HARM, ME.name, "cli")]


async def test_issued_at_the_counter_from_the_report(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    did = await disaster_id(rt)
    person, other = unreported(rt, 2)
    with pytest.raises(InvalidInput, match="reported no harm"):
        await rt.issuance.issue(other, "disaster-victim", {"disaster_id": did})
    with pytest.raises(InvalidInput, match="unknown option"):
        await rt.issuance.issue(person, "disaster-victim", {"scope": "self"})
    await rt.ledger.reports.report_harm(did, TOWN, person, HARM, reported_on="2026-05-20", actor=ME)
    doc = await rt.issuance.issue(person, "disaster-victim")  # the latest disaster reported
    assert doc.record.type == "disaster-victim" and doc.record.channel == "counter" and doc.record.fee == 0
    front = front_text(doc.pdf)
    name = q(rt, "SELECT name FROM residents WHERE resident_code = ?", person)[0][0]
    assert "被災証明書" in front and f"被災者氏名{flat(name)}" in front
    assert f"被害の内容{flat(HARM)}" in front and "届出日令和8年5月20日" in front
    assert "上記の者は、上記災害により被害を受けたことを届け出たことを証明する。" in front
    verdict = await rt.verification.verify_bytes(doc.pdf)
    assert verdict.status == "genuine" and verdict.details["type"] == "disaster-victim"
    looked = await rt.verification.lookup(str(doc.record.verification_code))
    assert looked["pages"][0]["title"] == "被災証明書"
    assert looked["pages"][0]["fields"]["被害の内容"] == HARM
    # what the certificate said stays what was signed, even after the report is amended
    await rt.ledger.reports.report_harm(did, TOWN, person, "店舗が浸水した", amend=True, actor=ME)
    assert (await rt.verification.verify_bytes(doc.pdf)).status == "genuine"
    again = await rt.issuance.issue(person, "disaster-victim", {"disaster_id": did})
    assert "被害の内容店舗が浸水した" in front_text(again.pdf)


@pytest.fixture
async def relay(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, Kiosk]]:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.tokens.issue("kiosk", "Seven Mart", actor=ME)
    try:
        async with aiohttp.ClientSession() as http:
            yield demo_runtime, Kiosk(server.url, token, http)
    finally:
        await server.stop()


async def test_issued_at_a_store_with_its_fee_and_settled(relay: tuple[Runtime, Kiosk]) -> None:
    rt, kiosk = relay
    did = await disaster_id(rt)
    person, other = unreported(rt, 2)
    await rt.ledger.reports.report_harm(did, TOWN, person, HARM, actor=ME)
    await rt.municipalities.set_fee(TOWN, "disaster-victim", 200, actor=ME)  # a fee of the town's own
    before = next(m for m in (await rt.settlement.settle(2026))["municipalities"] if m["code"] == TOWN)

    card = (await rt.pki.issue_card(TOWN, person, actor=ME)).pem
    status, s = await kiosk.session(card)
    assert status == 201 and {"type": "disaster-victim", "fee": 200} in s["certificates"]
    rid, pdf = await kiosk.flow(card, "disaster-victim", {"disaster_id": did}, key="v1")
    assert f"被害の内容{flat(HARM)}" in front_text(pdf)
    assert (await rt.verification.verify_bytes(pdf)).status == "genuine"
    assert q(rt, "SELECT type, channel, state, fee FROM issuances WHERE request_id = ?", rid) == [
        ("disaster-victim", "store", "printed", 200)]

    # refused before payment: someone with no report (422), a bad option (400)
    other_card = (await rt.pki.issue_card(TOWN, other, actor=ME)).pem
    _, s = await kiosk.session(other_card)
    status, err = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "disaster-victim"},
                                   {"Idempotency-Key": "v2"})
    assert status == 422 and err["error"]["code"] == "not_issuable" and "reported no harm" in err["error"]["message"]
    status, err = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "disaster-victim",
                                                         "options": {"disaster_id": "1"}}, {"Idempotency-Key": "v3"})
    assert status == 400 and err["error"]["code"] == "bad_options"

    after = next(m for m in (await rt.settlement.settle(2026))["municipalities"] if m["code"] == TOWN)
    assert after["certificates"]["disaster-victim"] == before["certificates"]["disaster-victim"] + 1
    assert after["billable"] == before["billable"] + 1
    assert after["fees_collected"] == before["fees_collected"] + 200
    assert after["commission"] == before["commission"] + 117

    # the village never set the fee: the default, 0
    assert (await rt.municipalities.get(VILLAGE)).detail()["fees"]["disaster-victim"] == 0
