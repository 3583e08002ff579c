from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.contribution import ContributionClass, contribution_class
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.fiscal import TOKYO
from bcl_console.domain.municipality import (
    Hosting,
    Kind,
    ServiceHours,
    State,
    closed_reason,
    in_year_end_closure,
    municipality_state,
    parse_hours,
    parse_kind,
    validate_population,
    validate_server_url,
)


def test_hours_parse_and_normalise() -> None:
    assert parse_hours("6:30", "23:00") == ServiceHours("06:30", "23:00")
    assert parse_hours("00:00", "24:00") == ServiceHours("00:00", "24:00")


@pytest.mark.parametrize(
    ("open_", "close", "reason"),
    [
        ("25:00", "23:00", "not a time of day"),
        ("06:30", "23:60", "not a time of day"),
        ("23:00", "06:30", "not after"),
        ("09:00", "09:00", "not after"),
        ("24:00", "24:00", "not a time of day"),
        ("6h", "23:00", "not HH:MM"),
        ("", "23:00", "not HH:MM"),
    ],
)
def test_impossible_hours_are_refused(open_: str, close: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_hours(open_, close)


@given(st.integers(0, 23 * 60 + 59), st.integers(1, 24 * 60))
def test_hours_contain_exactly_the_minutes_between(start: int, end: int) -> None:
    if end <= start:
        return
    hours = parse_hours(f"{start // 60}:{start % 60:02d}", f"{end // 60}:{end % 60:02d}")
    for minute in {start - 1, start, end - 1, end}:
        if 0 <= minute < 24 * 60:
            inside = hours.contains(time(minute // 60, minute % 60))
            assert inside == (start <= minute < end)


def test_year_end_closure() -> None:
    assert in_year_end_closure(date(2026, 12, 29))
    assert in_year_end_closure(date(2027, 1, 3))
    assert not in_year_end_closure(date(2026, 12, 28))
    assert not in_year_end_closure(date(2027, 1, 4))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def test_closed_reasons() -> None:
    hours = ServiceHours()
    live = date(2020, 1, 1)
    assert closed_reason(service_start=live, suspended=False, hours=hours, now=at("2026-06-17T10:00")) is None
    assert closed_reason(service_start=live, suspended=True, hours=hours, now=at("2026-06-17T10:00")) == "suspended"
    assert closed_reason(service_start=None, suspended=False, hours=hours, now=at("2026-06-17T10:00")) == "not-live"
    assert closed_reason(service_start=date(2027, 1, 1), suspended=False, hours=hours, now=at("2026-06-17T10:00")) == "not-live"
    assert closed_reason(service_start=live, suspended=False, hours=hours, now=at("2026-06-17T06:29")) == "outside-hours"
    assert closed_reason(service_start=live, suspended=False, hours=hours, now=at("2026-06-17T23:00")) == "outside-hours"
    assert closed_reason(service_start=live, suspended=False, hours=hours, now=at("2026-12-30T10:00")) == "year-end-closure"


def test_state() -> None:
    today = date(2026, 6, 17)
    assert municipality_state(date(2026, 6, 17), False, today) is State.LIVE
    assert municipality_state(date(2026, 6, 18), False, today) is State.ONBOARDING
    assert municipality_state(None, False, today) is State.ONBOARDING
    assert municipality_state(date(2020, 1, 1), True, today) is State.SUSPENDED


def test_kind_population_and_url_rules() -> None:
    assert parse_kind("town") is Kind.TOWN
    with pytest.raises(InvalidInput, match="unknown kind 'borough'"):
        parse_kind("borough")
    with pytest.raises(InvalidInput, match="negative"):
        validate_population(-1)
    with pytest.raises(InvalidInput, match="own-server hosting needs"):
        validate_server_url(Hosting.OWN_SERVER, None)
    with pytest.raises(InvalidInput, match="only for own-server"):
        validate_server_url(Hosting.BCL, "http://x")
    assert validate_server_url(Hosting.OWN_SERVER, "http://127.0.0.1:8471/api/") == "http://127.0.0.1:8471/api"


@pytest.mark.parametrize(
    ("kind", "population", "expected"),
    [
        (Kind.DESIGNATED_CITY, 1_000_000, ContributionClass.DESIGNATED_LARGE),
        (Kind.DESIGNATED_CITY, 999_999, ContributionClass.DESIGNATED),
        (Kind.CITY, 150_000, ContributionClass.CITY_150K),
        (Kind.CITY, 149_999, ContributionClass.CITY_50K),
        (Kind.SPECIAL_WARD, 50_000, ContributionClass.CITY_50K),
        (Kind.CITY, 49_999, ContributionClass.CITY_30K),
        (Kind.CITY, 30_000, ContributionClass.CITY_30K),
        (Kind.CITY, 29_999, ContributionClass.CITY_SMALL),
        (Kind.TOWN, 80_000, ContributionClass.TOWN_VILLAGE),
        (Kind.VILLAGE, 100, ContributionClass.TOWN_VILLAGE),
    ],
)
def test_contribution_class_boundaries(kind: Kind, population: int, expected: ContributionClass) -> None:
    assert contribution_class(kind, population) is expected
