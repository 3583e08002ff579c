"""Fiscal years (年度): fiscal year N runs from 1 April N to 31 March N+1, Asia/Tokyo."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a naive datetime has no place in business rules; give it a zone")
    return instant


def tokyo(instant: datetime) -> datetime:
    """The instant as wall-clock time in Japan."""
    return require_aware(instant).astimezone(TOKYO)


def tokyo_at(iso: str) -> datetime:
    """A stored instant (ISO 8601 with its offset, as the store writes them) as wall-clock
    time in Japan; ValueError for a text that is not one."""
    return tokyo(datetime.fromisoformat(iso))


def fiscal_year_of_date(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_of(instant: datetime) -> int:
    """The fiscal year an instant belongs to, by the Japanese calendar date."""
    return fiscal_year_of_date(tokyo(instant).date())


def fiscal_year_bounds(fiscal_year: int) -> tuple[datetime, datetime]:
    """[start, end) of a fiscal year as UTC instants."""
    start = datetime.combine(date(fiscal_year, 4, 1), time(0), TOKYO)
    end = datetime.combine(date(fiscal_year + 1, 4, 1), time(0), TOKYO)
    return start.astimezone(UTC), end.astimezone(UTC)
