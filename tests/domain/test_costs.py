from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.costs import estimate
from bcl_console.domain.municipality import Kind


def test_rows_of_the_brochure() -> None:
    town = estimate(Kind.TOWN, 10_000)
    assert town.method == "row 10,000 (town)"
    assert (town.bcl_five_years, town.own_five_years, town.saving) == (16_049_000, 42_507_000, 26_458_000)
    assert town.saving_percent == 62 and town.special_allocation == 7_786_000 * 7 // 10
    city = estimate(Kind.CITY, 100_000)
    assert (city.bcl_five_years, city.own_five_years) == (55_927_000, 182_117_000)


def test_interpolation_and_clamping() -> None:
    mid = estimate(Kind.TOWN, 7_500)
    assert mid.method == "interpolated between 5,000 and 10,000 (town)"
    assert mid.bcl_five_years == (15_258_000 + 16_049_000) // 2
    assert estimate(Kind.VILLAGE, 900).method == "nearest row: 5,000 (town)"
    assert estimate(Kind.DESIGNATED_CITY, 2_000_000).method == "nearest row: 500,000 (city)"


@given(st.sampled_from(list(Kind)), st.integers(0, 3_000_000))
def test_estimates_are_consistent(kind: Kind, population: int) -> None:
    e = estimate(kind, population)
    assert e.saving == e.own_five_years - e.bcl_five_years > 0
    assert 0 < e.saving_percent < 100
