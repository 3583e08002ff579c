"""Support payments (被災者生活再建支援金): applied for by assessed households, the
amount by the law's table; approved or rejected, then paid."""

from __future__ import annotations

from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.domain.support import parse_rebuild_method
from bcl_console.services.disaster.common import DisasterPart
from bcl_console.services.platform.actor import Actor
from bcl_console.store.api import SupportApplication

#: decision → (the state it needs, the state it makes)
MOVES = {"approve": ("applied", "approved"), "reject": ("applied", "rejected"), "pay": ("approved", "paid")}


class SupportService(DisasterPart):
    async def apply_support(self, disaster_id: int, code: str, household: str, *, method: str | None = None,
                            demolished: bool = False, long_term: bool = False,
                            actor: Actor) -> SupportApplication:
        rebuild = parse_rebuild_method(method)
        support_id = await self._store.disaster.apply_support(
            disaster_id, code, household, rebuild, demolished=demolished, long_term=long_term,
            audit=self._audit(actor, code, "support-applied", f"{disaster_id}/{household}"))
        self._changed(disaster_id, "support")
        return await self.support(support_id)

    async def support(self, support_id: int) -> SupportApplication:
        s = await self._store.disaster.support(support_id)
        if s is None:
            raise NotFound(f"there is no support application {support_id}", field="application")
        return s

    async def decide_support(self, support_id: int, decision: str, *, note: str | None = None,
                             actor: Actor) -> SupportApplication:
        """approve or reject an application; pay an approved one."""
        if decision not in MOVES:
            raise InvalidInput(f"unknown decision {decision!r} (approve, reject or pay)", field="decision")
        old, new = MOVES[decision]
        disaster_id = await self._store.disaster.decide_support(
            support_id, old, new, note, self._audit(actor, None, f"support-{new}", str(support_id), old, new))
        self._changed(disaster_id, "support")
        return await self.support(support_id)

    async def support_list(self, disaster_id: int) -> list[SupportApplication]:
        return await self._store.disaster.support_list(disaster_id)
