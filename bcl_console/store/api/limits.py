"""Limits: the token buckets of the routes anyone may call, counted per client address
(verification by code, a resident's challenges), where every process serving the centre
counts against the same bucket (contract §10: nothing a request needs lives only in one
process)."""

from __future__ import annotations

from typing import Protocol


class LimitStore(Protocol):
    async def take(self, name: str, key: str, per_second: float, burst: float) -> float:
        """Take one from the bucket of limit ``name`` for ``key`` (full at ``burst``, refilled
        at ``per_second``): 0 when taken, else the seconds until one will be there."""
        ...
