"""Dates as Japanese residents' data carries them: Western and era (和暦) forms.

Linkage files may write a date as ``2023-04-01``, ``2023/04/01``, ``R5.4.1``,
``令和5年4月1日`` or ``令和元年5月1日``, with full-width digits too. Certificates print
the era form (令和7年4月1日).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from bcl_console.domain.errors import InvalidInput


@dataclass(frozen=True)
class Era:
    name: str
    letter: str
    first_day: date
    last_day: date | None  # None: the current era

    def contains(self, day: date) -> bool:
        return self.first_day <= day and (self.last_day is None or day <= self.last_day)


ERAS: tuple[Era, ...] = (
    Era("明治", "M", date(1868, 1, 25), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
_BY_NAME = {e.name: e for e in ERAS}
_BY_LETTER = {e.letter: e for e in ERAS}

_WESTERN = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_LETTER = re.compile(r"^([MTSHR])(\d{1,2}|元)\.(\d{1,2})\.(\d{1,2})$", re.IGNORECASE)
_KANJI = re.compile(r"^(明治|大正|昭和|平成|令和)(\d{1,2}|元)年(\d{1,2})月(\d{1,2})日$")


def _make(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a real date") from None


def _era_date(era: Era, year_text: str, month: int, day: int, text: str) -> date:
    era_year = 1 if year_text == "元" else int(year_text)
    if era_year < 1:
        raise InvalidInput(f"{text!r} has era year 0; the first year of an era is 元年 (1)")
    result = _make(era.first_day.year + era_year - 1, month, day, text)
    if not era.contains(result):
        last = f" to {format_era(era.last_day)}" if era.last_day else ""
        raise InvalidInput(
            f"{text!r} is outside the {era.name} era ({format_era(era.first_day)}{last})"
        )
    return result


def parse_date(text: str, *, today: date | None = None) -> date:
    """Parse any accepted form; raise InvalidInput for an unreal, out-of-era or future date."""
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    if not cleaned:
        raise InvalidInput("the date is empty")
    result: date
    if m := _WESTERN.match(cleaned):
        result = _make(int(m[1]), int(m[2]), int(m[3]), text)
    elif m := _LETTER.match(cleaned):
        result = _era_date(_BY_LETTER[m[1].upper()], m[2], int(m[3]), int(m[4]), text)
    elif m := _KANJI.match(cleaned):
        result = _era_date(_BY_NAME[m[1]], m[2], int(m[3]), int(m[4]), text)
    else:
        raise InvalidInput(
            f"{text!r} is not a date (use YYYY-MM-DD, YYYY/MM/DD, R5.4.1 or 令和5年4月1日)"
        )
    if result < ERAS[0].first_day:
        raise InvalidInput(f"{text!r} is before the Meiji era, the earliest accepted")
    if today is not None and result > today:
        raise InvalidInput(f"{text!r} is in the future")
    return result


def era_of(day: date) -> Era:
    for era in reversed(ERAS):
        if era.contains(day):
            return era
    raise InvalidInput(f"{day.isoformat()} is before the Meiji era")


def era_year(day: date) -> tuple[Era, int]:
    era = era_of(day)
    return era, day.year - era.first_day.year + 1


def _year_text(n: int) -> str:
    return "元" if n == 1 else str(n)


def format_era(day: date) -> str:
    """The form certificates print: 令和7年4月1日 (元年 for the first year)."""
    era, n = era_year(day)
    return f"{era.name}{_year_text(n)}年{day.month}月{day.day}日"


def format_era_short(day: date) -> str:
    """The compact form used in tables: R7.4.1."""
    era, n = era_year(day)
    return f"{era.letter}{n}.{day.month}.{day.day}"


def format_fiscal_year(fiscal_year: int) -> str:
    """A fiscal year (年度) in era form: 2025 -> 令和7年度.

    The era is the one in force on 1 May, so that FY2019, which began in 平成 but was
    renamed with the change of era on 1 May 2019, prints as 令和元年度 as official
    documents print it.
    """
    era, n = era_year(date(fiscal_year, 5, 1))
    return f"{era.name}{_year_text(n)}年度"
