"""The injectable clock: business rules ask it for "now", never the system directly."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
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


#: A data directory's training clock: the centre's "now" when it was set, and the real
#: instant it was set at. Every process on the directory runs on it until it is cleared.
TRAINING_CLOCK_FILE = "training-clock.json"


def set_training_clock(data_dir: Path, start: datetime) -> None:
    """Make ``start`` the centre's "now" for every process on this data directory."""
    doc = {"centre": require_aware(start).astimezone(UTC).isoformat(), "real": datetime.now(UTC).isoformat()}
    target = data_dir / TRAINING_CLOCK_FILE
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc))
    os.replace(tmp, target)


def clear_training_clock(data_dir: Path) -> bool:
    """Back to the real clock; whether a training clock was set."""
    target = data_dir / TRAINING_CLOCK_FILE
    existed = target.exists()
    target.unlink(missing_ok=True)
    return existed


def training_now(data_dir: Path) -> datetime | None:
    """The centre's "now" on the directory's training clock, or None when it has none."""
    try:
        doc = json.loads((data_dir / TRAINING_CLOCK_FILE).read_text(encoding="utf-8"))
        centre, real = datetime.fromisoformat(doc["centre"]), datetime.fromisoformat(doc["real"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if centre.tzinfo is None or real.tzinfo is None:
        return None
    return centre + (datetime.now(UTC) - real)
