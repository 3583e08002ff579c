"""Finding residents by what an operator knows of them: a name or its reading, a
household number, or the 11-digit resident code itself."""

from __future__ import annotations

from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.domain.kana import normalise_kana
from bcl_console.domain.resident import Resident
from bcl_console.store.api import Store

MAX_RESULTS = 20


class ResidentDirectory:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def find(self, text: str, municipality_code: str | None = None,
                   limit: int = MAX_RESULTS) -> list[Resident]:
        query = text.strip()
        if not query:
            raise InvalidInput("give a name, a reading (kana), a household number or a resident code",
                               field="query")
        found = await self._store.residents.search_residents(query, municipality_code, limit)
        kana = normalise_kana(query)
        if kana != query and len(found) < limit:  # ｶﾅ (half-width) finds カナ too
            extra = await self._store.residents.search_residents(kana, municipality_code, limit)
            seen = {(r.municipality_code, r.resident_code) for r in found}
            found += [r for r in extra if (r.municipality_code, r.resident_code) not in seen][:limit - len(found)]
        return found

    async def by_code(self, resident_code: str) -> Resident | None:
        """A resident by 住民票コード alone (the code is unique nationwide; an active record
        first): what an own-server municipality's server answers about its residents."""
        return await self._store.residents.find_resident(resident_code)

    async def one(self, text: str, municipality_code: str) -> Resident:
        """The one resident ``text`` names in a municipality, or a refusal that lists the
        candidates so the operator can say more."""
        found = await self.find(text, municipality_code, limit=6)
        if not found:
            raise NotFound(f"no resident of {municipality_code} matches {text.strip()!r}", field="resident")
        if len(found) > 1 and not any(r.resident_code == text.strip() for r in found):
            listed = "; ".join(f"{r.resident_code} {r.name} ({r.name_kana}, 世帯 {r.household_number})"
                               for r in found[:5])
            raise InvalidInput(f"{len(found) if len(found) < 6 else 'more than 5'} residents match: {listed}"
                               " — give more of the name or the code", field="resident")
        return next((r for r in found if r.resident_code == text.strip()), found[0])
