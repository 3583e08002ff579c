"""Disaster-victim support (issue #8): a full exercise through the services and HTTP."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.http.app import start_http
from bcl_console.services.disaster.service import AssessmentsRejected
from bcl_console.services.issuance.pki import certificate_pem, sign_nonce
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store.api import LedgerEntry
from tests.conftest import query
from tests.services.relay_client import Kiosk

ME = Actor("tester", "cli")
TOWN = "993611"  # 北山町, the demo's flooded town


def households(rt: Runtime, n: int, where: str = "1=1") -> list[tuple[str, str]]:
    """(household, head resident) of active households of the town."""
    sql = ("SELECT household_number, resident_code FROM residents WHERE municipality_code = ? "  # noqa: S608
           f"AND relationship = '世帯主' AND status = 'active' AND {where} ORDER BY household_number LIMIT ?")
    return [(h, r) for h, r in query(rt.settings.db_path, sql, TOWN, n)]


async def test_the_demo_exercise_is_under_way(demo_runtime: Runtime) -> None:
    view = (await demo_runtime.ledger.declarations.disasters())[0].as_dict()
    assert sum(view["households_by_class"].values()) == 150
    assert [s["occupancy"] for s in view["shelters"]] == [23, 22]
    assert view["applications_waiting"] == 5
    assert view["support"]["paid"] == 4 and view["support"]["applied"] == 3
    plans = [p for p in await demo_runtime.ledger.plans.needs_help(TOWN) if p.supporter]
    assert len(plans) == 12


async def test_declare_assess_with_history_and_close(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    with pytest.raises(InvalidInput, match="in the future"):
        await rt.ledger.declarations.declare("地震", "earthquake", "2026-07-01", [TOWN], actor=ME)
    with pytest.raises(InvalidInput, match="unknown disaster kind"):
        await rt.ledger.declarations.declare("地震", "meteor", "2026-06-01", [TOWN], actor=ME)
    with pytest.raises(NotFound, match="is not registered"):
        await rt.ledger.declarations.declare("地震", "earthquake", "2026-06-01", ["011002"], actor=ME)
    d = await rt.ledger.declarations.declare("令和8年6月東雲県地震", "earthquake", "R8.6.10", [TOWN, "994821"], actor=ME)
    assert d.disaster.occurred_on.isoformat() == "2026-06-10" and d.disaster.municipalities == ("993611", "994821")
    (household, _), = households(rt, 1)
    first = await rt.ledger.assessments.assess(d.disaster.id, TOWN, household, ratio=45, inspector="調査員 中野", actor=ME)
    assert first.damage_class == "大規模半壊" and first.revision == 1
    again = await rt.ledger.assessments.assess(d.disaster.id, TOWN, household, damage_class="全壊", inspector="調査員 石井",
                                   assessed_on="2026-06-15", actor=ME)
    assert again.revision == 2 and [h.current for h in again.history] == [False, True]
    assert (await rt.ledger.declarations.get(d.disaster.id)).by_class == {"全壊": 1}
    with pytest.raises(InvalidInput, match="outside 0–100"):
        await rt.ledger.assessments.assess(d.disaster.id, TOWN, household, ratio=120, inspector="x", actor=ME)
    with pytest.raises(InvalidInput, match="is 半壊, not 全壊"):
        await rt.ledger.assessments.assess(d.disaster.id, TOWN, household, ratio=25, damage_class="全壊", inspector="x",
                               actor=ME)
    with pytest.raises(NotFound, match="household 99999999 is not known"):
        await rt.ledger.assessments.assess(d.disaster.id, TOWN, "99999999", ratio=25, inspector="x", actor=ME)
    closed = await rt.ledger.declarations.close(d.disaster.id, actor=ME)
    assert closed.disaster.closed_at is not None
    with pytest.raises(Conflict, match="is closed"):
        await rt.ledger.assessments.assess(d.disaster.id, TOWN, household, ratio=60, inspector="x", actor=ME)


async def test_bulk_import_is_all_or_nothing_with_every_problem(demo_runtime: Runtime, tmp_path: Path,
                                                                db_dump: Callable[[Path], list[str]]) -> None:
    rt = demo_runtime
    d = await rt.ledger.declarations.declare("台風", "typhoon", "2026-06-01", [TOWN], actor=ME)
    hh = households(rt, 3)
    bad = tmp_path / "bad.csv"
    bad.write_text("municipality_code,household_number,damage_ratio,damage_class,inspector,assessed_on\n"
                   f"{TOWN},{hh[0][0]},55,,調査員 A,2026-06-05\n"
                   f"{TOWN},{hh[1][0]},150,,調査員 A,2026-06-05\n"
                   f"{TOWN},99999999,20,,調査員 A,2026-06-05\n"
                   f"{TOWN},{hh[0][0]},10,,調査員 A,2026-06-05\n"
                   f"{TOWN},{hh[2][0]},,大破,調査員 A,2026-06-05\n", encoding="utf-8")
    before = db_dump(rt.settings.db_path)
    with pytest.raises(AssessmentsRejected) as caught:
        await rt.ledger.assessments.import_assessments(d.disaster.id, bad, actor=ME)
    problems = [(p.line, p.column, p.reason) for p in caught.value.problems.items]
    assert [(line, col) for line, col, _ in problems] == [(3, "ratio"), (4, "household"), (5, "household_number"),
                                                          (6, "class")]
    assert "150 is outside 0–100" in problems[0][2] and "appears twice" in problems[2][2]
    assert db_dump(rt.settings.db_path) == before
    good = tmp_path / "good.csv"
    good.write_text("household_number,municipality_code,inspector,damage_class,damage_ratio\n" + "".join(
        f"{h},{TOWN},調査員 B,,{r}\n" for (h, _), r in zip(hh, (55, 35, 5), strict=True)), encoding="cp932")
    result = await rt.ledger.assessments.import_assessments(d.disaster.id, good, actor=ME)
    assert result.imported == 3
    assert (await rt.ledger.declarations.get(d.disaster.id)).by_class == {"全壊": 1, "中規模半壊": 1,
                                                              "準半壊に至らない（一部損壊）": 1}


async def test_ledger_extracts_and_csv_export(demo_runtime: Runtime, tmp_path: Path) -> None:
    rt = demo_runtime
    everyone = await rt.ledger.victims.ledger(1)
    half_or_worse = await rt.ledger.victims.ledger(1, min_class="半壊")
    assert 0 < len(half_or_worse) < len(everyone)
    assert {p.damage_class for p in half_or_worse} <= {"全壊", "大規模半壊", "中規模半壊", "半壊"}
    helped = await rt.ledger.victims.ledger(1, needs_help=True)
    assert all(p.needs_evacuation_help and p.damage_class != "準半壊に至らない（一部損壊）" for p in helped)
    sheltered = await rt.ledger.victims.ledger(1, whereabouts="shelter")
    assert len(sheltered) == 45 and all(p.shelter for p in sheltered)
    out = tmp_path / "ledger.csv"
    doc = await rt.ledger.victims.export_ledger(1, out, min_class="半壊")
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert doc.people == len(lines) - 1 == len(half_or_worse)
    assert lines[0].startswith("municipality_code,household_number,address,damage_class")


async def test_shelters_check_in_and_out_by_hand(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    small = await rt.ledger.centres.open_shelter(1, TOWN, "集会所", 1, actor=ME)
    # heads of households assessed in disaster 1 (so on its ledger) who were never sheltered
    (_, a), (_, b) = households(rt, 2, "resident_code NOT IN (SELECT resident_code FROM shelter_stays) AND "
                                       "household_number IN (SELECT d.household_number FROM damage_assessments d "
                                       "WHERE d.disaster_id = 1 AND d.current = 1 "
                                       "AND d.municipality_code = residents.municipality_code)")

    async def on_ledger(resident: str) -> LedgerEntry:
        (person,) = [p for p in await rt.ledger.victims.ledger(1) if p.resident_code == resident]
        return person

    assert (await on_ledger(a)).whereabouts == "home" and (await on_ledger(a)).shelter is None
    done = await rt.ledger.centres.check_in(small.id, TOWN, a, actor=ME)
    assert done.occupancy == 1
    person = await on_ledger(a)
    assert person.whereabouts == "shelter" and person.shelter == "集会所"
    with pytest.raises(Conflict, match="is full"):
        await rt.ledger.centres.check_in(small.id, TOWN, b, actor=ME)
    with pytest.raises(Conflict, match="already checked in at 集会所"):
        await rt.ledger.centres.check_in(1, TOWN, a, actor=ME)
    with pytest.raises(Conflict, match="people are still checked in"):
        await rt.ledger.centres.close_shelter(small.id, actor=ME)
    await rt.ledger.centres.check_out(TOWN, a, whereabouts="relatives", actor=ME)
    person = await on_ledger(a)
    assert person.whereabouts == "relatives" and person.shelter is None
    await rt.ledger.centres.close_shelter(small.id, actor=ME)
    with pytest.raises(Conflict, match="is closed"):
        await rt.ledger.centres.check_in(small.id, TOWN, b, actor=ME)
    with pytest.raises(InvalidInput, match="capacity 0"):
        await rt.ledger.centres.open_shelter(1, TOWN, "x", 0, actor=ME)


async def test_support_payments_are_decided_and_totalled(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    rows = query(rt.settings.db_path, "SELECT household_number, damage_class FROM damage_assessments WHERE "
                 "disaster_id = 1 AND current = 1 AND household_number NOT IN (SELECT household_number FROM "
                 "support_applications) ORDER BY household_number")
    partial = next(h for h, c in rows if c == "準半壊")
    (total, _), = households(rt, 1, "household_number NOT IN (SELECT household_number FROM damage_assessments)")
    with pytest.raises(InvalidInput, match="has no damage assessment"):
        await rt.ledger.payments.apply_support(1, TOWN, total, method="repair", actor=ME)
    await rt.ledger.assessments.assess(1, TOWN, total, ratio=60, inspector="調査員", actor=ME)
    with pytest.raises(InvalidInput, match="receives no reconstruction support"):
        await rt.ledger.payments.apply_support(1, TOWN, partial, method="build", actor=ME)
    app = await rt.ledger.payments.apply_support(1, TOWN, total, method="repair", actor=ME)
    members = app.members
    expected = 2_000_000 if members > 1 else 1_500_000
    assert app.total == expected and app.state == "applied"
    with pytest.raises(Conflict, match="already has support application"):
        await rt.ledger.payments.apply_support(1, TOWN, total, actor=ME)
    with pytest.raises(Conflict, match="only an approved one can be paid"):
        await rt.ledger.payments.decide_support(app.id, "pay", actor=ME)
    await rt.ledger.payments.decide_support(app.id, "approve", actor=ME)
    paid = await rt.ledger.payments.decide_support(app.id, "pay", actor=ME)
    assert paid.state == "paid" and paid.paid_at
    view = await rt.ledger.declarations.get(1)
    assert view.support["paid"] == 5


async def test_plans_are_flagged_never_dropped_when_linkage_changes_people(demo_runtime: Runtime,
                                                                           tmp_path: Path) -> None:
    rt = demo_runtime
    people = await rt.ledger.plans.needs_help(TOWN)
    planned = [p for p in people if p.supporter]
    moved = planned[0].resident_code
    # the town's next linkage batch: a delta that moves one planned person out
    export = tmp_path / "full"
    await rt.linkage.export(TOWN, export, sequence=2)
    result = await rt.linkage.link(export)
    assert result.outcome == "applied"
    delta = tmp_path / "delta"
    delta.mkdir()
    with (export / "residents.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        row = next(r for r in reader if r["resident_code"] == moved)
    row.update({"status": "moved-out", "status_date": "2026-06-10", "change": "U"})
    files = {"residents.csv": write_csv(delta / "residents.csv", [*header, "change"],
                                        [[row[c] for c in [*header, "change"]]])}
    write_manifest(delta, municipality_code=TOWN, sequence=3, kind="delta", created_at="2026-06-17T09:00:00+09:00",
                   files=files)
    result = await rt.linkage.link(delta)
    assert result.outcome == "applied", result.problems
    assert result.counts.get("plans_flagged") == 1
    after = {p.resident_code: p for p in await rt.ledger.plans.needs_help(TOWN)}
    assert moved in after and "moved-out" in (after[moved].review_reason or "")
    assert after[moved].supporter == planned[0].supporter  # kept
    assert sum(1 for p in after.values() if p.supporter) == len(planned)
    await rt.ledger.plans.set_plan(TOWN, planned[1].resident_code, supporter="新しい支援者", destination="公民館",
                             actor=ME)
    replanned = {p.resident_code: p for p in await rt.ledger.plans.needs_help(TOWN)}[planned[1].resident_code]
    assert replanned.review_reason is None


async def _card_call(session: aiohttp.ClientSession, base: str, prefix: str, path: str, card: bytes,
                     extra: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    async with session.post(f"{base}/{prefix}/v1/challenges", headers=headers) as r:
        assert r.status == 201, await r.text()
        challenge = await r.json()
    body = {"challenge_id": challenge["challenge_id"], "certificate": certificate_pem(card),
            "signature": sign_nonce(card, challenge["nonce"]), **extra}
    async with session.post(f"{base}/{prefix}/v1/{path}", json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_shelter_terminals_and_residents_use_the_card(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    http = await start_http(rt, "127.0.0.1", 0)
    cards = sorted((rt.settings.data_dir / "cards").glob(f"{TOWN}-*.pem"))
    revoked = next(c for c in cards if c.name.endswith("-revoked.pem")).read_bytes()
    in_centre = {r for (r,) in query(rt.settings.db_path, "SELECT resident_code FROM shelter_stays")}
    card_path = next(c for c in cards if not c.name.endswith("-revoked.pem")
                     and c.stem.split("-")[1] not in in_centre)
    card, resident = card_path.read_bytes(), card_path.stem.split("-")[1]
    token = await rt.tokens.issue("shelter", "受付1", actor=ME)
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{http.url}/shelter/v1/challenges") as r:
            assert r.status == 401
        kiosk_token = await rt.tokens.issue("kiosk", "ローソム", actor=ME)
        async with session.post(f"{http.url}/shelter/v1/challenges",
                                headers={"Authorization": f"Bearer {kiosk_token}"}) as r:
            assert r.status == 401  # a kiosk token is not a shelter terminal's
        status, doc = await _card_call(session, http.url, "shelter", "checkins", card, {"shelter_id": 2}, auth)
        assert status == 201 and doc["shelter"]["id"] == 2 and doc["occupancy"] == 23
        status, doc = await _card_call(session, http.url, "shelter", "checkins", card, {"shelter_id": 1}, auth)
        assert status == 409 and "already checked in" in doc["error"]["message"]
        status, doc = await _card_call(session, http.url, "shelter", "checkins", revoked, {"shelter_id": 1}, auth)
        assert status == 403 and doc["error"]["code"] == "revoked"
        status, doc = await _card_call(session, http.url, "shelter", "checkins", card, {"shelter_id": "x"}, auth)
        assert status == 400
        status, doc = await _card_call(session, http.url, "shelter", "checkouts", card, {"whereabouts": "relatives"},
                                       auth)
        assert status == 200 and doc["whereabouts"] == "relatives"

        status, doc = await _card_call(session, http.url, "resident", "applications", card, {"disaster_id": 1}, {})
        assert status == 201 and doc["state"] == "waiting"
        status, doc = await _card_call(session, http.url, "resident", "applications", card, {"disaster_id": 1}, {})
        assert status == 409
        status, doc = await _card_call(session, http.url, "resident", "applications", card, {"disaster_id": 99}, {})
        assert status == 404
        application = (await rt.ledger.requests.applications("waiting"))[-1]
        assert application.resident_code == resident
        household = query(rt.settings.db_path, "SELECT household_number FROM residents WHERE resident_code = ?",
                          resident)[0][0]
        assessed = query(rt.settings.db_path, "SELECT 1 FROM damage_assessments WHERE household_number = ? "
                         "AND municipality_code = ?", household, TOWN)
        if not assessed:
            with pytest.raises(InvalidInput, match="no damage assessment"):
                await rt.ledger.requests.decide_application(application.id, True, actor=ME)
            await rt.ledger.assessments.assess(1, TOWN, household, ratio=45, inspector="調査員", actor=ME)
        approved = await rt.ledger.requests.decide_application(application.id, True, actor=ME)
        assert approved.state == "approved"
        # the disaster certificate is then issued at a store, through the relay
        kiosk = Kiosk(http.url, kiosk_token, session)
        _, pdf = await kiosk.flow(card, "disaster", {"disaster_id": 1}, key="disaster-1")
        assert pdf.startswith(b"%PDF")
        verdict = await rt.verification.verify_bytes(pdf)
        assert verdict.status == "genuine" and verdict.details["type"] == "disaster"
