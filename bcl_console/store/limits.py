"""``LimitStore`` in this process's memory: exact where one process serves the centre (a
SQLite centre), and what a standby centre's own process counts by (it writes nothing)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

#: Addresses remembered per limit at most (past it the least recently seen is forgotten:
#: at worst it gets a fresh burst back).
MAX_CLIENTS = 10_000


class TokenBuckets:
    """A token bucket per key, bounded in memory: a bucket idle long enough to have
    refilled is the same as no bucket, so it is dropped."""

    def __init__(self, per_second: float, burst: float, *, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_second
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """0 when one was taken, else the seconds to wait."""
        now = self._clock()
        self._forget_idle(now)
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens < 1:
            wait = (1 - tokens) / self.rate
        else:
            tokens -= 1
        self._buckets[key] = (tokens, now)  # now the most recently seen
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last < full_after:
                break
            del self._buckets[key]


class MemoryLimits:
    """``LimitStore`` of one process: a ``TokenBuckets`` per limit."""

    def __init__(self) -> None:
        self._limits: dict[tuple[str, float, float], TokenBuckets] = {}

    async def take(self, name: str, key: str, per_second: float, burst: float) -> float:
        buckets = self._limits.get((name, per_second, burst))
        if buckets is None:
            buckets = self._limits[(name, per_second, burst)] = TokenBuckets(per_second, burst)
        return buckets.take(key)
