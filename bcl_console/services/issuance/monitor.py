"""The Issuance Monitor's read model: a bounded feed paged from SQLite, today's counts,
refusals by reason, and per-second throughput and latency kept from service events.

Today's counts are of store issuances (channels ``store`` and ``real-store-test``, the
billable ones); issuances on other channels (test stages 2 and 3 of a municipality not live
yet, the counter) are counted apart, by channel, so a city in onboarding never reads as
issuing at the stores."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as dtime

from bcl_console.domain.fiscal import TOKYO, tokyo
from bcl_console.domain.settlement import BILLABLE_CHANNELS
from bcl_console.services.platform.clock import Clock
from bcl_console.services.platform.events import Event, EventBus, IssuanceChanged
from bcl_console.store.api import FeedRow, Store

WINDOW = 120  # seconds of history in the chart


@dataclass
class Second:
    issued: int = 0
    latency_ms_total: int = 0


@dataclass(frozen=True)
class MonitorSnapshot:
    feed: list[FeedRow]
    by_type: dict[str, int]  # store issuances today
    by_municipality: dict[str, int]  # store issuances today
    refusals: list[tuple[str, int]]  # every reason refused today, most frequent first
    throughput: list[int]  # issued per second, oldest first
    latency_ms: list[float]  # mean per second (0 when none)
    today_total: int  # store issuances today
    #: Today's issuances on other channels: channel → municipality → n.
    other_channels: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class _Rolling:
    seconds: deque[tuple[int, Second]] = field(default_factory=lambda: deque(maxlen=WINDOW))

    def add(self, latency_ms: int | None) -> None:
        now = int(time.monotonic())
        if not self.seconds or self.seconds[-1][0] != now:
            self.seconds.append((now, Second()))
        bucket = self.seconds[-1][1]
        bucket.issued += 1
        bucket.latency_ms_total += latency_ms or 0

    def series(self) -> tuple[list[int], list[float]]:
        now = int(time.monotonic())
        by_second = dict(self.seconds)
        issued, latency = [], []
        for t in range(now - WINDOW + 1, now + 1):
            b = by_second.get(t)
            issued.append(b.issued if b else 0)
            latency.append(b.latency_ms_total / b.issued if b and b.issued else 0.0)
        return issued, latency


class MonitorService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus) -> None:
        self._store = store
        self._clock = clock
        self._rolling = _Rolling()
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, IssuanceChanged) and event.state == "issued":
            self._rolling.add(event.latency_ms)

    async def snapshot(self, limit: int = 40) -> MonitorSnapshot:
        start = datetime.combine(tokyo(self._clock.now()).date(), dtime(0), TOKYO).astimezone(UTC).isoformat()
        records = await self._store.monitor.monitor(limit, start)
        feed, counts, refusals = records.feed, records.counts, records.refusals
        by_type: Counter[str] = Counter()
        by_municipality: Counter[str] = Counter()
        others: dict[str, Counter[str]] = {}
        for code, type_, state, channel, n in counts:
            if state not in ("issued", "printed"):
                continue
            if channel in BILLABLE_CHANNELS:
                by_type[type_] += n
                by_municipality[code] += n
            else:
                others.setdefault(channel, Counter())[code] += n
        throughput, latency = self._rolling.series()
        return MonitorSnapshot(feed, dict(by_type), dict(by_municipality), refusals, throughput, latency,
                               sum(by_type.values()), {c: dict(n) for c, n in sorted(others.items())})
