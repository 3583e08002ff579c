"""People needing evacuation help (避難行動要支援者名簿) and their individual plans;
a linkage batch flags a plan for review, never drops it."""

from __future__ import annotations

from bcl_console.domain.errors import InvalidInput
from bcl_console.services.disaster.common import DisasterPart, text
from bcl_console.services.platform.actor import Actor
from bcl_console.store.api import HelpEntry


class EvacuationPlans(DisasterPart):
    async def needs_help(self, code: str) -> list[HelpEntry]:
        return await self._store.disaster.needs_help(code)

    async def set_plan(self, code: str, resident: str, *, supporter: str, destination: str, notes: str = "",
                       actor: Actor) -> HelpEntry:
        who = text(supporter, "supporter", 80)
        where = text(destination, "destination", 80)
        if len(notes) > 500:
            raise InvalidInput("the notes are longer than 500 characters", field="notes")
        await self._store.disaster.set_plan(code, resident, who, where, notes.strip(),
                                            self._audit(actor, code, "evacuation-plan", resident, None,
                                                        f"{who} → {where}"))
        self._changed(None, "plan")
        return next(r for r in await self.needs_help(code) if r.resident_code == resident)
