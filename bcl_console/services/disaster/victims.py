"""The victim ledger (被災者台帳): every person of every assessed household with
whereabouts, injury, centre and support; extracts of it and its CSV export."""

from __future__ import annotations

import asyncio
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bcl_console.domain.damage import DamageClass, parse_damage_class
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.support import at_least, parse_injury, parse_whereabouts
from bcl_console.services.disaster.common import MAX_TEXT, DisasterPart
from bcl_console.services.platform.actor import Actor
from bcl_console.store.api import LEDGER_COLUMNS, LedgerEntry


@dataclass(frozen=True)
class LedgerExport:
    disaster_id: int
    out: Path
    people: int
    households: int

    def as_dict(self) -> dict[str, Any]:
        return {"disaster_id": self.disaster_id, "out": str(self.out), "people": self.people,
                "households": self.households}


class VictimLedger(DisasterPart):
    async def ledger(self, disaster_id: int, *, code: str | None = None, min_class: str | None = None,
                     needs_help: bool = False, whereabouts: str | None = None) -> list[LedgerEntry]:
        """People of assessed households; e.g. every household at 半壊 or worse (``min_class``),
        every person needing help in a damaged household (``needs_help``)."""
        threshold = parse_damage_class(min_class) if min_class else None
        place = parse_whereabouts(whereabouts) if whereabouts else None
        out = []
        for r in await self._store.disaster.ledger(disaster_id, code):
            if threshold and not at_least(DamageClass(r.damage_class), threshold):
                continue
            if needs_help and (not r.needs_evacuation_help or r.damage_class == DamageClass.PARTIAL.value):
                continue
            if place and r.whereabouts != place.value:
                continue
            out.append(r)
        return out

    async def export_ledger(self, disaster_id: int, out: Path, **filters: Any) -> LedgerExport:
        rows = await self.ledger(disaster_id, **filters)

        def write() -> None:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(out.suffix + ".tmp")
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(LEDGER_COLUMNS))
                writer.writeheader()
                writer.writerows(r.as_dict() for r in rows)
            tmp.replace(out)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise InvalidInput(f"{out} cannot be written: {exc.strerror}", field="out") from None
        return LedgerExport(disaster_id, out, len(rows), len({(r.municipality_code, r.household_number) for r in rows}))

    async def set_person(self, disaster_id: int, code: str, resident: str, *, whereabouts: str | None = None,
                         injury: str | None = None, note: str | None = None, actor: Actor) -> None:
        place = parse_whereabouts(whereabouts).value if whereabouts else None
        hurt = parse_injury(injury).value if injury else None
        if note is not None and len(note) > MAX_TEXT:
            raise InvalidInput(f"the note is longer than {MAX_TEXT} characters", field="note")
        audit = self._audit(actor, code, "victim", f"{disaster_id}/{resident}", None,
                            ", ".join(x for x in (place, hurt) if x) or "note")
        await self._store.disaster.set_person(disaster_id, code, resident, whereabouts=place, injury=hurt, note=note,
                                              audit=audit)
        self._changed(disaster_id, "person")
