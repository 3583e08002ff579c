"""Disaster-victim support (クラウド型被災者支援システム): disasters, damage assessments
with revisions and CSV import, the victim ledger (被災者台帳) with extracts and CSV export,
evacuation centres with card check-in, support payments (被災者生活再建支援金), the list of
people needing evacuation help with their plans, and residents' online applications.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bcl_console.domain.codes import validate_municipality_code
from bcl_console.domain.damage import DamageClass, class_from_ratio, parse_damage_class
from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.domain.linkage import Problems
from bcl_console.domain.support import (
    SEVERITY,
    Whereabouts,
    at_least,
    check_capacity,
    check_ratio,
    parse_injury,
    parse_rebuild_method,
    parse_whereabouts,
    support_amount,
)
from bcl_console.domain.wareki import parse_date
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now, today_in_japan
from bcl_console.services.platform.events import EventBus, LedgerChanged
from bcl_console.store import Conn, Database, IntegrityError
from bcl_console.store import disasters as disaster_store
from bcl_console.store import ledger as store
from bcl_console.store import municipalities as muni_store
from bcl_console.store.audit import AuditEntry, append_audit
from bcl_console.store.ledger import DisasterRow, ShelterRow

MAX_TEXT = 200
MAX_CSV_BYTES = 50 * 1024 * 1024
ASSESSMENT_COLUMNS = ("municipality_code", "household_number", "damage_ratio", "damage_class", "inspector",
                      "assessed_on")
DISASTER_KINDS = ("flood", "earthquake", "typhoon", "landslide", "tsunami", "snow", "fire", "volcano", "other")


class AssessmentsRejected(InvalidInput):
    """A bulk import with problems: nothing was written; every problem is listed."""

    def __init__(self, problems: Problems, path: Path) -> None:
        first = problems.items[0] if problems.items else None
        where = f"{first.file}:{first.line} [{first.column}] {first.reason}" if first else ""
        super().__init__(f"{path.name} was rejected with {len(problems)} problem(s), nothing imported: {where}",
                         field="file")
        self.problems = problems


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


def _text(value: str, field: str, limit: int = MAX_TEXT) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput(f"{field} is empty", field=field)
    if len(cleaned) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    return cleaned


def _day(text: str, field: str, today: date) -> date:
    try:
        return parse_date(text.strip(), today=today)
    except InvalidInput as exc:
        raise InvalidInput(f"{field} {text!r}: {exc.message}", field=field) from None


def assessed_class(ratio: int | None, damage_class: str | None) -> DamageClass:
    """The class from a ratio, a class, or both (then they must agree)."""
    if ratio is None and not damage_class:
        raise InvalidInput("give a damage ratio or a damage class", field="ratio")
    by_ratio = class_from_ratio(check_ratio(ratio)) if ratio is not None else None
    by_name = parse_damage_class(damage_class) if damage_class else None
    if by_ratio and by_name and by_ratio is not by_name:
        raise InvalidInput(f"a damage ratio of {ratio}% is {by_ratio.value}, not {by_name.value}", field="class")
    result = by_ratio or by_name
    assert result is not None
    return result


class LedgerService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus

    def today(self) -> date:
        return today_in_japan(self._clock)

    def _changed(self, disaster_id: int | None, what: str) -> None:
        self._bus.publish(LedgerChanged(disaster_id, what))

    # -- disasters -------------------------------------------------------------------------------
    async def declare(self, name: str, kind: str, occurred_on: str, municipalities: list[str], *,
                      actor: Actor) -> DisasterView:
        title = _text(name, "name", 80)
        if kind not in DISASTER_KINDS:
            raise InvalidInput(f"unknown disaster kind {kind!r} (one of {', '.join(DISASTER_KINDS)})", field="kind")
        today = self.today()
        day = _day(occurred_on, "date", today)
        if day > today:
            raise InvalidInput(f"the disaster date {day.isoformat()} is in the future", field="date")
        codes = sorted({validate_municipality_code(c.strip()) for c in municipalities if c.strip()})
        if not codes:
            raise InvalidInput("name at least one affected municipality", field="municipality")
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            for code in codes:
                if not muni_store.municipality_exists(conn, code):
                    raise NotFound(f"municipality {code} is not registered", field="municipality")
            disaster_id = disaster_store.insert_disaster(conn, title, kind, day.isoformat(), at, codes)
            for code in codes:
                append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "disaster-declared",
                                              "disaster", None, f"{disaster_id}: {title}"))
            return disaster_id

        disaster_id = await self._db.write(tx)
        self._changed(disaster_id, "declared")
        return await self.get(disaster_id)

    async def close(self, disaster_id: int, *, actor: Actor) -> DisasterView:
        at = iso_now(self._clock)

        def tx(conn: Conn) -> None:
            d = self._disaster(conn, disaster_id)
            if d.closed_at is not None:
                raise Conflict(f"disaster {disaster_id} was already closed at {d.closed_at[:19]}", field="disaster")
            open_centres = [s.name for s in store.list_shelters(conn, disaster_id) if s.closed_at is None]
            if open_centres:
                raise Conflict(f"close the evacuation centres first: {', '.join(open_centres)}", field="disaster")
            store.close_disaster(conn, disaster_id, at)
            for code in d.municipalities:
                append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "disaster-closed",
                                              "disaster", None, str(disaster_id)))

        await self._db.write(tx)
        self._changed(disaster_id, "closed")
        return await self.get(disaster_id)

    @staticmethod
    def _disaster(conn: Conn, disaster_id: int) -> DisasterRow:
        d = store.get_disaster(conn, disaster_id)
        if d is None:
            raise NotFound(f"there is no disaster {disaster_id}", field="disaster")
        return d

    @staticmethod
    def _check_affects(d: DisasterRow, code: str, *, must_be_open: bool = False) -> None:
        if must_be_open and d.closed_at is not None:
            raise Conflict(f"disaster {d.id} is closed", field="disaster")
        if code not in d.municipalities:
            raise InvalidInput(f"municipality {code} is not affected by disaster {d.id}", field="municipality")

    @classmethod
    def _affecting(cls, conn: Conn, disaster_id: int, code: str, *, must_be_open: bool = False) -> DisasterRow:
        """The disaster, which must affect the municipality (and be open, if asked)."""
        d = cls._disaster(conn, disaster_id)
        cls._check_affects(d, code, must_be_open=must_be_open)
        return d

    async def disasters(self) -> list[DisasterView]:
        ids = [d.id for d in await self._db.read(store.list_disasters)]
        return [await self.get(i) for i in ids]

    async def get(self, disaster_id: int) -> DisasterView:
        def q(conn: Conn) -> DisasterView:
            d = self._disaster(conn, disaster_id)
            support: dict[str, int] = {"applied": 0, "approved": 0, "paid": 0, "rejected": 0, "paid_yen": 0,
                                       "approved_yen": 0}
            for s in store.list_support(conn, disaster_id):
                support[s["state"]] += 1
                if s["state"] == "paid":
                    support["paid_yen"] += s["basic"] + s["additional"]
                if s["state"] in ("approved", "paid"):
                    support["approved_yen"] += s["basic"] + s["additional"]
            waiting = store.count_waiting_applications(conn, disaster_id)
            return DisasterView(d, store.households_by_class(conn, disaster_id),
                                store.list_shelters(conn, disaster_id), waiting, support)

        return await self._db.read(q)

    # -- damage assessments ---------------------------------------------------------------------------
    def _check_assessment(self, conn: Conn, d: DisasterRow, code: str, household: str, ratio: int | None,
                          damage_class: str | None, inspector: str, assessed_on: str) -> tuple[str, DamageClass,
                                                                                                str, str]:
        self._check_affects(d, code, must_be_open=True)
        head = store.household_head(conn, code, household)
        if head is None:
            raise NotFound(f"household {household} is not known in {code}", field="household")
        cls = assessed_class(ratio, damage_class)
        day = _day(assessed_on, "assessed_on", self.today()) if assessed_on else self.today()
        if day < d.occurred_on or day > self.today():
            raise InvalidInput(f"assessed_on {day.isoformat()} is not between the disaster and today",
                               field="assessed_on")
        return head[1], cls, _text(inspector, "inspector", 80), day.isoformat()

    async def assess(self, disaster_id: int, code: str, household: str, *, ratio: int | None = None,
                     damage_class: str | None = None, inspector: str, assessed_on: str = "",
                     actor: Actor) -> dict[str, Any]:
        at = iso_now(self._clock)

        def tx(conn: Conn) -> dict[str, Any]:
            d = self._disaster(conn, disaster_id)
            address, cls, who, day = self._check_assessment(conn, d, code, household, ratio, damage_class,
                                                            inspector, assessed_on)
            revision = store.add_assessment(conn, disaster_id, code, household, address, cls.value, ratio, who, day)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "damage-assessment",
                                          f"{disaster_id}/{household}", None, f"r{revision} {cls.value}"))
            return {"disaster_id": disaster_id, "municipality_code": code, "household_number": household,
                    "address": address, "damage_class": cls.value, "damage_ratio": ratio, "revision": revision,
                    "history": [dict(zip(("revision", "damage_class", "damage_ratio", "inspector", "assessed_on",
                                          "current"), h, strict=True))
                                for h in store.assessment_history(conn, disaster_id, code, household)]}

        result = await self._db.write(tx)
        self._changed(disaster_id, "assessment")
        return result

    async def import_assessments(self, disaster_id: int, path: Path, *, actor: Actor) -> dict[str, Any]:
        """A CSV of assessments, all or nothing; a rejection lists every problem."""
        rows = await asyncio.to_thread(_read_assessment_csv, path)
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            d = self._disaster(conn, disaster_id)
            problems = Problems()
            checked = []
            seen: set[tuple[str, str]] = set()
            for line, row in rows:
                if isinstance(row, str):
                    problems.add(path.name, line, None, row)
                    continue
                key = (row["municipality_code"], row["household_number"])
                if key in seen:
                    problems.add(path.name, line, "household_number",
                                 f"household {key[1]} of {key[0]} appears twice")
                    continue
                seen.add(key)
                try:
                    ratio = int(row["damage_ratio"]) if row["damage_ratio"].strip() else None
                except ValueError:
                    problems.add(path.name, line, "damage_ratio", f"{row['damage_ratio']!r} is not a whole number")
                    continue
                try:
                    checked.append((key, ratio, *self._check_assessment(
                        conn, d, key[0], key[1], ratio, row["damage_class"].strip() or None, row["inspector"],
                        row["assessed_on"])))
                except (InvalidInput, NotFound, Conflict) as exc:
                    problems.add(path.name, line, exc.field or None, exc.message)
            if problems or not rows:
                if not rows:
                    problems.add(path.name, None, None, "the file holds no assessments")
                raise AssessmentsRejected(problems, path)
            for (code, household), ratio, address, cls, who, day in checked:
                store.add_assessment(conn, disaster_id, code, household, address, cls.value, ratio, who, day)
            for code in sorted({c for (c, _), *_ in checked}):
                append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "damage-assessment-import",
                                              str(disaster_id), None, f"{path.name}: {len(checked)} rows"))
            return len(checked)

        imported = await self._db.write(tx)
        self._changed(disaster_id, "assessment")
        return {"disaster_id": disaster_id, "file": path.name, "imported": imported}

    async def assessment_history(self, disaster_id: int, code: str, household: str) -> list[dict[str, Any]]:
        history = await self._db.read(store.assessment_history, disaster_id, code, household)
        return [dict(zip(("revision", "damage_class", "damage_ratio", "inspector", "assessed_on", "current"),
                         h, strict=True)) for h in history]

    # -- the ledger -------------------------------------------------------------------------------------
    async def ledger(self, disaster_id: int, *, code: str | None = None, min_class: str | None = None,
                     needs_help: bool = False, whereabouts: str | None = None) -> list[dict[str, Any]]:
        """People of assessed households; e.g. every household at 半壊 or worse (``min_class``),
        every person needing help in a damaged household (``needs_help``)."""
        threshold = parse_damage_class(min_class) if min_class else None
        place = parse_whereabouts(whereabouts) if whereabouts else None

        def q(conn: Conn) -> list[dict[str, Any]]:
            self._disaster(conn, disaster_id)
            return store.ledger_rows(conn, disaster_id, code)

        rows = await self._db.read(q)
        out = []
        for r in rows:
            if threshold and not at_least(DamageClass(r["damage_class"]), threshold):
                continue
            if needs_help and (not r["needs_evacuation_help"] or r["damage_class"] == DamageClass.PARTIAL.value):
                continue
            if place and r["whereabouts"] != place.value:
                continue
            out.append(r)
        return out

    async def export_ledger(self, disaster_id: int, out: Path, **filters: Any) -> dict[str, Any]:
        rows = await self.ledger(disaster_id, **filters)

        def write() -> None:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(out.suffix + ".tmp")
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(store.LEDGER_COLUMNS))
                writer.writeheader()
                writer.writerows(rows)
            tmp.replace(out)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise InvalidInput(f"{out} cannot be written: {exc.strerror}", field="out") from None
        return {"disaster_id": disaster_id, "out": str(out), "people": len(rows),
                "households": len({(r["municipality_code"], r["household_number"]) for r in rows})}

    async def set_person(self, disaster_id: int, code: str, resident: str, *, whereabouts: str | None = None,
                         injury: str | None = None, note: str | None = None, actor: Actor) -> None:
        place = parse_whereabouts(whereabouts).value if whereabouts else None
        hurt = parse_injury(injury).value if injury else None
        if note is not None and len(note) > MAX_TEXT:
            raise InvalidInput(f"the note is longer than {MAX_TEXT} characters", field="note")
        at = iso_now(self._clock)

        def tx(conn: Conn) -> None:
            self._affecting(conn, disaster_id, code)
            if store.active_resident(conn, code, resident) is None:
                raise NotFound(f"resident {resident} is not an active resident of {code}", field="resident")
            if place is not None and place != Whereabouts.SHELTER.value and store.open_stay(conn, code, resident):
                raise Conflict(f"resident {resident} is checked in at an evacuation centre; check out first",
                               field="whereabouts")
            store.set_victim(conn, disaster_id, code, resident, at, whereabouts=place, injury=hurt, note=note)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "victim",
                                          f"{disaster_id}/{resident}", None,
                                          ", ".join(x for x in (place, hurt) if x) or "note"))

        await self._db.write(tx)
        self._changed(disaster_id, "person")

    # -- evacuation centres --------------------------------------------------------------------------------
    async def open_shelter(self, disaster_id: int, code: str, name: str, capacity: int, *,
                           actor: Actor) -> ShelterRow:
        title = _text(name, "name", 80)
        check_capacity(capacity)
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            self._affecting(conn, disaster_id, code, must_be_open=True)
            shelter_id = store.open_shelter(conn, disaster_id, code, title, capacity, at)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "shelter-opened",
                                          str(shelter_id), None, f"{title} ({capacity})"))
            return shelter_id

        shelter_id = await self._db.write(tx)
        self._changed(disaster_id, "shelter")
        return await self.shelter(shelter_id)

    async def shelter(self, shelter_id: int) -> ShelterRow:
        s = await self._db.read(store.get_shelter, shelter_id)
        if s is None:
            raise NotFound(f"there is no evacuation centre {shelter_id}", field="shelter")
        return s

    async def shelters(self, disaster_id: int | None = None) -> list[ShelterRow]:
        return await self._db.read(store.list_shelters, disaster_id)

    async def shelter_people(self, shelter_id: int) -> list[tuple[str, str, str, str]]:
        await self.shelter(shelter_id)
        return await self._db.read(store.shelter_people, shelter_id)

    async def close_shelter(self, shelter_id: int, *, actor: Actor) -> ShelterRow:
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            s = store.get_shelter(conn, shelter_id)
            if s is None:
                raise NotFound(f"there is no evacuation centre {shelter_id}", field="shelter")
            if s.closed_at is not None:
                raise Conflict(f"{s.name} is already closed", field="shelter")
            if s.occupancy:
                raise Conflict(f"{s.occupancy} people are still checked in at {s.name}; check them out first",
                               field="shelter")
            store.close_shelter(conn, shelter_id, at)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, s.municipality_code, "shelter-closed",
                                          str(shelter_id), None, s.name))
            return s.disaster_id

        disaster_id = await self._db.write(tx)
        self._changed(disaster_id, "shelter")
        return await self.shelter(shelter_id)

    async def check_in(self, shelter_id: int, code: str, resident: str, *, via: str = "hand",
                       actor: Actor) -> dict[str, Any]:
        """Check a person in: the centre must be open and not full, the person a resident
        and in no other centre; the ledger's whereabouts becomes 避難所."""
        at = iso_now(self._clock)

        def tx(conn: Conn) -> dict[str, Any]:
            s = store.get_shelter(conn, shelter_id)
            if s is None:
                raise NotFound(f"there is no evacuation centre {shelter_id}", field="shelter")
            if s.closed_at is not None:
                raise Conflict(f"{s.name} is closed", field="shelter")
            if s.occupancy >= s.capacity:
                raise Conflict(f"{s.name} is full ({s.capacity} people)", field="shelter")
            person = store.active_resident(conn, code, resident)
            if person is None:
                raise NotFound(f"resident {resident} is not an active resident of {code}", field="resident")
            stay = store.open_stay(conn, code, resident)
            if stay is not None:
                raise Conflict(f"{person[0]} is already checked in at {stay[2]}", field="resident")
            try:
                stay_id = store.check_in(conn, shelter_id, code, resident, at, via)
            except IntegrityError:
                raise Conflict(f"{person[0]} is already checked in elsewhere", field="resident") from None
            store.set_victim(conn, s.disaster_id, code, resident, at, whereabouts=Whereabouts.SHELTER.value)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "shelter-check-in",
                                          str(shelter_id), None, f"{resident} via {via}"))
            return {"stay_id": stay_id, "shelter": {"id": s.id, "name": s.name}, "resident_code": resident,
                    "name": person[0], "occupancy": s.occupancy + 1, "capacity": s.capacity,
                    "disaster_id": s.disaster_id}

        result = await self._db.write(tx)
        self._changed(result["disaster_id"], "check-in")
        return result

    async def check_out(self, code: str, resident: str, *, whereabouts: str = "home",
                        actor: Actor) -> dict[str, Any]:
        place = parse_whereabouts(whereabouts)
        if place is Whereabouts.SHELTER:
            raise InvalidInput("after checking out the whereabouts cannot be a shelter; check in there instead",
                               field="whereabouts")
        at = iso_now(self._clock)

        def tx(conn: Conn) -> dict[str, Any]:
            stay = store.open_stay(conn, code, resident)
            if stay is None:
                raise Conflict(f"resident {resident} is not checked in at any evacuation centre", field="resident")
            s = store.get_shelter(conn, stay[1])
            assert s is not None
            store.check_out(conn, stay[0], at)
            store.set_victim(conn, s.disaster_id, code, resident, at, whereabouts=place.value)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "shelter-check-out",
                                          str(s.id), None, f"{resident} → {place.value}"))
            return {"shelter": {"id": s.id, "name": s.name}, "resident_code": resident,
                    "whereabouts": place.value, "disaster_id": s.disaster_id}

        result = await self._db.write(tx)
        self._changed(result["disaster_id"], "check-out")
        return result

    # -- support payments ---------------------------------------------------------------------------------
    async def apply_support(self, disaster_id: int, code: str, household: str, *, method: str | None = None,
                            demolished: bool = False, long_term: bool = False, actor: Actor) -> dict[str, Any]:
        rebuild = parse_rebuild_method(method)
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            self._affecting(conn, disaster_id, code)
            if store.household_head(conn, code, household) is None:
                raise NotFound(f"household {household} is not known in {code}", field="household")
            cls_text = store.current_class(conn, disaster_id, code, household)
            if cls_text is None:
                raise InvalidInput(f"household {household} has no damage assessment for disaster {disaster_id}",
                                   field="household")
            existing = store.open_support(conn, disaster_id, code, household)
            if existing is not None:
                raise Conflict(f"household {household} already has support application {existing}",
                               field="household")
            members = store.household_members_count(conn, code, household)
            amount = support_amount(DamageClass(cls_text), members, rebuild, demolished=demolished,
                                    long_term_evacuation=long_term)
            support_id = store.insert_support(conn, {
                "disaster_id": disaster_id, "municipality_code": code, "household_number": household,
                "damage_class": cls_text, "members": members, "rebuild_method": rebuild.value if rebuild else None,
                "demolished": int(demolished), "long_term": int(long_term), "basic": amount.basic,
                "additional": amount.additional, "state": "applied", "applied_at": at})
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "support-applied",
                                          f"{disaster_id}/{household}", None, f"{amount.total:,}円"))
            return support_id

        support_id = await self._db.write(tx)
        self._changed(disaster_id, "support")
        return await self.support(support_id)

    async def support(self, support_id: int) -> dict[str, Any]:
        s = await self._db.read(store.get_support, support_id)
        if s is None:
            raise NotFound(f"there is no support application {support_id}", field="application")
        return {**s, "total": s["basic"] + s["additional"]}

    async def decide_support(self, support_id: int, decision: str, *, note: str | None = None,
                             actor: Actor) -> dict[str, Any]:
        """approve or reject an application; pay an approved one."""
        moves = {"approve": ("applied", "approved"), "reject": ("applied", "rejected"), "pay": ("approved", "paid")}
        if decision not in moves:
            raise InvalidInput(f"unknown decision {decision!r} (approve, reject or pay)", field="decision")
        old, new = moves[decision]
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            s = store.get_support(conn, support_id)
            if s is None:
                raise NotFound(f"there is no support application {support_id}", field="application")
            if not store.set_support_state(conn, support_id, old, new, at, actor.name, note):
                raise Conflict(f"application {support_id} is {s['state']}; only an {old} one can be {new}",
                               field="application")
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, s["municipality_code"], f"support-{new}",
                                          str(support_id), old, new))
            return int(s["disaster_id"])

        disaster_id = await self._db.write(tx)
        self._changed(disaster_id, "support")
        return await self.support(support_id)

    async def support_list(self, disaster_id: int) -> list[dict[str, Any]]:
        await self.get(disaster_id)
        return [{**s, "total": s["basic"] + s["additional"]}
                for s in await self._db.read(store.list_support, disaster_id)]

    # -- people needing evacuation help ---------------------------------------------------------------------
    async def needs_help(self, code: str) -> list[dict[str, Any]]:
        if not await self._db.read(muni_store.municipality_exists, code):
            raise NotFound(f"municipality {code} is not registered", field="code")
        return await self._db.read(store.needs_help, code)

    async def set_plan(self, code: str, resident: str, *, supporter: str, destination: str, notes: str = "",
                       actor: Actor) -> dict[str, Any]:
        who = _text(supporter, "supporter", 80)
        where = _text(destination, "destination", 80)
        if len(notes) > 500:
            raise InvalidInput("the notes are longer than 500 characters", field="notes")
        at = iso_now(self._clock)

        def tx(conn: Conn) -> None:
            person = store.active_resident(conn, code, resident)
            if person is None:
                raise NotFound(f"resident {resident} is not an active resident of {code}", field="resident")
            address = store.resident_address(conn, code, resident)
            store.upsert_plan(conn, code, resident, who, where, notes.strip(), address, at, actor.name)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "evacuation-plan", resident,
                                          None, f"{who} → {where}"))

        await self._db.write(tx)
        self._changed(None, "plan")
        return next(r for r in await self.needs_help(code) if r["resident_code"] == resident)

    # -- online applications ---------------------------------------------------------------------------------
    async def apply_online(self, code: str, resident: str, disaster_id: int) -> dict[str, Any]:
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            d = self._disaster(conn, disaster_id)
            if code not in d.municipalities:
                raise InvalidInput(f"your municipality is not affected by disaster {disaster_id}",
                                   field="disaster_id")
            if store.active_resident(conn, code, resident) is None:
                raise NotFound("the card holder is not a resident of an affected municipality", field="resident")
            if store.waiting_application(conn, code, resident, disaster_id) is not None:
                raise Conflict("an application of yours for this disaster is already waiting", field="disaster_id")
            return store.insert_application(conn, code, resident, disaster_id, at)

        application_id = await self._db.write(tx)
        self._changed(disaster_id, "application")
        return await self.application(application_id)

    async def application(self, application_id: int) -> dict[str, Any]:
        a = await self._db.read(store.get_application, application_id)
        if a is None:
            raise NotFound(f"there is no application {application_id}", field="application")
        return a

    async def applications(self, state: str | None = None) -> list[dict[str, Any]]:
        return await self._db.read(store.list_applications, state)

    async def decide_application(self, application_id: int, approve: bool, *, reason: str | None = None,
                                 actor: Actor) -> dict[str, Any]:
        """Approving needs the household's damage assessment: then its disaster certificate
        is available at stores and the counter."""
        at = iso_now(self._clock)

        def tx(conn: Conn) -> int:
            a = store.get_application(conn, application_id)
            if a is None:
                raise NotFound(f"there is no application {application_id}", field="application")
            if a["state"] != "waiting":
                raise Conflict(f"application {application_id} was already {a['state']}", field="application")
            person = store.active_resident(conn, a["municipality_code"], a["resident_code"])
            if approve:
                if person is None or store.current_class(conn, a["disaster_id"], a["municipality_code"],
                                                         person[1]) is None:
                    raise InvalidInput("the applicant's household has no damage assessment yet; assess it first",
                                       field="application")
            store.decide_application(conn, application_id, "approved" if approve else "rejected", at, actor.name,
                                     reason)
            append_audit(conn, AuditEntry(at, actor.name, actor.interface, a["municipality_code"],
                                          "application-" + ("approved" if approve else "rejected"),
                                          str(application_id), "waiting", reason))
            return int(a["disaster_id"])

        disaster_id = await self._db.write(tx)
        self._changed(disaster_id, "application")
        return await self.application(application_id)


def _read_assessment_csv(path: Path) -> list[tuple[int, dict[str, str] | str]]:
    """Rows of an assessments CSV as (line, row or the row's problem); a file-level problem raises."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read: {exc.strerror}", field="file") from None
    if size > MAX_CSV_BYTES:
        raise InvalidInput(f"{path.name} is larger than {MAX_CSV_BYTES // 1024 // 1024} MB", field="file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp932")
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name} is neither UTF-8 nor cp932", field="file") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(f"{path.name}:1 is empty (no header row)", field="file") from None
    missing = [c for c in ("municipality_code", "household_number", "inspector") if c not in header]
    unknown = [c for c in header if c not in ASSESSMENT_COLUMNS]
    if missing or unknown or not ({"damage_ratio", "damage_class"} & set(header)):
        why = "; ".join(filter(None, [
            f"missing column(s) {', '.join(missing)}" if missing else "",
            f"unknown column(s) {', '.join(unknown)}" if unknown else "",
            "needs damage_ratio or damage_class" if not ({"damage_ratio", "damage_class"} & set(header)) else ""]))
        raise InvalidInput(f"{path.name}:1 {why}", field="header")
    out: list[tuple[int, dict[str, str] | str]] = []
    for values in reader:
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            out.append((reader.line_num, f"the row has {len(values)} fields, the header has {len(header)}"))
            continue
        out.append((reader.line_num, {c: "" for c in ASSESSMENT_COLUMNS}
                    | dict(zip(header, (v.strip() for v in values), strict=True))))
    return out
