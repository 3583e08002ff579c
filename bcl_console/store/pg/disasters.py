"""Disasters and their facts (PostgreSQL): the counterpart of ``store/disasters.py``.
Each write of the disaster API (declare, assess, check in, decide …) is one function
here, run whole in one SERIALIZABLE transaction with its audit lines (``pg/db.py``), so
it may run more than once and does nothing but database work; the checks it is given
(``AssessmentCheck``, ``ImportCheck``, ``ReportDate``) are plain functions of what it
read. ``PgDisaster`` serves them as the ``DisasterStore``. The queries they are made of
are in ``pg/ledger``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from bcl_console.domain.damage import DamageClass
from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.domain.support import RebuildMethod, Whereabouts, support_amount
from bcl_console.store.api import (
    Assessment,
    AssessmentCheck,
    AssessmentRevision,
    AuditEntry,
    CheckIn,
    CheckOut,
    DisasterRow,
    DisasterState,
    HelpEntry,
    ImportCheck,
    LedgerEntry,
    OnlineApplication,
    ReportDate,
    ShelterPerson,
    ShelterRow,
    SupportApplication,
    VictimReport,
)
from bcl_console.store.pg import ledger as q
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase, UniqueViolation
from bcl_console.store.pg.tokens import municipality_exists


async def insert_disaster(conn: Conn, name: str, kind: str, occurred_on: str, declared_at: str,
                          municipalities: Iterable[str]) -> int:
    disaster_id = int(await conn.fetchval(
        "INSERT INTO disasters (name, kind, occurred_on, declared_at) VALUES ($1,$2,$3,$4) RETURNING id",
        name, kind, occurred_on, declared_at))
    await conn.executemany(
        "INSERT INTO disaster_municipalities (disaster_id, municipality_code) VALUES ($1,$2)",
        [(disaster_id, code) for code in municipalities])
    return disaster_id


async def insert_assessments(conn: Conn, rows: Iterable[Sequence[Any]]) -> None:
    """Rows: (disaster_id, municipality_code, household_number, address, damage_class,
    damage_ratio, inspector, assessed_on, flood_level, flood_depth_cm)."""
    await conn.executemany(
        "INSERT INTO damage_assessments (disaster_id, municipality_code, household_number, address, "
        "damage_class, damage_ratio, inspector, assessed_on, flood_level, flood_depth_cm) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        [tuple(r) for r in rows])


async def heads_of_households(conn: Conn, code: str) -> list[tuple[str, str]]:
    """(household_number, address) of every household with an active head, in order."""
    rows = await conn.fetch(
        "SELECT household_number, address FROM residents WHERE municipality_code = $1 "
        "AND relationship = '世帯主' AND status = 'active' ORDER BY household_number COLLATE \"C\"", code)
    return [(r[0], r[1]) for r in rows]


# -- the facts of the disaster API: one transaction each ----------------------------------------------


async def _disaster(conn: Conn, disaster_id: int) -> DisasterRow:
    d = await q.get_disaster(conn, disaster_id)
    if d is None:
        raise NotFound(f"there is no disaster {disaster_id}", field="disaster")
    return d


async def _shelter(conn: Conn, shelter_id: int) -> ShelterRow:
    s = await q.get_shelter(conn, shelter_id)
    if s is None:
        raise NotFound(f"there is no evacuation centre {shelter_id}", field="shelter")
    return s


async def _active_resident(conn: Conn, code: str, resident: str) -> tuple[str, str]:
    person = await q.active_resident(conn, code, resident)
    if person is None:
        raise NotFound(f"resident {resident} is not an active resident of {code}", field="resident")
    return person


async def declare(conn: Conn, name: str, kind: str, occurred_on: date, codes: list[str], audit: AuditEntry) -> int:
    for code in codes:
        if not await municipality_exists(conn, code):
            raise NotFound(f"municipality {code} is not registered", field="municipality")
    disaster_id = await insert_disaster(conn, name, kind, occurred_on.isoformat(), audit.at, codes)
    for code in codes:
        await append_audit(conn, replace(audit, municipality_code=code, new_value=f"{disaster_id}: {name}"))
    return disaster_id


async def close(conn: Conn, disaster_id: int, audit: AuditEntry) -> None:
    d = await _disaster(conn, disaster_id)
    if d.closed_at is not None:
        raise Conflict(f"disaster {disaster_id} was already closed at {d.closed_at[:19]}", field="disaster")
    open_centres = [s.name for s in await q.list_shelters(conn, disaster_id) if s.closed_at is None]
    if open_centres:
        raise Conflict(f"close the evacuation centres first: {', '.join(open_centres)}", field="disaster")
    await q.close_disaster(conn, disaster_id, audit.at)
    for code in d.municipalities:
        await append_audit(conn, replace(audit, municipality_code=code, new_value=str(disaster_id)))


async def state(conn: Conn, disaster_id: int) -> DisasterState:
    d = await _disaster(conn, disaster_id)
    return DisasterState(d, await q.households_by_class(conn, disaster_id), await q.list_shelters(conn, disaster_id),
                         await q.count_waiting_applications(conn, disaster_id), await q.list_support(conn, disaster_id))


async def _address(conn: Conn, code: str, household: str) -> str | None:
    head = await q.household_head(conn, code, household)
    return None if head is None else head[1]


async def assess(conn: Conn, disaster_id: int, code: str, household: str, check: AssessmentCheck,
                 audit: AuditEntry) -> Assessment:
    d = await _disaster(conn, disaster_id)
    a = check(d, await _address(conn, code, household))
    revision = await q.add_assessment(conn, disaster_id, code, household, a.address, a.damage_class,
                                      a.damage_ratio, a.inspector, a.assessed_on, a.flood_level, a.flood_depth_cm)
    await append_audit(conn, replace(audit, new_value=f"r{revision} {a.damage_class}"))
    return Assessment(disaster_id, code, household, a.address, a.damage_class, a.damage_ratio, revision,
                      tuple(await q.assessment_history(conn, disaster_id, code, household)),
                      a.flood_level, a.flood_depth_cm)


async def import_assessments(conn: Conn, disaster_id: int, households: list[tuple[str, str]], check: ImportCheck,
                             source: str, audit: AuditEntry) -> int:
    d = await _disaster(conn, disaster_id)
    rows = check(d, {key: await _address(conn, *key) for key in households})
    for (code, household), a in rows:
        await q.add_assessment(conn, disaster_id, code, household, a.address, a.damage_class, a.damage_ratio,
                               a.inspector, a.assessed_on, a.flood_level, a.flood_depth_cm)
    for code in sorted({c for (c, _), _ in rows}):
        await append_audit(conn, replace(audit, municipality_code=code, new_value=f"{source}: {len(rows)} rows"))
    return len(rows)


async def ledger(conn: Conn, disaster_id: int, code: str | None) -> list[LedgerEntry]:
    await _disaster(conn, disaster_id)
    return await q.ledger_rows(conn, disaster_id, code)


async def set_person(conn: Conn, disaster_id: int, code: str, resident: str, whereabouts: str | None,
                     injury: str | None, note: str | None, audit: AuditEntry) -> None:
    (await _disaster(conn, disaster_id)).check_affects(code)
    await _active_resident(conn, code, resident)
    if (whereabouts is not None and whereabouts != Whereabouts.SHELTER.value
            and await q.open_stay(conn, code, resident)):
        raise Conflict(f"resident {resident} is checked in at an evacuation centre; check out first",
                       field="whereabouts")
    await q.set_victim(conn, disaster_id, code, resident, audit.at, whereabouts=whereabouts, injury=injury,
                       note=note)
    await append_audit(conn, audit)


async def open_shelter(conn: Conn, disaster_id: int, code: str, name: str, capacity: int, audit: AuditEntry) -> int:
    (await _disaster(conn, disaster_id)).check_affects(code, must_be_open=True)
    shelter_id = await q.open_shelter(conn, disaster_id, code, name, capacity, audit.at)
    await append_audit(conn, replace(audit, field=str(shelter_id)))
    return shelter_id


async def close_shelter(conn: Conn, shelter_id: int, audit: AuditEntry) -> int:
    s = await _shelter(conn, shelter_id)
    if s.closed_at is not None:
        raise Conflict(f"{s.name} is already closed", field="shelter")
    if s.occupancy:
        raise Conflict(f"{s.occupancy} people are still checked in at {s.name}; check them out first",
                       field="shelter")
    await q.close_shelter(conn, shelter_id, audit.at)
    await append_audit(conn, replace(audit, municipality_code=s.municipality_code, new_value=s.name))
    return s.disaster_id


async def check_in(conn: Conn, shelter_id: int, code: str, resident: str, via: str, audit: AuditEntry) -> CheckIn:
    s = await _shelter(conn, shelter_id)
    if s.closed_at is not None:
        raise Conflict(f"{s.name} is closed", field="shelter")
    if s.occupancy >= s.capacity:
        raise Conflict(f"{s.name} is full ({s.capacity} people)", field="shelter")
    name, _ = await _active_resident(conn, code, resident)
    stay = await q.open_stay(conn, code, resident)
    if stay is not None:
        raise Conflict(f"{name} is already checked in at {stay[2]}", field="resident")
    # The partial unique index (one open stay a person) is the last word. The error ends
    # the whole transaction, so no savepoint is needed: nothing runs after it. A check-in
    # of the same person by a concurrent transaction mostly shows as a serialization
    # failure instead, and the write is run again (then open_stay above answers).
    try:
        stay_id = await q.check_in(conn, shelter_id, code, resident, audit.at, via)
    except UniqueViolation:
        raise Conflict(f"{name} is already checked in elsewhere", field="resident") from None
    await q.set_victim(conn, s.disaster_id, code, resident, audit.at, whereabouts=Whereabouts.SHELTER.value)
    await append_audit(conn, audit)
    return CheckIn(stay_id, s.id, s.name, resident, name, s.occupancy + 1, s.capacity, s.disaster_id)


async def check_out(conn: Conn, code: str, resident: str, whereabouts: str, audit: AuditEntry) -> CheckOut:
    stay = await q.open_stay(conn, code, resident)
    if stay is None:
        raise Conflict(f"resident {resident} is not checked in at any evacuation centre", field="resident")
    s = await q.get_shelter(conn, stay[1])
    assert s is not None
    await q.check_out(conn, stay[0], audit.at)
    await q.set_victim(conn, s.disaster_id, code, resident, audit.at, whereabouts=whereabouts)
    await append_audit(conn, replace(audit, field=str(s.id)))
    return CheckOut(s.id, s.name, resident, whereabouts, s.disaster_id)


async def apply_support(conn: Conn, disaster_id: int, code: str, household: str, rebuild: RebuildMethod | None,
                        demolished: bool, long_term: bool, audit: AuditEntry) -> int:
    (await _disaster(conn, disaster_id)).check_affects(code)
    if await q.household_head(conn, code, household) is None:
        raise NotFound(f"household {household} is not known in {code}", field="household")
    cls_text = await q.current_class(conn, disaster_id, code, household)
    if cls_text is None:
        raise InvalidInput(f"household {household} has no damage assessment for disaster {disaster_id}",
                           field="household")
    existing = await q.open_support(conn, disaster_id, code, household)
    if existing is not None:
        raise Conflict(f"household {household} already has support application {existing}", field="household")
    members = await q.household_members_count(conn, code, household)
    amount = support_amount(DamageClass(cls_text), members, rebuild, demolished=demolished,
                            long_term_evacuation=long_term)
    support_id = await q.insert_support(conn, {
        "disaster_id": disaster_id, "municipality_code": code, "household_number": household,
        "damage_class": cls_text, "members": members, "rebuild_method": rebuild.value if rebuild else None,
        "demolished": int(demolished), "long_term": int(long_term), "basic": amount.basic,
        "additional": amount.additional, "state": "applied", "applied_at": audit.at})
    await append_audit(conn, replace(audit, new_value=f"{amount.total:,}円"))
    return support_id


async def decide_support(conn: Conn, support_id: int, old: str, new: str, note: str | None,
                         audit: AuditEntry) -> int:
    s = await q.get_support(conn, support_id)
    if s is None:
        raise NotFound(f"there is no support application {support_id}", field="application")
    if not await q.set_support_state(conn, support_id, old, new, audit.at, audit.actor, note):
        raise Conflict(f"application {support_id} is {s.state}; only an {old} one can be {new}", field="application")
    await append_audit(conn, replace(audit, municipality_code=s.municipality_code))
    return s.disaster_id


async def support_list(conn: Conn, disaster_id: int) -> list[SupportApplication]:
    await _disaster(conn, disaster_id)
    return await q.list_support(conn, disaster_id)


async def needs_help(conn: Conn, code: str) -> list[HelpEntry]:
    if not await municipality_exists(conn, code):
        raise NotFound(f"municipality {code} is not registered", field="code")
    return await q.needs_help(conn, code)


async def set_plan(conn: Conn, code: str, resident: str, supporter: str, destination: str, notes: str,
                   audit: AuditEntry) -> None:
    await _active_resident(conn, code, resident)
    address = await q.resident_address(conn, code, resident)
    await q.upsert_plan(conn, code, resident, supporter, destination, notes, address, audit.at, audit.actor)
    await append_audit(conn, audit)


async def apply_online(conn: Conn, code: str, resident: str, disaster_id: int, at: str) -> int:
    d = await _disaster(conn, disaster_id)
    if code not in d.municipalities:
        raise InvalidInput(f"your municipality is not affected by disaster {disaster_id}", field="disaster_id")
    if await q.active_resident(conn, code, resident) is None:
        raise NotFound("the card holder is not a resident of an affected municipality", field="resident")
    if await q.waiting_application(conn, code, resident, disaster_id) is not None:
        raise Conflict("an application of yours for this disaster is already waiting", field="disaster_id")
    return await q.insert_application(conn, code, resident, disaster_id, at)


async def decide_application(conn: Conn, application_id: int, approve: bool, reason: str | None,
                             audit: AuditEntry) -> int:
    """Approving needs the household's damage assessment: then its disaster certificate
    is available at stores and the counter."""
    a = await q.get_application(conn, application_id)
    if a is None:
        raise NotFound(f"there is no application {application_id}", field="application")
    if a.state != "waiting":
        raise Conflict(f"application {application_id} was already {a.state}", field="application")
    person = await q.active_resident(conn, a.municipality_code, a.resident_code)
    if approve and (person is None
                    or await q.current_class(conn, a.disaster_id, a.municipality_code, person[1]) is None):
        raise InvalidInput("the applicant's household has no damage assessment yet; assess it first",
                           field="application")
    await q.decide_application(conn, application_id, "approved" if approve else "rejected", audit.at, audit.actor,
                               reason)
    await append_audit(conn, replace(audit, municipality_code=a.municipality_code))
    return a.disaster_id


async def report_harm(conn: Conn, disaster_id: int, code: str, resident: str, harm: str,
                      reported_on: ReportDate, amend: bool, audit: AuditEntry) -> VictimReport:
    """A person's report of harm (被災届出): one per person and disaster; ``amend`` replaces it."""
    d = await _disaster(conn, disaster_id)
    d.check_affects(code, must_be_open=True)
    await _active_resident(conn, code, resident)
    day = reported_on(d)
    address = await q.resident_address(conn, code, resident)
    existing = await q.get_report(conn, disaster_id, code, resident)
    if existing is not None and not amend:
        raise Conflict(f"resident {resident} already reported harm for disaster {disaster_id} on "
                       f"{existing.reported_on}; amend it to replace the text", field="resident")
    if existing is None and amend:
        raise InvalidInput(f"resident {resident} has no report for disaster {disaster_id} to amend",
                           field="resident")
    if existing is None:
        await q.insert_report(conn, disaster_id, code, resident, address, harm, day, audit.at, audit.actor)
        await append_audit(conn, replace(audit, new_value=harm))
    else:
        await q.amend_report(conn, existing.id, address, harm, day, audit.at)
        await append_audit(conn, replace(audit, action=audit.action + "-amended", old_value=existing.harm,
                                         new_value=harm))
    report = await q.get_report(conn, disaster_id, code, resident)
    assert report is not None
    return report


async def victim_reports(conn: Conn, disaster_id: int, code: str | None) -> list[VictimReport]:
    await _disaster(conn, disaster_id)
    return await q.list_reports(conn, disaster_id, code)


class PgDisaster:
    """``DisasterStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def declare(self, name: str, kind: str, occurred_on: date, municipalities: list[str],
                      audit: AuditEntry) -> int:
        return await self._db.write(declare, name, kind, occurred_on, municipalities, audit)

    async def close(self, disaster_id: int, audit: AuditEntry) -> None:
        await self._db.write(close, disaster_id, audit)

    async def disasters(self) -> list[DisasterRow]:
        return await self._db.read(q.list_disasters)

    async def state(self, disaster_id: int) -> DisasterState:
        return await self._db.read(state, disaster_id)

    async def assess(self, disaster_id: int, code: str, household: str, check: AssessmentCheck,
                     audit: AuditEntry) -> Assessment:
        return await self._db.write(assess, disaster_id, code, household, check, audit)

    async def import_assessments(self, disaster_id: int, households: list[tuple[str, str]], check: ImportCheck,
                                 source: str, audit: AuditEntry) -> int:
        return await self._db.write(import_assessments, disaster_id, households, check, source, audit)

    async def assessment_history(self, disaster_id: int, code: str, household: str) -> list[AssessmentRevision]:
        return await self._db.read(q.assessment_history, disaster_id, code, household)

    async def ledger(self, disaster_id: int, code: str | None) -> list[LedgerEntry]:
        return await self._db.read(ledger, disaster_id, code)

    async def set_person(self, disaster_id: int, code: str, resident: str, *, whereabouts: str | None,
                         injury: str | None, note: str | None, audit: AuditEntry) -> None:
        await self._db.write(set_person, disaster_id, code, resident, whereabouts, injury, note, audit)

    async def open_shelter(self, disaster_id: int, code: str, name: str, capacity: int, audit: AuditEntry) -> int:
        return await self._db.write(open_shelter, disaster_id, code, name, capacity, audit)

    async def shelter(self, shelter_id: int) -> ShelterRow | None:
        return await self._db.read(q.get_shelter, shelter_id)

    async def shelters(self, disaster_id: int | None) -> list[ShelterRow]:
        return await self._db.read(q.list_shelters, disaster_id)

    async def shelter_people(self, shelter_id: int) -> list[ShelterPerson]:
        return await self._db.read(q.shelter_people, shelter_id)

    async def close_shelter(self, shelter_id: int, audit: AuditEntry) -> int:
        return await self._db.write(close_shelter, shelter_id, audit)

    async def check_in(self, shelter_id: int, code: str, resident: str, via: str, audit: AuditEntry) -> CheckIn:
        return await self._db.write(check_in, shelter_id, code, resident, via, audit)

    async def check_out(self, code: str, resident: str, whereabouts: str, audit: AuditEntry) -> CheckOut:
        return await self._db.write(check_out, code, resident, whereabouts, audit)

    async def apply_support(self, disaster_id: int, code: str, household: str, rebuild: RebuildMethod | None, *,
                            demolished: bool, long_term: bool, audit: AuditEntry) -> int:
        return await self._db.write(apply_support, disaster_id, code, household, rebuild, demolished, long_term,
                                    audit)

    async def support(self, support_id: int) -> SupportApplication | None:
        return await self._db.read(q.get_support, support_id)

    async def decide_support(self, support_id: int, old: str, new: str, note: str | None,
                             audit: AuditEntry) -> int:
        return await self._db.write(decide_support, support_id, old, new, note, audit)

    async def support_list(self, disaster_id: int) -> list[SupportApplication]:
        return await self._db.read(support_list, disaster_id)

    async def needs_help(self, code: str) -> list[HelpEntry]:
        return await self._db.read(needs_help, code)

    async def set_plan(self, code: str, resident: str, supporter: str, destination: str, notes: str,
                       audit: AuditEntry) -> None:
        await self._db.write(set_plan, code, resident, supporter, destination, notes, audit)

    async def apply_online(self, code: str, resident: str, disaster_id: int, at: str) -> int:
        return await self._db.write(apply_online, code, resident, disaster_id, at)

    async def application(self, application_id: int) -> OnlineApplication | None:
        return await self._db.read(q.get_application, application_id)

    async def applications(self, state: str | None) -> list[OnlineApplication]:
        return await self._db.read(q.list_applications, state)

    async def decide_application(self, application_id: int, approve: bool, reason: str | None,
                                 audit: AuditEntry) -> int:
        return await self._db.write(decide_application, application_id, approve, reason, audit)

    async def report_harm(self, disaster_id: int, code: str, resident: str, harm: str, reported_on: ReportDate, *,
                          amend: bool, audit: AuditEntry) -> VictimReport:
        return await self._db.write(report_harm, disaster_id, code, resident, harm, reported_on, amend, audit)

    async def victim_reports(self, disaster_id: int, code: str | None) -> list[VictimReport]:
        return await self._db.read(victim_reports, disaster_id, code)
