from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.wareki import (
    format_era,
    format_era_short,
    format_fiscal_year,
    parse_date,
)

TODAY = date(2026, 6, 17)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-04-01", date(2023, 4, 1)),
        ("2023/4/1", date(2023, 4, 1)),
        ("R5.4.1", date(2023, 4, 1)),
        ("r5.4.1", date(2023, 4, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("令和5年4月1日", date(2023, 4, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("M45.7.29", date(1912, 7, 29)),
        ("T1.7.30", date(1912, 7, 30)),
        ("令和５年４月１日", date(2023, 4, 1)),
        ("２０２３－０４－０１".replace("－", "-"), date(2023, 4, 1)),
        ("Ｒ５.４.１", date(2023, 4, 1)),
    ],
)
def test_every_accepted_form(text: str, expected: date) -> None:
    assert parse_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("H31.5.1", "outside the 平成 era"),
        ("平成31年5月1日", "outside the 平成 era"),
        ("R1.4.30", "outside the 令和 era"),
        ("令和0年1月1日", "era year 0"),
        ("R0.1.1", "era year 0"),
        ("2099-01-01", "in the future"),
        ("2024-02-30", "not a real date"),
        ("令和5年2月30日", "not a real date"),
        ("2023.04.01", "not a date"),
        ("", "empty"),
        ("1800-01-01", "before the Meiji era"),
        ("昭和65年1月1日", "outside the 昭和 era"),
    ],
)
def test_bad_dates_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_date(text, today=TODAY)


def test_formats_as_certificates_print() -> None:
    assert format_era(date(2025, 4, 1)) == "令和7年4月1日"
    assert format_era(date(2019, 5, 1)) == "令和元年5月1日"
    assert format_era(date(2019, 4, 30)) == "平成31年4月30日"
    assert format_era_short(date(2023, 4, 1)) == "R5.4.1"
    assert format_fiscal_year(2025) == "令和7年度"
    assert format_fiscal_year(2019) == "令和元年度"  # renamed with the era on 1 May 2019
    assert format_fiscal_year(1988) == "昭和63年度"
    assert format_fiscal_year(1989) == "平成元年度"


dates = st.dates(min_value=date(1868, 1, 25), max_value=TODAY)


@given(dates)
def test_era_form_round_trips(day: date) -> None:
    assert parse_date(format_era(day), today=TODAY) == day
    assert parse_date(format_era_short(day).replace("元", "1"), today=TODAY) == day


@given(dates)
def test_western_forms_round_trip(day: date) -> None:
    assert parse_date(day.isoformat(), today=TODAY) == day
    assert parse_date(f"{day.year}/{day.month}/{day.day}", today=TODAY) == day


@given(st.dates(min_value=date(2026, 6, 18), max_value=date(2100, 1, 1)))
def test_future_dates_are_refused(day: date) -> None:
    with pytest.raises(InvalidInput, match="future"):
        parse_date(day.isoformat(), today=TODAY)
