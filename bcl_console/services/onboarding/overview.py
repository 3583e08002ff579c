"""The dashboard's read model: municipalities by class and state, data held, linkage."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bcl_console.domain.contribution import ContributionClass, contribution_class
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.municipality import State
from bcl_console.services.platform.clock import Clock
from bcl_console.store.api import LastLinkage, Store


@dataclass(frozen=True)
class MunicipalityLine:
    code: str
    name: str
    kind: str
    hosting: str
    contribution_class: ContributionClass
    state: State
    closed_reason: str | None
    residents_active: int
    #: Every resident record held: the active and the moved-out and deceased ones (除票).
    records: int
    households: int
    last_linkage: LastLinkage | None


@dataclass(frozen=True)
class Overview:
    now: datetime  # Japan time
    lines: list[MunicipalityLine]
    by_class: dict[ContributionClass, int]
    by_state: dict[State, int]
    #: Residents living in their municipality now (status active, protected ones included).
    residents_held: int
    #: Every resident record held, with the moved-out and deceased: what the demo generates.
    records_held: int
    #: Households of those records (the moved-out and deceased keep theirs).
    households_held: int

    @property
    def open_now(self) -> int:
        return sum(1 for line in self.lines if line.closed_reason is None)


class OverviewService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def snapshot(self) -> Overview:
        records = await self._store.overview.overview()
        held, batches = records.held, records.last_linkage
        now = self._clock.now()
        today = tokyo(now).date()
        lines = []
        for m in records.municipalities:
            counts = held.get(m.code)
            lines.append(
                MunicipalityLine(
                    code=m.code,
                    name=m.name,
                    kind=m.kind.value,
                    hosting=m.hosting.value,
                    contribution_class=contribution_class(m.kind, m.population),
                    state=m.state(today),
                    closed_reason=m.closed_reason(now),
                    residents_active=counts.active if counts else 0,
                    records=counts.residents if counts else 0,
                    households=counts.households if counts else 0,
                    last_linkage=batches.get(m.code),
                )
            )
        return Overview(
            now=tokyo(now),
            lines=lines,
            by_class=dict(Counter(line.contribution_class for line in lines)),
            by_state=dict(Counter(line.state for line in lines)),
            residents_held=sum(line.residents_active for line in lines),
            records_held=sum(line.records for line in lines),
            households_held=sum(line.households for line in lines),
        )
