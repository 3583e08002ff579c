from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.fiscal import fiscal_year_bounds, fiscal_year_of, fiscal_year_of_date
from bcl_console.domain.kana import is_katakana, normalise_kana


def test_fiscal_year_turns_on_1_april_in_japan() -> None:
    # 31 March 15:00 UTC is already 1 April 00:00 in Tokyo.
    assert fiscal_year_of(datetime(2026, 3, 31, 14, 59, 59, tzinfo=UTC)) == 2025
    assert fiscal_year_of(datetime(2026, 3, 31, 15, 0, 0, tzinfo=UTC)) == 2026
    assert fiscal_year_of_date(date(2026, 1, 5)) == 2025
    start, end = fiscal_year_bounds(2025)
    assert start == datetime(2025, 3, 31, 15, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 15, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        fiscal_year_of(datetime(2026, 4, 1))


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_every_instant_lies_inside_its_fiscal_year(instant: datetime) -> None:
    fy = fiscal_year_of(instant)
    start, end = fiscal_year_bounds(fy)
    assert start <= instant < end
    assert end - start in (timedelta(days=365), timedelta(days=366))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),
        ("ｶﾞｯｺｳ", "ガッコウ"),
        ("ﾊﾟﾊﾟ", "パパ"),
        ("ヤマダ　タロウ", "ヤマダ タロウ"),
        ("  サトウ   ハナコ ", "サトウ ハナコ"),
        ("ｺｰﾋｰ", "コーヒー"),
    ],
)
def test_half_width_kana_is_normalised(raw: str, expected: str) -> None:
    assert normalise_kana(raw) == expected
    assert is_katakana(normalise_kana(raw))


@pytest.mark.parametrize("bad", ["やまだ たろう", "山田 太郎", "Yamada", "", "   ", "ヤマダ1"])
def test_non_katakana_readings_are_detected(bad: str) -> None:
    assert not is_katakana(normalise_kana(bad))


half_width = st.text(alphabet=[chr(c) for c in range(0xFF66, 0xFF9E)], min_size=1, max_size=12)


@given(half_width)
def test_any_half_width_katakana_normalises_to_full_width(text: str) -> None:
    out = normalise_kana(text)
    assert is_katakana(out)
    assert all(not (0xFF61 <= ord(ch) <= 0xFF9F) for ch in out)
