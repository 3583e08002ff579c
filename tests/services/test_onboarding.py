"""Onboarding plans, test stages run for real, and the go-live gate (issue #7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.http.app import start_http
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import execute, query
from tests.services.relay_client import Kiosk

ME = Actor("tester", "cli")
CITY = "992054"  # 東浜市: mid-testing in the demo (operation failed)
TOWN = "993832"  # 西ヶ谷町: just applied


async def test_the_demo_city_is_mid_testing_with_a_failed_stage(demo_runtime: Runtime) -> None:
    view = await demo_runtime.onboarding.show(CITY)
    stages = {s.stage.value: s.outcome for s in view.stages}
    assert stages == {"linkage": "passed", "stage1": "not-required", "stage2": "passed", "stage3": "passed",
                      "operation": "failed", "real-store": "not-run"}
    operation = next(s for s in view.stages if s.stage.value == "operation").latest
    assert operation is not None and "plan-bcp" in operation.reason
    assert operation.evidence["during_drill"]["status"] == 503
    assert operation.evidence["during_drill"]["code"] == "failure_drill"
    assert operation.evidence["after_drill"]["status"] == 201
    linkage = next(s for s in view.stages if s.stage.value == "linkage").latest
    assert linkage is not None and linkage.evidence["sampled"] == 20 and linkage.evidence["batch_sequence"] == 2
    assert "batch 2 (full) received 2026-06-17 10:00 JST over HTTP" in linkage.log
    steps = {s.row.key: s for s in view.steps}
    assert steps["stage2-test"].row.done_by == "teststage"  # a passed stage ticks its step
    assert steps["operation-test"].row.done_on is None
    town = await demo_runtime.onboarding.show(TOWN)
    assert town.status.value == "on-track" and town.steps[0].row.done_on is not None
    lines = {line.code: line.status for line in await demo_runtime.onboarding.progress()}
    assert lines["993611"] == "in-service" and lines[TOWN] == "on-track" and lines[CITY] == "late"


async def test_stage_issuances_are_never_billed(demo_runtime: Runtime) -> None:
    rows = query(demo_runtime.settings.db_path,
                 "SELECT channel, count(*), sum(fee) FROM issuances WHERE municipality_code = ? GROUP BY channel",
                 CITY)
    assert dict((c, (n, fee)) for c, n, fee in rows) == {"test-stage-2": (3, 0), "test-stage-3": (3, 0)}
    doc = await demo_runtime.settlement.settle(2026, close=False, out=None, actor=ME)
    city = next(m for m in doc["municipalities"] if m["code"] == CITY)
    assert city["billable"] == 0


async def test_a_city_taken_to_live_through_every_stage(demo_runtime: Runtime, clock: FixedClock) -> None:
    rt = demo_runtime
    card = (rt.settings.data_dir / "cards").glob(f"{CITY}-*.pem")
    card_pem = next(card).read_bytes()
    http = await start_http(rt, "127.0.0.1", 0)
    token = await rt.tokens.issue("kiosk", "ローソム", actor=ME)
    async with aiohttp.ClientSession() as session:
        kiosk = Kiosk(http.url, token, session)
        # before the start date: not live
        status, body = await kiosk.session(card_pem)
        assert status == 503 and body["error"]["code"] == "not_live"

        with pytest.raises(Conflict, match="needs operation to pass first"):
            await rt.teststages.run(CITY, "real-store", actor=ME)
        await rt.onboarding.done(CITY, "plan-bcp", note="BCP計画 第2版", actor=ME)
        await rt.onboarding.done(CITY, "plan-disaster-support", actor=ME)
        run = await rt.teststages.run(CITY, "operation", actor=ME)
        assert run.outcome.value == "passed", run.reason
        run = await rt.teststages.run(CITY, "real-store", actor=ME, operator="ローソム")
        assert run.outcome.value == "passed", run.reason
        item = run.evidence["issuances"][0]
        assert item["channel"] == "real-store-test" and item["fee"] == 300 and item["verdict"] == "genuine"

        # every stage passed, but the service start has not come
        view = await rt.municipalities.get(CITY)
        assert view.state.value == "onboarding"
        start = (await rt.onboarding.show(CITY)).plan.service_start
        clock.set(datetime.fromisoformat(f"{start.isoformat()}T10:00:00+09:00"))
        status, body = await kiosk.session(card_pem)
        assert status == 201, body
        plan = await rt.onboarding.show(CITY)
        assert plan.status.value == "live"
        assert next(s for s in plan.steps if s.row.key == "service-start").status.value == "done"

    # the real-store test is settled like production; the stage tests are not
    fy = start.year if start.month >= 4 else start.year - 1
    doc = await rt.settlement.settle(fy, close=False, out=None, actor=ME)
    city = next(m for m in doc["municipalities"] if m["code"] == CITY)
    assert city["billable"] == 1 and city["fees_collected"] == 300


async def test_the_gate_holds_after_the_start_date_until_stages_pass_or_an_override(
        demo_runtime: Runtime, clock: FixedClock) -> None:
    rt = demo_runtime
    start = (await rt.onboarding.show(CITY)).plan.service_start
    clock.set(datetime.fromisoformat(f"{start.isoformat()}T10:00:00+09:00") + timedelta(days=1))
    view = await rt.municipalities.get(CITY)
    assert view.state.value == "onboarding" and view.closed_reason == "not-live"
    assert view.municipality.awaiting_stages == ("operation", "real-store")
    with pytest.raises(InvalidInput, match="needs a reason"):
        await rt.onboarding.override(CITY, "  ", actor=ME)
    plan = await rt.onboarding.override(CITY, "県の指示により先行開始", actor=ME)
    assert plan.as_dict()["override"]["reason"] == "県の指示により先行開始"
    assert (await rt.municipalities.get(CITY)).state.value == "live"
    audit = await rt.municipalities.audit_trail(CITY)
    assert audit[0].action == "go-live-override" and audit[0].new_value == "県の指示により先行開始"
    await rt.onboarding.override(CITY, None, actor=ME)
    assert (await rt.municipalities.get(CITY)).state.value == "onboarding"


async def test_a_new_municipality_from_add_to_plan(runtime: Runtime) -> None:
    rt = runtime
    await rt.municipalities.add(code="011002", name="札幌市", kind="designated-city", population=1_900_000,
                                actor=ME)
    with pytest.raises(InvalidInput, match="not after today"):
        await rt.onboarding.plan("011002", "2026-06-17", actor=ME)
    with pytest.raises(InvalidInput, match="not a date"):
        await rt.onboarding.plan("011002", "next spring", actor=ME)
    plan = await rt.onboarding.plan("011002", "2026-09-01", offers_seal=False, actor=ME)
    assert plan.warning is not None and "materials-request" in plan.cannot_fit
    assert "ordinance-seal" not in [s.row.key for s in plan.steps]
    assert (await rt.municipalities.get("011002")).municipality.service_start.isoformat() == "2026-09-01"
    with pytest.raises(Conflict, match="already has a plan"):
        await rt.onboarding.plan("011002", "2026-12-01", actor=ME)
    await rt.onboarding.done("011002", "budget", actor=ME)
    replanned = await rt.onboarding.plan("011002", "2026-12-01", replace=True, actor=ME)
    assert next(s for s in replanned.steps if s.row.key == "budget").row.done_on is not None
    assert not replanned.cannot_fit
    await rt.municipalities.add(code="012025", name="函館市", kind="city", population=240_000,
                                service_start="2020-04-01", actor=ME)
    with pytest.raises(Conflict, match="already in service"):
        await rt.onboarding.plan("012025", "2026-12-01", actor=ME)
    assert (await rt.municipalities.get("012025")).state.value == "live"  # no plan: in service


async def test_bad_input_changes_nothing(demo_runtime: Runtime, db_dump: Callable[[Path], list[str]]) -> None:
    rt = demo_runtime
    before = db_dump(rt.settings.db_path)
    with pytest.raises(NotFound, match="unknown step 'lunch'"):
        await rt.onboarding.done(TOWN, "lunch", actor=ME)
    with pytest.raises(Conflict, match="already done"):
        await rt.onboarding.done(TOWN, "materials-request", actor=ME)
    with pytest.raises(Conflict, match="completed by passing"):
        await rt.onboarding.done(TOWN, "linkage-test", actor=ME)
    with pytest.raises(InvalidInput, match="unknown stage"):
        await rt.teststages.run(TOWN, "stage9", actor=ME)
    with pytest.raises(Conflict, match="stage stage2 needs linkage to pass first"):
        await rt.teststages.run(TOWN, "stage2", actor=ME)
    with pytest.raises(Conflict, match="has not run yet"):
        await rt.teststages.confirm(TOWN, "stage3", actor=ME)
    with pytest.raises(Conflict, match="is passed, not awaiting confirmation"):
        await rt.teststages.confirm(CITY, "stage3", actor=ME)
    with pytest.raises(NotFound, match="no onboarding plan"):
        await rt.teststages.run("993611", "linkage", actor=ME)
    assert db_dump(rt.settings.db_path) == before


async def test_the_linkage_test_finds_data_that_does_not_match(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    run = await rt.teststages.run(TOWN, "linkage", actor=ME)
    assert run.outcome.value == "failed" and "no batch has arrived" in run.reason
    # the city's data changed in the intermediate DB behind the batch's back
    await execute(rt, "UPDATE residents SET name = '改ざん 太郎' WHERE municipality_code = ?", CITY)
    run = await rt.teststages.run(CITY, "linkage", actor=ME)
    assert run.outcome.value == "failed" and "20 of 20 sampled residents differ" in run.reason
    # a failed linkage test closes the gate again for the stages after it
    with pytest.raises(Conflict, match="needs linkage"):
        await rt.teststages.run(CITY, "stage2", actor=ME)


async def test_stage_3_waits_for_confirmation(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    run = await rt.teststages.run(CITY, "stage3", actor=ME)
    assert run.outcome.value == "awaiting-confirmation"
    assert sorted(i["operator"] for i in run.evidence["issuances"]) == sorted(await rt.teststages.operators())
    assert all(i["channel"] == "test-stage-3" and i["verdict"] == "genuine" for i in run.evidence["issuances"])
    confirmed = await rt.teststages.confirm(CITY, "stage3", actor=ME, note="内容確認済")
    assert confirmed.outcome.value == "passed" and confirmed.confirmed_by == "tester"


async def test_reminders_mark_due_and_late_steps_once(demo_runtime: Runtime, clock: FixedClock) -> None:
    rt = demo_runtime
    outcome, detail = await rt.scheduler.run_now("onboarding-reminders")
    assert outcome == "ok"
    given = await rt.onboarding.reminders()
    late = {(code, step) for _, code, step, kind, _, _ in given if kind == "late"}
    assert (CITY, "plan-bcp") in late
    assert await rt.onboarding.remind() == []  # nothing new the same day
    clock.advance(timedelta(days=30))
    again = await rt.onboarding.remind()
    assert (TOWN, "manuals-received", "late") in again or any(c == TOWN for c, _, _ in again)
