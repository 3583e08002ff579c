"""Five-year cost of BCL against an own certificate server, from the brochure's table
(domain.md), in yen: the nearest row, or a straight line between the two rows around
the population (said which), within towns (≤ 20,000) or cities (≥ 30,000).
"""

from __future__ import annotations

from dataclasses import dataclass

from bcl_console.domain.municipality import Kind

SPECIAL_ALLOCATION_SHARE_PERCENT = 70  # 特別交付税措置: 0.7 of the introduction cost, FY2023–FY2025

# population, kind, BCL intro ①, BCL O&M/yr ②, own intro ④, own O&M/yr ⑤, 5-yr BCL ⑥, 5-yr own ⑦ (thousand yen)
_ROWS = (
    (5_000, "town", 7_991, 978, 17_868, 3_299, 15_258, 38_211),
    (10_000, "town", 7_786, 978, 20_557, 3_542, 16_049, 42_507),
    (20_000, "town", 6_711, 978, 23_051, 6_609, 16_967, 61_121),
    (30_000, "city", 9_430, 913, 20_923, 3_785, 28_993, 53_299),
    (50_000, "city", 9_558, 913, 25_871, 5_111, 35_184, 66_447),
    (100_000, "city", 14_546, 1_562, 25_955, 26_934, 55_927, 182_117),
    (300_000, "city", 20_000, 2_500, 80_102, 19_009, 116_229, 222_637),
    (500_000, "city", 20_000, 2_500, 79_563, 22_722, 156_092, 256_367),
)


@dataclass(frozen=True)
class CostEstimate:
    method: str  # "row 10,000 (town)" or "interpolated between 10,000 and 20,000 (town)"
    bcl_introduction: int
    bcl_five_years: int
    own_five_years: int
    saving: int
    saving_percent: int  # of the own-server cost
    special_allocation: int  # 0.7 of the BCL introduction cost

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def estimate(kind: Kind, population: int) -> CostEstimate:
    group = "town" if kind in (Kind.TOWN, Kind.VILLAGE) else "city"
    rows = [r for r in _ROWS if r[1] == group]
    if population <= rows[0][0] or population >= rows[-1][0]:
        row = rows[0] if population <= rows[0][0] else rows[-1]
        values = [v * 1000 for v in row[2:]]
        method = f"nearest row: {row[0]:,} ({group})"
    else:
        lo = max(r for r in rows if r[0] <= population)
        hi = min(r for r in rows if r[0] >= population)
        if lo[0] == hi[0]:
            values = [v * 1000 for v in lo[2:]]
            method = f"row {lo[0]:,} ({group})"
        else:
            span = hi[0] - lo[0]
            values = [(a * 1000 * (hi[0] - population) + b * 1000 * (population - lo[0])) // span
                      for a, b in zip(lo[2:], hi[2:], strict=True)]
            method = f"interpolated between {lo[0]:,} and {hi[0]:,} ({group})"
    intro, _om, _own_intro, _own_om, bcl5, own5 = values
    saving = own5 - bcl5
    return CostEstimate(method, intro, bcl5, own5, saving, saving * 100 // own5 if own5 else 0,
                        intro * SPECIAL_ALLOCATION_SHARE_PERCENT // 100)
