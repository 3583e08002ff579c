"""Evacuation centres (避難所): opened for a disaster, people checked in by hand or by
card (their ledger whereabouts become 避難所) and out again, closed when empty."""

from __future__ import annotations

from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.domain.support import Whereabouts, check_capacity, parse_whereabouts
from bcl_console.services.disaster.common import DisasterPart, text
from bcl_console.services.platform.actor import Actor
from bcl_console.store.api import CheckIn, CheckOut, ShelterPerson, ShelterRow


class ShelterService(DisasterPart):
    async def open_shelter(self, disaster_id: int, code: str, name: str, capacity: int, *,
                           actor: Actor) -> ShelterRow:
        title = text(name, "name", 80)
        check_capacity(capacity)
        shelter_id = await self._store.disaster.open_shelter(
            disaster_id, code, title, capacity, self._audit(actor, code, "shelter-opened", None, None,
                                                            f"{title} ({capacity})"))
        self._changed(disaster_id, "shelter")
        return await self.shelter(shelter_id)

    async def shelter(self, shelter_id: int) -> ShelterRow:
        s = await self._store.disaster.shelter(shelter_id)
        if s is None:
            raise NotFound(f"there is no evacuation centre {shelter_id}", field="shelter")
        return s

    async def shelters(self, disaster_id: int | None = None) -> list[ShelterRow]:
        return await self._store.disaster.shelters(disaster_id)

    async def shelter_people(self, shelter_id: int) -> list[ShelterPerson]:
        await self.shelter(shelter_id)
        return await self._store.disaster.shelter_people(shelter_id)

    async def close_shelter(self, shelter_id: int, *, actor: Actor) -> ShelterRow:
        disaster_id = await self._store.disaster.close_shelter(
            shelter_id, self._audit(actor, None, "shelter-closed", str(shelter_id)))
        self._changed(disaster_id, "shelter")
        return await self.shelter(shelter_id)

    async def check_in(self, shelter_id: int, code: str, resident: str, *, via: str = "hand",
                       actor: Actor) -> CheckIn:
        """Check a person in: the centre must be open and not full, the person a resident
        and in no other centre; the ledger's whereabouts becomes 避難所."""
        done = await self._store.disaster.check_in(
            shelter_id, code, resident, via,
            self._audit(actor, code, "shelter-check-in", str(shelter_id), None, f"{resident} via {via}"))
        self._changed(done.disaster_id, "check-in")
        return done

    async def check_out(self, code: str, resident: str, *, whereabouts: str = "home", actor: Actor) -> CheckOut:
        place = parse_whereabouts(whereabouts)
        if place is Whereabouts.SHELTER:
            raise InvalidInput("after checking out the whereabouts cannot be a shelter; check in there instead",
                               field="whereabouts")
        done = await self._store.disaster.check_out(
            code, resident, place.value,
            self._audit(actor, code, "shelter-check-out", None, None, f"{resident} → {place.value}"))
        self._changed(done.disaster_id, "check-out")
        return done
