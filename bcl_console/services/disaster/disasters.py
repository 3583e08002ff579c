"""Disasters: declared for the municipalities they affect, closed when every evacuation
centre is; the overview of one (households by damage class, centres, applications
waiting, support totals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bcl_console.domain.codes import validate_municipality_code
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.support import SEVERITY
from bcl_console.services.disaster.common import DisasterPart, day, text
from bcl_console.services.platform.actor import Actor
from bcl_console.store.api import DisasterRow, ShelterRow

DISASTER_KINDS = ("flood", "earthquake", "typhoon", "landslide", "tsunami", "snow", "fire", "volcano", "other")


@dataclass(frozen=True)
class DisasterView:
    disaster: DisasterRow
    by_class: dict[str, int]
    shelters: list[ShelterRow]
    applications_waiting: int
    support: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        d = self.disaster
        return {
            "id": d.id, "name": d.name, "kind": d.kind, "occurred_on": d.occurred_on.isoformat(),
            "declared_at": d.declared_at, "closed_at": d.closed_at, "municipalities": list(d.municipalities),
            "households_by_class": {c.value: self.by_class.get(c.value, 0) for c in SEVERITY},
            "shelters": [s.as_dict() for s in self.shelters],
            "applications_waiting": self.applications_waiting,
            "support": self.support,
        }


class DisasterService(DisasterPart):
    async def declare(self, name: str, kind: str, occurred_on: str, municipalities: list[str], *,
                      actor: Actor) -> DisasterView:
        title = text(name, "name", 80)
        if kind not in DISASTER_KINDS:
            raise InvalidInput(f"unknown disaster kind {kind!r} (one of {', '.join(DISASTER_KINDS)})", field="kind")
        today = self.today()
        occurred = day(occurred_on, "date", today)
        if occurred > today:
            raise InvalidInput(f"the disaster date {occurred.isoformat()} is in the future", field="date")
        codes = sorted({validate_municipality_code(c.strip()) for c in municipalities if c.strip()})
        if not codes:
            raise InvalidInput("name at least one affected municipality", field="municipality")
        disaster_id = await self._store.disaster.declare(title, kind, occurred, codes,
                                                         self._audit(actor, None, "disaster-declared", "disaster"))
        self._changed(disaster_id, "declared")
        return await self.get(disaster_id)

    async def close(self, disaster_id: int, *, actor: Actor) -> DisasterView:
        await self._store.disaster.close(disaster_id, self._audit(actor, None, "disaster-closed", "disaster"))
        self._changed(disaster_id, "closed")
        return await self.get(disaster_id)

    async def disasters(self) -> list[DisasterView]:
        ids = [d.id for d in await self._store.disaster.disasters()]
        return [await self.get(i) for i in ids]

    async def get(self, disaster_id: int) -> DisasterView:
        state = await self._store.disaster.state(disaster_id)
        support: dict[str, int] = {"applied": 0, "approved": 0, "paid": 0, "rejected": 0, "paid_yen": 0,
                                   "approved_yen": 0}
        for s in state.support:
            support[s.state] += 1
            if s.state == "paid":
                support["paid_yen"] += s.total
            if s.state in ("approved", "paid"):
                support["approved_yen"] += s.total
        return DisasterView(state.disaster, state.by_class, state.shelters, state.applications_waiting, support)
