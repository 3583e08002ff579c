"""Disaster-victim support rules: livelihood-reconstruction support (被災者生活再建支援金),
whereabouts (居所), injuries, and evacuation centres. Pure functions, integer yen.

Per household (domain.md "Disaster facts used by the ledger"):
- basic (基礎支援金): 全壊, demolition (解体) or long-term evacuation (長期避難) 1,000,000;
  大規模半壊 500,000; 中規模半壊 and below 0.
- additional (加算支援金), by how the home is rebuilt — build or buy / repair / rent:
  全壊 and 大規模半壊 2,000,000 / 1,000,000 / 500,000; 中規模半壊 1,000,000 / 500,000 / 250,000.
- a one-person household receives three quarters of each amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bcl_console.domain.damage import DamageClass
from bcl_console.domain.errors import InvalidInput, parse_choice


class RebuildMethod(StrEnum):
    BUILD = "build"      # 建設・購入
    REPAIR = "repair"    # 補修
    RENT = "rent"        # 賃借（公営住宅以外）

    @property
    def label_ja(self) -> str:
        return {"build": "建設・購入", "repair": "補修", "rent": "賃借"}[self.value]


class Whereabouts(StrEnum):
    HOME = "home"            # 自宅
    SHELTER = "shelter"      # 避難所
    RELATIVES = "relatives"  # 親族・知人宅
    ELSEWHERE = "elsewhere"  # その他
    UNKNOWN = "unknown"      # 不明

    @property
    def label_ja(self) -> str:
        return {"home": "自宅", "shelter": "避難所", "relatives": "親族・知人宅", "elsewhere": "その他",
                "unknown": "不明"}[self.value]


class Injury(StrEnum):
    NONE = "none"
    INJURED = "injured"            # 軽傷
    SERIOUSLY = "seriously-injured"  # 重傷
    DEAD = "dead"                  # 死亡
    MISSING = "missing"            # 行方不明


_BASIC = {DamageClass.TOTAL: 1_000_000, DamageClass.LARGE_HALF: 500_000}
_ADDITIONAL = {
    DamageClass.TOTAL: {RebuildMethod.BUILD: 2_000_000, RebuildMethod.REPAIR: 1_000_000, RebuildMethod.RENT: 500_000},
    DamageClass.LARGE_HALF: {RebuildMethod.BUILD: 2_000_000, RebuildMethod.REPAIR: 1_000_000,
                             RebuildMethod.RENT: 500_000},
    DamageClass.MEDIUM_HALF: {RebuildMethod.BUILD: 1_000_000, RebuildMethod.REPAIR: 500_000,
                              RebuildMethod.RENT: 250_000},
}


@dataclass(frozen=True)
class SupportAmount:
    basic: int
    additional: int

    @property
    def total(self) -> int:
        return self.basic + self.additional

    def as_dict(self) -> dict[str, int]:
        return {"basic": self.basic, "additional": self.additional, "total": self.total}


def _effective(damage: DamageClass, demolished: bool, long_term_evacuation: bool) -> DamageClass:
    """Demolition and long-term evacuation are treated like 全壊."""
    return DamageClass.TOTAL if demolished or long_term_evacuation else damage


def _one_person(amount: int, members: int) -> int:
    return amount * 3 // 4 if members == 1 else amount


def basic_support(damage: DamageClass, members: int, *, demolished: bool = False,
                  long_term_evacuation: bool = False) -> int:
    _check_members(members)
    return _one_person(_BASIC.get(_effective(damage, demolished, long_term_evacuation), 0), members)


def additional_support(damage: DamageClass, members: int, method: RebuildMethod | None, *,
                       demolished: bool = False, long_term_evacuation: bool = False) -> int:
    _check_members(members)
    if method is None:
        return 0
    table = _ADDITIONAL.get(_effective(damage, demolished, long_term_evacuation), {})
    return _one_person(table.get(method, 0), members)


def support_amount(damage: DamageClass, members: int, method: RebuildMethod | None = None, *,
                   demolished: bool = False, long_term_evacuation: bool = False) -> SupportAmount:
    """What a household receives; refused when its class gives nothing."""
    amount = SupportAmount(
        basic_support(damage, members, demolished=demolished, long_term_evacuation=long_term_evacuation),
        additional_support(damage, members, method, demolished=demolished,
                           long_term_evacuation=long_term_evacuation),
    )
    if amount.total == 0:
        how = f" with rebuild method {method.value}" if method else " without a rebuild method"
        raise InvalidInput(f"a household at {damage.value}{how} receives no reconstruction support",
                           field="class")
    return amount


def _check_members(members: int) -> None:
    if members < 1:
        raise InvalidInput(f"a household has at least one member, not {members}", field="members")


def parse_rebuild_method(text: str | None) -> RebuildMethod | None:
    return parse_choice(RebuildMethod, text, "rebuild method", "method") if text else None


def parse_whereabouts(text: str) -> Whereabouts:
    return parse_choice(Whereabouts, text, "whereabouts", "whereabouts")


def parse_injury(text: str) -> Injury:
    return parse_choice(Injury, text, "injury", "injury")


#: Damage classes in order of severity, worst first (for "半壊 or worse" extracts).
SEVERITY = (DamageClass.TOTAL, DamageClass.LARGE_HALF, DamageClass.MEDIUM_HALF, DamageClass.HALF,
            DamageClass.QUASI_HALF, DamageClass.PARTIAL)


def at_least(damage: DamageClass, threshold: DamageClass) -> bool:
    """Whether ``damage`` is ``threshold`` or worse."""
    return SEVERITY.index(damage) <= SEVERITY.index(threshold)


def check_capacity(capacity: int) -> int:
    if not 1 <= capacity <= 100_000:
        raise InvalidInput(f"capacity {capacity} is outside 1 to 100,000", field="capacity")
    return capacity


def check_ratio(ratio: int) -> int:
    if not 0 <= ratio <= 100:
        raise InvalidInput(f"damage ratio {ratio} is outside 0–100", field="ratio")
    return ratio
