from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.codes import check_digit, validate_municipality_code, with_check_digit
from bcl_console.domain.errors import InvalidInput

five_digits = st.text(alphabet="0123456789", min_size=5, max_size=5)


def test_contract_examples() -> None:
    assert check_digit("13101") == 6
    assert validate_municipality_code("131016") == "131016"
    assert validate_municipality_code("011011") == "011011"
    with pytest.raises(InvalidInput, match="wrong check digit"):
        validate_municipality_code("131017")


@pytest.mark.parametrize("bad", ["13101", "1310166", "13101a", "１３１０１６", "", " 131016"])
def test_malformed_codes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate_municipality_code(bad)


@given(five_digits)
def test_every_code_with_its_check_digit_is_valid(first: str) -> None:
    assert validate_municipality_code(with_check_digit(first)) == with_check_digit(first)


@given(five_digits, st.integers(min_value=1, max_value=9))
def test_any_other_last_digit_is_refused(first: str, shift: int) -> None:
    good = int(with_check_digit(first)[5])
    bad = f"{first}{(good + shift) % 10}"
    with pytest.raises(InvalidInput):
        validate_municipality_code(bad)


@given(five_digits)
def test_check_digit_matches_the_formula(first: str) -> None:
    s = sum(w * int(d) for w, d in zip((6, 5, 4, 3, 2), first, strict=True))
    assert check_digit(first) == (11 - s % 11) % 10
