"""Residents as the intermediate DB (中間DB) holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class ResidentStatus(StrEnum):
    ACTIVE = "active"
    MOVED_OUT = "moved-out"
    DECEASED = "deceased"


#: Sex codes of the resident register: 1 male, 2 female, 9 not stated.
SEX_LABELS = {1: "男", 2: "女", 9: "不詳"}

#: Columns of a resident record, in the order the store and linkage files use.
RESIDENT_FIELDS: tuple[str, ...] = (
    "resident_code",
    "household_number",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "relationship",
    "address",
    "resident_since",
    "previous_address",
    "domicile",
    "head_of_family",
    "status",
    "status_date",
    "needs_evacuation_help",
    "restricted",
    # optional (migration 20): '' when a batch does not send them
    "former_surname",
    "name_roman",
)


@dataclass(frozen=True)
class Resident:
    municipality_code: str
    resident_code: str
    household_number: str
    name: str
    name_kana: str
    birth_date: date
    sex: int
    relationship: str
    address: str
    resident_since: date
    previous_address: str
    domicile: str
    head_of_family: str
    status: ResidentStatus
    status_date: date | None
    needs_evacuation_help: bool
    restricted: bool
    #: 旧氏 (the former surname the resident asked to have 併記), '' when none.
    former_surname: str = ""
    #: The name in ローマ字 (Latin letters), '' when none.
    name_roman: str = ""

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years
