"""Contribution classes (運営負担金の区分) by kind and population, from domain.md."""

from __future__ import annotations

from enum import StrEnum

from bcl_console.domain.municipality import Kind


class ContributionClass(StrEnum):
    DESIGNATED_LARGE = "designated-city ≥1M"
    DESIGNATED = "designated-city <1M"
    CITY_150K = "city ≥150k"
    CITY_50K = "city 50k–150k"
    CITY_30K = "city 30k–50k"
    CITY_SMALL = "city <30k"
    TOWN_VILLAGE = "town/village"

    @property
    def label_ja(self) -> str:
        return _LABELS_JA[self]

    @property
    def label_short(self) -> str:
        """For narrow tables: 町村, 市<3万, 市≥15万 …"""
        return _LABELS_SHORT[self]


_LABELS_JA = {
    ContributionClass.DESIGNATED_LARGE: "政令市(100万以上)",
    ContributionClass.DESIGNATED: "政令市(100万未満)",
    ContributionClass.CITY_150K: "市・特別区(15万以上)",
    ContributionClass.CITY_50K: "市・特別区(5万以上15万未満)",
    ContributionClass.CITY_30K: "市・特別区(3万以上5万未満)",
    ContributionClass.CITY_SMALL: "市・特別区(3万未満)",
    ContributionClass.TOWN_VILLAGE: "町村",
}

_LABELS_SHORT = {
    ContributionClass.DESIGNATED_LARGE: "政令市≥100万",
    ContributionClass.DESIGNATED: "政令市<100万",
    ContributionClass.CITY_150K: "市≥15万",
    ContributionClass.CITY_50K: "市5-15万",
    ContributionClass.CITY_30K: "市3-5万",
    ContributionClass.CITY_SMALL: "市<3万",
    ContributionClass.TOWN_VILLAGE: "町村",
}


def contribution_class(kind: Kind, population: int) -> ContributionClass:
    if kind is Kind.DESIGNATED_CITY:
        if population >= 1_000_000:
            return ContributionClass.DESIGNATED_LARGE
        return ContributionClass.DESIGNATED
    if kind in (Kind.CITY, Kind.SPECIAL_WARD):
        if population >= 150_000:
            return ContributionClass.CITY_150K
        if population >= 50_000:
            return ContributionClass.CITY_50K
        if population >= 30_000:
            return ContributionClass.CITY_30K
        return ContributionClass.CITY_SMALL
    return ContributionClass.TOWN_VILLAGE
