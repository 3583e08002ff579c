"""The injectable clock: business rules ask it for "now", never the system directly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from bcl_console.domain.fiscal import require_aware, tokyo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved: tests and demos travel through a year."""

    def __init__(self, instant: datetime) -> None:
        self._now = require_aware(instant).astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = require_aware(instant).astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class OffsetClock:
    """System time shifted so that it started at a chosen instant (`--now`): it runs on."""

    def __init__(self, start: datetime) -> None:
        self._offset = require_aware(start) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def today_in_japan(clock: Clock) -> date:
    return tokyo(clock.now()).date()


def iso_now(clock: Clock) -> str:
    """The instant as stored: ISO 8601 in UTC with microseconds."""
    return clock.now().astimezone(UTC).isoformat(timespec="microseconds")
