"""Monitor (the Issuance Monitor's reads): what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FeedRow:
    request_id: str
    at: str
    municipality_code: str
    type: str
    operator: str | None
    channel: str
    state: str
    latency_ms: int | None


@dataclass(frozen=True)
class MonitorRecords:
    feed: list[FeedRow]
    #: (municipality, type, state, channel, n) of requests created since the instant.
    counts: list[tuple[str, str, str, str, int]]
    #: (reason, n) of relay refusals since the instant, most frequent first.
    refusals: list[tuple[str, int]]


class MonitorStore(Protocol):
    async def monitor(self, limit: int, since: str) -> MonitorRecords:
        """The newest ``limit`` requests and what happened since ``since``, one snapshot."""
        ...
