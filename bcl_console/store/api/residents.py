"""Residents: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bcl_console.domain.resident import Resident


@dataclass(frozen=True)
class HeldCounts:
    residents: int
    active: int
    households: int
    seals: int
    taxes: int


class ResidentStore(Protocol):
    async def held_counts(self) -> dict[str, HeldCounts]:
        """What the intermediate DB holds, per municipality."""
        ...

    async def search_residents(self, text: str, municipality_code: str | None = None,
                               limit: int = 20) -> list[Resident]:
        """Residents whose code or household number is ``text``, or whose name or kana
        contains it (spaces ignored)."""
        ...

    async def find_resident(self, resident_code: str) -> Resident | None:
        """A resident by 住民票コード alone (unique nationwide; an active record first)."""
        ...
