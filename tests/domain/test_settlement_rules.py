from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.municipality import Hosting, Kind
from bcl_console.domain.settlement import (
    annual_contribution,
    contribution,
    is_billable,
    money,
    months_participating,
)


def test_worked_examples_of_the_issue() -> None:
    # a town joining BCL in October FY2025: 345,481 x 6 / 12, floored
    assert contribution(Kind.TOWN, 8000, Hosting.BCL, 2025, date(2025, 10, 1)) == 172_740
    assert contribution(Kind.TOWN, 8000, Hosting.BCL, 2025, date(2025, 10, 31)) == 172_740
    # a city of 29,999 on BCL: the reduction only from FY2023
    assert annual_contribution(Kind.CITY, 29_999, Hosting.BCL, 2022) == 2_218_741
    assert annual_contribution(Kind.CITY, 29_999, Hosting.BCL, 2023) == 1_873_259
    assert annual_contribution(Kind.CITY, 29_999, Hosting.OWN_SERVER, 2023) == 2_218_741
    assert annual_contribution(Kind.CITY, 150_000, Hosting.BCL, 2025) == 4_787_037
    assert annual_contribution(Kind.DESIGNATED_CITY, 1_000_000, Hosting.BCL, 2025) == 9_879_630
    assert annual_contribution(Kind.DESIGNATED_CITY, 999_999, Hosting.BCL, 2025) == 7_842_593
    assert annual_contribution(Kind.VILLAGE, 100, Hosting.OWN_SERVER, 2025) == 690_963


def test_months_in_the_joining_year() -> None:
    assert months_participating(date(2025, 4, 1), 2025) == 12
    assert months_participating(date(2025, 4, 2), 2025) == 12  # the joining month counts whole
    assert months_participating(date(2026, 3, 31), 2025) == 1
    assert months_participating(date(2026, 4, 1), 2025) == 0
    assert months_participating(date(2020, 1, 1), 2025) == 12
    assert months_participating(None, 2025) == 0


@given(st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)), st.integers(2016, 2034),
       st.sampled_from(list(Kind)), st.integers(0, 3_000_000), st.sampled_from(list(Hosting)))
def test_proration_is_bounded_and_floored(start: date, fy: int, kind: Kind, population: int, hosting: Hosting) -> None:
    months = months_participating(start, fy)
    assert 0 <= months <= 12
    full = annual_contribution(kind, population, hosting, fy)
    owed = contribution(kind, population, hosting, fy, start)
    assert owed == full * months // 12 and 0 <= owed <= full
    assert isinstance(owed, int)


@given(st.integers(0, 10_000), st.integers(0, 10_000_000), st.sampled_from(list(Hosting)))
def test_money_adds_up(billable: int, fees: int, hosting: Hosting) -> None:
    m = money(billable, fees, hosting)
    assert m.commission == 117 * billable
    assert m.usage_fee == (180 * billable if hosting is Hosting.BCL else 0)
    assert m.net_to_municipality == fees - m.commission


@pytest.mark.parametrize(("channel", "state", "billed"), [
    ("store", "printed", True), ("store", "issued", True), ("store", "voided", False),
    ("store", "awaiting_payment", False), ("real-store-test", "printed", True),
    ("test-stage-2", "printed", False), ("test-stage-3", "printed", False), ("counter", "issued", False),
])
def test_what_is_billable(channel: str, state: str, billed: bool) -> None:
    assert is_billable(channel, state) is billed
