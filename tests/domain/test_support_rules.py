"""Reconstruction support (被災者生活再建支援金) and damage classes: the domain.md tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcl_console.domain.damage import DamageClass, class_from_ratio
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.support import (
    SEVERITY,
    RebuildMethod,
    at_least,
    basic_support,
    support_amount,
)

T, L, M, H, Q, P = SEVERITY
BUILD, REPAIR, RENT = RebuildMethod.BUILD, RebuildMethod.REPAIR, RebuildMethod.RENT


@pytest.mark.parametrize(("damage", "method", "members", "basic", "additional"), [
    (T, BUILD, 3, 1_000_000, 2_000_000),
    (T, REPAIR, 2, 1_000_000, 1_000_000),
    (T, RENT, 4, 1_000_000, 500_000),
    (L, BUILD, 3, 500_000, 2_000_000),
    (L, RENT, 3, 500_000, 500_000),
    (M, BUILD, 3, 0, 1_000_000),
    (M, REPAIR, 3, 0, 500_000),
    (M, RENT, 3, 0, 250_000),
    (T, BUILD, 1, 750_000, 1_500_000),  # one person: three quarters of each
    (M, RENT, 1, 0, 187_500),
    (T, None, 2, 1_000_000, 0),
])
def test_the_tables(damage: DamageClass, method: RebuildMethod | None, members: int, basic: int,
                    additional: int) -> None:
    amount = support_amount(damage, members, method)
    assert (amount.basic, amount.additional) == (basic, additional)
    assert amount.total == basic + additional


def test_demolition_and_long_term_evacuation_count_as_total_loss() -> None:
    assert basic_support(H, 3, demolished=True) == 1_000_000
    assert support_amount(Q, 2, BUILD, long_term_evacuation=True).total == 3_000_000


@pytest.mark.parametrize("damage", [H, Q, P])
def test_classes_below_medium_half_give_nothing(damage: DamageClass) -> None:
    with pytest.raises(InvalidInput, match="receives no reconstruction support"):
        support_amount(damage, 3, BUILD)
    with pytest.raises(InvalidInput, match="receives no reconstruction support"):
        support_amount(M, 3, None)  # 中規模半壊 has no basic amount


@given(st.sampled_from(SEVERITY), st.sampled_from([None, *RebuildMethod]), st.integers(2, 20))
def test_one_person_households_get_three_quarters_in_whole_yen(damage: DamageClass, method: RebuildMethod | None,
                                                                members: int) -> None:
    try:
        many = support_amount(damage, members, method)
    except InvalidInput:
        return
    one = support_amount(damage, 1, method)
    assert one.basic * 4 == many.basic * 3 and one.additional * 4 == many.additional * 3
    assert many.total <= 3_000_000 and many.total % 1000 == 0


@given(st.integers(0, 100), st.integers(0, 100))
def test_worse_damage_never_gets_less(a: int, b: int) -> None:
    low, high = sorted((a, b))
    c_low, c_high = class_from_ratio(low), class_from_ratio(high)
    assert at_least(c_high, c_low)
    def total(c: DamageClass, method: RebuildMethod) -> int:
        try:
            return support_amount(c, 2, method).total
        except InvalidInput:
            return 0

    for method in RebuildMethod:
        assert total(c_high, method) >= total(c_low, method)


def test_ratio_boundaries_are_exact() -> None:
    assert [class_from_ratio(r) for r in (50, 49, 40, 39, 30, 29, 20, 19, 10, 9, 0, 100)] == [
        T, L, L, M, M, H, H, Q, Q, P, P, T]
    with pytest.raises(InvalidInput, match="outside 0–100"):
        class_from_ratio(101)
    with pytest.raises(InvalidInput, match="outside 0–100"):
        class_from_ratio(-1)
