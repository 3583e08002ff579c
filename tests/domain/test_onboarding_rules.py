"""The onboarding schedule template, plans laid back from a service start, stage order."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.domain.municipality import Hosting
from bcl_console.domain.onboarding import (
    Stage,
    StepStatus,
    check_manual_done,
    go_live_blockers,
    lead_warning,
    make_plan,
    missing_prerequisites,
    parse_stage,
    parse_template,
    required_stages,
    step_status,
)
from bcl_console.services.onboarding.service import schedule_template

TODAY = date(2026, 6, 17)


def keys(hosting: Hosting = Hosting.BCL, seal: bool = True, start: date = date(2026, 12, 1)) -> list[str]:
    return [s.key for s in make_plan(schedule_template(), service_start=start, made_on=TODAY,
                                     hosting=hosting, offers_seal=seal)]


def test_the_plan_holds_every_step_of_the_schedule_in_order() -> None:
    assert keys() == [
        "materials-request", "manuals-received", "review-personal-info", "ordinance-fee-reduction",
        "ordinance-seal", "procedure-fee-settlement", "plan-bcp", "plan-disaster-support", "budget",
        "terms-signed", "bcl-application", "system-modification", "linkage-server", "linkage-test",
        "store-application", "stage2-test", "stage3-test", "operation-test", "real-store-test", "service-start",
    ]


def test_the_seal_ordinance_only_when_seal_certificates_are_offered() -> None:
    assert "ordinance-seal" not in keys(seal=False)


def test_own_server_municipalities_do_stage_1_instead_of_the_linkage_test() -> None:
    own = keys(Hosting.OWN_SERVER)
    assert "stage1-test" in own and "linkage-test" not in own and "linkage-server" not in own
    assert required_stages(Hosting.BCL) == (Stage.LINKAGE, Stage.STAGE2, Stage.STAGE3, Stage.OPERATION,
                                            Stage.REAL_STORE)
    assert Stage.STAGE1 in required_stages(Hosting.OWN_SERVER)


def test_due_dates_count_back_from_the_service_start() -> None:
    start = date(2026, 12, 1)
    plan = {s.key: s for s in make_plan(schedule_template(), service_start=start, made_on=TODAY,
                                        hosting=Hosting.BCL, offers_seal=True)}
    assert plan["service-start"].due_on == start
    assert plan["real-store-test"].due_on == start - timedelta(days=30)  # about one month before
    assert plan["materials-request"].due_on == start - timedelta(days=150)  # about five months
    assert plan["system-modification"].starts_on == start - timedelta(days=150)
    assert plan["system-modification"].due_on == start - timedelta(days=90)  # 5 → 3 months before
    assert all(s.fits for s in plan.values())


def test_a_short_lead_is_allowed_but_flags_the_steps_that_cannot_fit() -> None:
    start = TODAY + timedelta(days=60)
    plan = make_plan(schedule_template(), service_start=start, made_on=TODAY, hosting=Hosting.BCL, offers_seal=True)
    cannot = [s.key for s in plan if not s.fits]
    assert cannot[0] == "materials-request" and "stage2-test" not in cannot
    assert "budget" in cannot and "real-store-test" not in cannot
    assert lead_warning(start, TODAY) is not None
    assert lead_warning(TODAY + timedelta(days=200), TODAY) is None


def test_a_service_start_in_the_past_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not after today"):
        make_plan(schedule_template(), service_start=TODAY, made_on=TODAY, hosting=Hosting.BCL, offers_seal=True)


@given(st.dates(min_value=date(2026, 6, 18), max_value=date(2035, 1, 1)), st.booleans(), st.booleans())
def test_due_dates_never_go_backwards(start: date, seal: bool, own: bool) -> None:
    hosting = Hosting.OWN_SERVER if own else Hosting.BCL
    plan = make_plan(schedule_template(), service_start=start, made_on=TODAY, hosting=hosting, offers_seal=seal)
    dues = [s.due_on for s in plan]
    assert dues == sorted(dues) and dues[-1] == start
    assert [s.seq for s in plan] == list(range(1, len(plan) + 1))
    assert all(s.starts_on <= s.due_on for s in plan)


def test_step_status() -> None:
    due = date(2026, 7, 1)
    assert step_status(due, date(2026, 6, 1), TODAY) is StepStatus.DONE
    assert step_status(due, None, date(2026, 7, 2)) is StepStatus.LATE
    assert step_status(due, None, date(2026, 6, 25)) is StepStatus.DUE
    assert step_status(due, None, TODAY) is StepStatus.UPCOMING


def test_stage_order_and_the_gate() -> None:
    assert missing_prerequisites(Stage.STAGE2, Hosting.BCL, set()) == [Stage.LINKAGE]
    assert missing_prerequisites(Stage.STAGE2, Hosting.OWN_SERVER, set()) == [Stage.STAGE1]
    assert missing_prerequisites(Stage.REAL_STORE, Hosting.BCL, {Stage.LINKAGE, Stage.STAGE2}) == [
        Stage.STAGE3, Stage.OPERATION]
    assert missing_prerequisites(Stage.LINKAGE, Hosting.BCL, set()) == []
    assert go_live_blockers(Hosting.BCL, False, set(), False) == []  # no plan: in service
    assert go_live_blockers(Hosting.BCL, True, set(), True) == []  # override
    assert go_live_blockers(Hosting.BCL, True, set(required_stages(Hosting.BCL)), False) == []
    assert go_live_blockers(Hosting.BCL, True, {Stage.LINKAGE}, False)[0] is Stage.STAGE2


def test_unknown_names_are_clear_errors() -> None:
    with pytest.raises(InvalidInput, match="unknown stage 'stage9'"):
        parse_stage("stage9")
    with pytest.raises(NotFound, match="unknown step 'lunch'"):
        schedule_template().step("lunch")
    stage_step = schedule_template().step("stage2-test")
    with pytest.raises(Conflict, match="completed by passing the stage2 test stage"):
        check_manual_done(stage_step, None)


def test_the_template_is_checked_when_read() -> None:
    good = {"name": "t", "version": 1, "steps": [
        {"key": "a", "phase": "p", "days_before": 10, "title_ja": "あ", "title_en": "A"},
        {"key": "b", "phase": "p", "days_before": 20, "title_ja": "い", "title_en": "B"}]}
    with pytest.raises(InvalidInput, match=r"step 2 \(b\): steps must be in order"):
        parse_template(json.dumps(good))
    with pytest.raises(InvalidInput, match="not JSON"):
        parse_template("{")
    good["steps"][1]["days_before"] = 5  # type: ignore[index]
    good["steps"][1]["stage"] = "stage7"  # type: ignore[index]
    with pytest.raises(InvalidInput, match="unknown stage"):
        parse_template(json.dumps(good))
