"""Damage to dwellings (住家の被害認定): the six classes and their ratio boundaries."""

from __future__ import annotations

from enum import StrEnum

from bcl_console.domain.errors import InvalidInput


class DamageClass(StrEnum):
    TOTAL = "全壊"
    LARGE_HALF = "大規模半壊"
    MEDIUM_HALF = "中規模半壊"
    HALF = "半壊"
    QUASI_HALF = "準半壊"
    PARTIAL = "準半壊に至らない（一部損壊）"


#: (lowest ratio in percent, class), highest first.
_BOUNDARIES = (
    (50, DamageClass.TOTAL),
    (40, DamageClass.LARGE_HALF),
    (30, DamageClass.MEDIUM_HALF),
    (20, DamageClass.HALF),
    (10, DamageClass.QUASI_HALF),
    (0, DamageClass.PARTIAL),
)


def class_from_ratio(ratio: int) -> DamageClass:
    """全壊 ≥ 50%; 大規模半壊 40–50%; 中規模半壊 30–40%; 半壊 20–30%; 準半壊 10–20%; else 一部損壊."""
    if not 0 <= ratio <= 100:
        raise InvalidInput(f"damage ratio {ratio} is outside 0–100", field="ratio")
    for lowest, cls in _BOUNDARIES:
        if ratio >= lowest:
            return cls
    raise AssertionError("unreachable")


def parse_damage_class(text: str) -> DamageClass:
    for cls in DamageClass:
        if text in (cls.value, cls.name.lower(), cls.name):
            return cls
    if text == "一部損壊":
        return DamageClass.PARTIAL
    allowed = ", ".join(c.value for c in DamageClass)
    raise InvalidInput(f"unknown damage class {text!r} (one of {allowed})", field="class")
