"""Disasters and their facts: each write of the disaster API (declare, assess, check in,
decide …) is one function here, one transaction with its audit lines; ``SqliteDisaster``
serves them as the ``DisasterStore``. The queries they are made of are in ``ledger``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from bcl_console.domain.damage import DamageClass
from bcl_console.domain.errors import Conflict, InvalidInput, NotFound
from bcl_console.domain.support import RebuildMethod, Whereabouts, support_amount
from bcl_console.store import ledger as q
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
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import municipality_exists


def insert_disaster(conn: sqlite3.Connection, name: str, kind: str, occurred_on: str,
                    declared_at: str, municipalities: Iterable[str]) -> int:
    cur = conn.execute(
        "INSERT INTO disasters (name, kind, occurred_on, declared_at) VALUES (?,?,?,?)",
        (name, kind, occurred_on, declared_at),
    )
    disaster_id = int(cur.lastrowid or 0)
    conn.executemany(
        "INSERT INTO disaster_municipalities (disaster_id, municipality_code) VALUES (?,?)",
        ((disaster_id, code) for code in municipalities),
    )
    return disaster_id


def insert_assessments(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Rows: (disaster_id, municipality_code, household_number, address, damage_class,
    damage_ratio, inspector, assessed_on, flood_level, flood_depth_cm)."""
    conn.executemany(
        "INSERT INTO damage_assessments (disaster_id, municipality_code, household_number, address, "
        "damage_class, damage_ratio, inspector, assessed_on, flood_level, flood_depth_cm) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        rows,
    )


def heads_of_households(conn: sqlite3.Connection, code: str) -> list[tuple[str, str]]:
    """(household_number, address) of every household with an active head, in order."""
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT household_number, address FROM residents WHERE municipality_code = ? "
            "AND relationship = '世帯主' AND status = 'active' ORDER BY household_number",
            (code,),
        )
    ]


# -- the facts of the disaster API: one transaction each ----------------------------------------------


def _disaster(conn: sqlite3.Connection, disaster_id: int) -> DisasterRow:
    d = q.get_disaster(conn, disaster_id)
    if d is None:
        raise NotFound(f"there is no disaster {disaster_id}", field="disaster")
    return d


def _shelter(conn: sqlite3.Connection, shelter_id: int) -> ShelterRow:
    s = q.get_shelter(conn, shelter_id)
    if s is None:
        raise NotFound(f"there is no evacuation centre {shelter_id}", field="shelter")
    return s


def _active_resident(conn: sqlite3.Connection, code: str, resident: str) -> tuple[str, str]:
    person = q.active_resident(conn, code, resident)
    if person is None:
        raise NotFound(f"resident {resident} is not an active resident of {code}", field="resident")
    return person


def declare(conn: sqlite3.Connection, name: str, kind: str, occurred_on: date, codes: list[str],
            audit: AuditEntry) -> int:
    for code in codes:
        if not municipality_exists(conn, code):
            raise NotFound(f"municipality {code} is not registered", field="municipality")
    disaster_id = insert_disaster(conn, name, kind, occurred_on.isoformat(), audit.at, codes)
    for code in codes:
        append_audit(conn, replace(audit, municipality_code=code, new_value=f"{disaster_id}: {name}"))
    return disaster_id


def close(conn: sqlite3.Connection, disaster_id: int, audit: AuditEntry) -> None:
    d = _disaster(conn, disaster_id)
    if d.closed_at is not None:
        raise Conflict(f"disaster {disaster_id} was already closed at {d.closed_at[:19]}", field="disaster")
    open_centres = [s.name for s in q.list_shelters(conn, disaster_id) if s.closed_at is None]
    if open_centres:
        raise Conflict(f"close the evacuation centres first: {', '.join(open_centres)}", field="disaster")
    q.close_disaster(conn, disaster_id, audit.at)
    for code in d.municipalities:
        append_audit(conn, replace(audit, municipality_code=code, new_value=str(disaster_id)))


def state(conn: sqlite3.Connection, disaster_id: int) -> DisasterState:
    d = _disaster(conn, disaster_id)
    return DisasterState(d, q.households_by_class(conn, disaster_id), q.list_shelters(conn, disaster_id),
                         q.count_waiting_applications(conn, disaster_id), q.list_support(conn, disaster_id))


def _address(conn: sqlite3.Connection, code: str, household: str) -> str | None:
    head = q.household_head(conn, code, household)
    return None if head is None else head[1]


def assess(conn: sqlite3.Connection, disaster_id: int, code: str, household: str, check: AssessmentCheck,
           audit: AuditEntry) -> Assessment:
    d = _disaster(conn, disaster_id)
    a = check(d, _address(conn, code, household))
    revision = q.add_assessment(conn, disaster_id, code, household, a.address, a.damage_class, a.damage_ratio,
                                a.inspector, a.assessed_on, a.flood_level, a.flood_depth_cm)
    append_audit(conn, replace(audit, new_value=f"r{revision} {a.damage_class}"))
    return Assessment(disaster_id, code, household, a.address, a.damage_class, a.damage_ratio, revision,
                      tuple(q.assessment_history(conn, disaster_id, code, household)),
                      a.flood_level, a.flood_depth_cm)


def import_assessments(conn: sqlite3.Connection, disaster_id: int, households: list[tuple[str, str]],
                       check: ImportCheck, source: str, audit: AuditEntry) -> int:
    d = _disaster(conn, disaster_id)
    rows = check(d, {key: _address(conn, *key) for key in households})
    for (code, household), a in rows:
        q.add_assessment(conn, disaster_id, code, household, a.address, a.damage_class, a.damage_ratio,
                         a.inspector, a.assessed_on, a.flood_level, a.flood_depth_cm)
    for code in sorted({c for (c, _), _ in rows}):
        append_audit(conn, replace(audit, municipality_code=code, new_value=f"{source}: {len(rows)} rows"))
    return len(rows)


def ledger(conn: sqlite3.Connection, disaster_id: int, code: str | None) -> list[LedgerEntry]:
    _disaster(conn, disaster_id)
    return q.ledger_rows(conn, disaster_id, code)


def set_person(conn: sqlite3.Connection, disaster_id: int, code: str, resident: str, whereabouts: str | None,
               injury: str | None, note: str | None, audit: AuditEntry) -> None:
    _disaster(conn, disaster_id).check_affects(code)
    _active_resident(conn, code, resident)
    if whereabouts is not None and whereabouts != Whereabouts.SHELTER.value and q.open_stay(conn, code, resident):
        raise Conflict(f"resident {resident} is checked in at an evacuation centre; check out first",
                       field="whereabouts")
    q.set_victim(conn, disaster_id, code, resident, audit.at, whereabouts=whereabouts, injury=injury, note=note)
    append_audit(conn, audit)


def open_shelter(conn: sqlite3.Connection, disaster_id: int, code: str, name: str, capacity: int,
                 audit: AuditEntry) -> int:
    _disaster(conn, disaster_id).check_affects(code, must_be_open=True)
    shelter_id = q.open_shelter(conn, disaster_id, code, name, capacity, audit.at)
    append_audit(conn, replace(audit, field=str(shelter_id)))
    return shelter_id


def close_shelter(conn: sqlite3.Connection, shelter_id: int, audit: AuditEntry) -> int:
    s = _shelter(conn, shelter_id)
    if s.closed_at is not None:
        raise Conflict(f"{s.name} is already closed", field="shelter")
    if s.occupancy:
        raise Conflict(f"{s.occupancy} people are still checked in at {s.name}; check them out first",
                       field="shelter")
    q.close_shelter(conn, shelter_id, audit.at)
    append_audit(conn, replace(audit, municipality_code=s.municipality_code, new_value=s.name))
    return s.disaster_id


def check_in(conn: sqlite3.Connection, shelter_id: int, code: str, resident: str, via: str,
             audit: AuditEntry) -> CheckIn:
    s = _shelter(conn, shelter_id)
    if s.closed_at is not None:
        raise Conflict(f"{s.name} is closed", field="shelter")
    if s.occupancy >= s.capacity:
        raise Conflict(f"{s.name} is full ({s.capacity} people)", field="shelter")
    name, _ = _active_resident(conn, code, resident)
    stay = q.open_stay(conn, code, resident)
    if stay is not None:
        raise Conflict(f"{name} is already checked in at {stay[2]}", field="resident")
    try:
        stay_id = q.check_in(conn, shelter_id, code, resident, audit.at, via)
    except sqlite3.IntegrityError:
        raise Conflict(f"{name} is already checked in elsewhere", field="resident") from None
    q.set_victim(conn, s.disaster_id, code, resident, audit.at, whereabouts=Whereabouts.SHELTER.value)
    append_audit(conn, audit)
    return CheckIn(stay_id, s.id, s.name, resident, name, s.occupancy + 1, s.capacity, s.disaster_id)


def check_out(conn: sqlite3.Connection, code: str, resident: str, whereabouts: str, audit: AuditEntry) -> CheckOut:
    stay = q.open_stay(conn, code, resident)
    if stay is None:
        raise Conflict(f"resident {resident} is not checked in at any evacuation centre", field="resident")
    s = q.get_shelter(conn, stay[1])
    assert s is not None
    q.check_out(conn, stay[0], audit.at)
    q.set_victim(conn, s.disaster_id, code, resident, audit.at, whereabouts=whereabouts)
    append_audit(conn, replace(audit, field=str(s.id)))
    return CheckOut(s.id, s.name, resident, whereabouts, s.disaster_id)


def apply_support(conn: sqlite3.Connection, disaster_id: int, code: str, household: str,
                  rebuild: RebuildMethod | None, demolished: bool, long_term: bool, audit: AuditEntry) -> int:
    _disaster(conn, disaster_id).check_affects(code)
    if q.household_head(conn, code, household) is None:
        raise NotFound(f"household {household} is not known in {code}", field="household")
    cls_text = q.current_class(conn, disaster_id, code, household)
    if cls_text is None:
        raise InvalidInput(f"household {household} has no damage assessment for disaster {disaster_id}",
                           field="household")
    existing = q.open_support(conn, disaster_id, code, household)
    if existing is not None:
        raise Conflict(f"household {household} already has support application {existing}", field="household")
    members = q.household_members_count(conn, code, household)
    amount = support_amount(DamageClass(cls_text), members, rebuild, demolished=demolished,
                            long_term_evacuation=long_term)
    support_id = q.insert_support(conn, {
        "disaster_id": disaster_id, "municipality_code": code, "household_number": household,
        "damage_class": cls_text, "members": members, "rebuild_method": rebuild.value if rebuild else None,
        "demolished": int(demolished), "long_term": int(long_term), "basic": amount.basic,
        "additional": amount.additional, "state": "applied", "applied_at": audit.at})
    append_audit(conn, replace(audit, new_value=f"{amount.total:,}円"))
    return support_id


def decide_support(conn: sqlite3.Connection, support_id: int, old: str, new: str, note: str | None,
                   audit: AuditEntry) -> int:
    s = q.get_support(conn, support_id)
    if s is None:
        raise NotFound(f"there is no support application {support_id}", field="application")
    if not q.set_support_state(conn, support_id, old, new, audit.at, audit.actor, note):
        raise Conflict(f"application {support_id} is {s.state}; only an {old} one can be {new}", field="application")
    append_audit(conn, replace(audit, municipality_code=s.municipality_code))
    return s.disaster_id


def support_list(conn: sqlite3.Connection, disaster_id: int) -> list[SupportApplication]:
    _disaster(conn, disaster_id)
    return q.list_support(conn, disaster_id)


def needs_help(conn: sqlite3.Connection, code: str) -> list[HelpEntry]:
    if not municipality_exists(conn, code):
        raise NotFound(f"municipality {code} is not registered", field="code")
    return q.needs_help(conn, code)


def set_plan(conn: sqlite3.Connection, code: str, resident: str, supporter: str, destination: str, notes: str,
             audit: AuditEntry) -> None:
    _active_resident(conn, code, resident)
    address = q.resident_address(conn, code, resident)
    q.upsert_plan(conn, code, resident, supporter, destination, notes, address, audit.at, audit.actor)
    append_audit(conn, audit)


def apply_online(conn: sqlite3.Connection, code: str, resident: str, disaster_id: int, at: str) -> int:
    d = _disaster(conn, disaster_id)
    if code not in d.municipalities:
        raise InvalidInput(f"your municipality is not affected by disaster {disaster_id}", field="disaster_id")
    if q.active_resident(conn, code, resident) is None:
        raise NotFound("the card holder is not a resident of an affected municipality", field="resident")
    if q.waiting_application(conn, code, resident, disaster_id) is not None:
        raise Conflict("an application of yours for this disaster is already waiting", field="disaster_id")
    return q.insert_application(conn, code, resident, disaster_id, at)


def decide_application(conn: sqlite3.Connection, application_id: int, approve: bool, reason: str | None,
                       audit: AuditEntry) -> int:
    """Approving needs the household's damage assessment: then its disaster certificate
    is available at stores and the counter."""
    a = q.get_application(conn, application_id)
    if a is None:
        raise NotFound(f"there is no application {application_id}", field="application")
    if a.state != "waiting":
        raise Conflict(f"application {application_id} was already {a.state}", field="application")
    person = q.active_resident(conn, a.municipality_code, a.resident_code)
    if approve and (person is None or q.current_class(conn, a.disaster_id, a.municipality_code, person[1]) is None):
        raise InvalidInput("the applicant's household has no damage assessment yet; assess it first",
                           field="application")
    q.decide_application(conn, application_id, "approved" if approve else "rejected", audit.at, audit.actor, reason)
    append_audit(conn, replace(audit, municipality_code=a.municipality_code))
    return a.disaster_id


def report_harm(conn: sqlite3.Connection, disaster_id: int, code: str, resident: str, harm: str,
                reported_on: ReportDate, amend: bool, audit: AuditEntry) -> VictimReport:
    """A person's report of harm (被災届出): one per person and disaster; ``amend`` replaces it."""
    d = _disaster(conn, disaster_id)
    d.check_affects(code, must_be_open=True)
    _active_resident(conn, code, resident)
    day = reported_on(d)
    address = q.resident_address(conn, code, resident)
    existing = q.get_report(conn, disaster_id, code, resident)
    if existing is not None and not amend:
        raise Conflict(f"resident {resident} already reported harm for disaster {disaster_id} on "
                       f"{existing.reported_on}; amend it to replace the text", field="resident")
    if existing is None and amend:
        raise InvalidInput(f"resident {resident} has no report for disaster {disaster_id} to amend",
                           field="resident")
    if existing is None:
        q.insert_report(conn, disaster_id, code, resident, address, harm, day, audit.at, audit.actor)
        append_audit(conn, replace(audit, new_value=harm))
    else:
        q.amend_report(conn, existing.id, address, harm, day, audit.at)
        append_audit(conn, replace(audit, action=audit.action + "-amended", old_value=existing.harm, new_value=harm))
    report = q.get_report(conn, disaster_id, code, resident)
    assert report is not None
    return report


def victim_reports(conn: sqlite3.Connection, disaster_id: int, code: str | None) -> list[VictimReport]:
    _disaster(conn, disaster_id)
    return q.list_reports(conn, disaster_id, code)


class SqliteDisaster:
    """``DisasterStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
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
