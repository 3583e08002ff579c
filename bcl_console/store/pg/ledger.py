"""Queries of the disaster-victim support system (PostgreSQL): the counterpart of
``store/ledger.py`` — disasters, assessments, the victim ledger (被災者台帳), evacuation
centres, support payments, evacuation plans, applications, reports of harm.

Text that orders rows is compared byte-wise (``COLLATE "C"``), as SQLite's BINARY
collation does, so both stores list the same rows in the same order whatever the
database's locale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from bcl_console.store.api import (
    APPLICATION_COLUMNS,
    SUPPORT_COLUMNS,
    AssessmentRevision,
    HelpEntry,
    LedgerEntry,
    OnlineApplication,
    ShelterPerson,
    SupportApplication,
    VictimReport,
)
from bcl_console.store.api import DisasterRow as DisasterRow
from bcl_console.store.api import ShelterRow as ShelterRow
from bcl_console.store.pg.db import Conn


async def _disaster(conn: Conn, row: Sequence[Any]) -> DisasterRow:
    codes = tuple(str(r[0]) for r in await conn.fetch(
        "SELECT municipality_code FROM disaster_municipalities WHERE disaster_id = $1 "
        'ORDER BY municipality_code COLLATE "C"', row[0]))
    return DisasterRow(row[0], row[1], row[2], date.fromisoformat(row[3]), row[4], row[5], codes)


async def list_disasters(conn: Conn) -> list[DisasterRow]:
    rows = await conn.fetch("SELECT id, name, kind, occurred_on, declared_at, closed_at FROM disasters ORDER BY id")
    return [await _disaster(conn, r) for r in rows]


async def get_disaster(conn: Conn, disaster_id: int) -> DisasterRow | None:
    row = await conn.fetchrow("SELECT id, name, kind, occurred_on, declared_at, closed_at FROM disasters "
                              "WHERE id = $1", disaster_id)
    return None if row is None else await _disaster(conn, row)


async def close_disaster(conn: Conn, disaster_id: int, at: str) -> bool:
    row = await conn.fetchrow("UPDATE disasters SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL "
                              "RETURNING id", at, disaster_id)
    return row is not None


# -- assessments ---------------------------------------------------------------------------------

async def household_head(conn: Conn, code: str, household: str) -> tuple[str, str] | None:
    """(head's resident code, address) of an active household, or None."""
    row = await conn.fetchrow(
        "SELECT resident_code, address FROM residents WHERE municipality_code = $1 AND household_number = $2 "
        "AND status = 'active' ORDER BY relationship <> '世帯主', resident_code COLLATE \"C\" LIMIT 1",
        code, household)
    return None if row is None else (row[0], row[1])


async def household_members_count(conn: Conn, code: str, household: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM residents WHERE municipality_code = $1 "
                                   "AND household_number = $2 AND status = 'active'", code, household))


async def add_assessment(conn: Conn, disaster_id: int, code: str, household: str, address: str,
                         damage_class: str, ratio: int | None, inspector: str, assessed_on: str,
                         flood_level: str | None = None, flood_depth_cm: int | None = None) -> int:
    """A new current assessment; an earlier one stays as history. Returns the revision."""
    latest = await conn.fetchval(
        "SELECT max(revision) FROM damage_assessments WHERE disaster_id = $1 AND municipality_code = $2 "
        "AND household_number = $3", disaster_id, code, household)
    revision = int(latest or 0) + 1
    await conn.execute("UPDATE damage_assessments SET current = 0 WHERE disaster_id = $1 AND municipality_code = $2 "
                       "AND household_number = $3 AND current = 1", disaster_id, code, household)
    await conn.execute(
        "INSERT INTO damage_assessments (disaster_id, municipality_code, household_number, address, damage_class, "
        "damage_ratio, inspector, assessed_on, revision, current, flood_level, flood_depth_cm) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,1,$10,$11)",
        disaster_id, code, household, address, damage_class, ratio, inspector, assessed_on, revision,
        flood_level, flood_depth_cm)
    return revision


async def assessment_history(conn: Conn, disaster_id: int, code: str, household: str) -> list[AssessmentRevision]:
    """Every revision, oldest first."""
    rows = await conn.fetch(
        "SELECT revision, damage_class, damage_ratio, inspector, assessed_on, current FROM damage_assessments "
        "WHERE disaster_id = $1 AND municipality_code = $2 AND household_number = $3 ORDER BY revision",
        disaster_id, code, household)
    return [AssessmentRevision(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]


async def current_class(conn: Conn, disaster_id: int, code: str, household: str) -> str | None:
    value = await conn.fetchval(
        "SELECT damage_class FROM damage_assessments WHERE disaster_id = $1 AND municipality_code = $2 "
        "AND household_number = $3 AND current = 1", disaster_id, code, household)
    return None if value is None else str(value)


async def households_by_class(conn: Conn, disaster_id: int) -> dict[str, int]:
    rows = await conn.fetch("SELECT damage_class, count(*) FROM damage_assessments WHERE disaster_id = $1 "
                            'AND current = 1 GROUP BY damage_class ORDER BY damage_class COLLATE "C"', disaster_id)
    return {r[0]: int(r[1]) for r in rows}


# -- the ledger ----------------------------------------------------------------------------------------

_LEDGER = (
    "SELECT a.municipality_code, a.household_number, a.address, a.damage_class, a.damage_ratio, "
    "r.resident_code, r.name, r.name_kana, r.birth_date, r.sex, r.relationship, r.needs_evacuation_help, "
    "coalesce(v.whereabouts, 'home'), coalesce(v.injury, 'none'), "
    "(SELECT s.name FROM shelter_stays st JOIN shelters s ON s.id = st.shelter_id "
    " WHERE st.municipality_code = r.municipality_code AND st.resident_code = r.resident_code "
    " AND st.checked_out_at IS NULL AND s.disaster_id = a.disaster_id), "
    "(SELECT p.state FROM support_applications p WHERE p.disaster_id = a.disaster_id "
    " AND p.municipality_code = a.municipality_code AND p.household_number = a.household_number "
    " ORDER BY p.id DESC LIMIT 1), "
    "(SELECT p.basic + p.additional FROM support_applications p WHERE p.disaster_id = a.disaster_id "
    " AND p.municipality_code = a.municipality_code AND p.household_number = a.household_number "
    " AND p.state IN ('approved','paid') ORDER BY p.id DESC LIMIT 1) "
    "FROM damage_assessments a JOIN residents r ON r.municipality_code = a.municipality_code "
    "AND r.household_number = a.household_number AND r.status = 'active' "
    "LEFT JOIN victims v ON v.disaster_id = a.disaster_id AND v.municipality_code = r.municipality_code "
    "AND v.resident_code = r.resident_code "
    "WHERE a.disaster_id = $1 AND a.current = 1"
)
_LEDGER_ORDER = (' ORDER BY a.municipality_code COLLATE "C", a.household_number COLLATE "C", '
                 "r.relationship <> '世帯主', r.resident_code COLLATE \"C\"")


async def ledger_rows(conn: Conn, disaster_id: int, code: str | None = None) -> list[LedgerEntry]:
    """Every person of every assessed household of the disaster, with whereabouts and support."""
    if code is None:
        rows = await conn.fetch(_LEDGER + _LEDGER_ORDER, disaster_id)
    else:
        rows = await conn.fetch(_LEDGER + " AND a.municipality_code = $2" + _LEDGER_ORDER, disaster_id, code)
    return [LedgerEntry(*row) for row in rows]


async def set_victim(conn: Conn, disaster_id: int, code: str, resident: str, at: str, *,
                     whereabouts: str | None = None, injury: str | None = None, note: str | None = None) -> None:
    await conn.execute(
        "INSERT INTO victims (disaster_id, municipality_code, resident_code, whereabouts, injury, note, updated_at) "
        "VALUES ($1,$2,$3,coalesce($4::text, 'home'),coalesce($5::text, 'none'),$6,$7) "
        "ON CONFLICT (disaster_id, municipality_code, resident_code) DO UPDATE SET "
        "whereabouts = coalesce($4::text, victims.whereabouts), injury = coalesce($5::text, victims.injury), "
        "note = coalesce($6::text, victims.note), updated_at = $7",
        disaster_id, code, resident, whereabouts, injury, note, at)


async def active_resident(conn: Conn, code: str, resident: str) -> tuple[str, str] | None:
    """(name, household) of an active resident, or None."""
    row = await conn.fetchrow("SELECT name, household_number FROM residents WHERE municipality_code = $1 "
                              "AND resident_code = $2 AND status = 'active'", code, resident)
    return None if row is None else (row[0], row[1])


async def resident_address(conn: Conn, code: str, resident: str) -> str:
    value = await conn.fetchval("SELECT address FROM residents WHERE municipality_code = $1 AND resident_code = $2",
                                code, resident)
    return "" if value is None else str(value)


# -- evacuation centres ----------------------------------------------------------------------------

_SHELTER = ("SELECT s.id, s.disaster_id, s.municipality_code, s.name, s.capacity, s.opened_at, s.closed_at, "
            "(SELECT count(*) FROM shelter_stays st WHERE st.shelter_id = s.id AND st.checked_out_at IS NULL) "
            "FROM shelters s")


def _shelter_row(row: Sequence[Any]) -> ShelterRow:
    return ShelterRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], int(row[7]))


async def open_shelter(conn: Conn, disaster_id: int, code: str, name: str, capacity: int, at: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO shelters (disaster_id, municipality_code, name, capacity, opened_at) "
        "VALUES ($1,$2,$3,$4,$5) RETURNING id", disaster_id, code, name, capacity, at))


async def get_shelter(conn: Conn, shelter_id: int) -> ShelterRow | None:
    row = await conn.fetchrow(_SHELTER + " WHERE s.id = $1", shelter_id)
    return None if row is None else _shelter_row(row)


async def list_shelters(conn: Conn, disaster_id: int | None = None) -> list[ShelterRow]:
    if disaster_id is None:
        rows = await conn.fetch(_SHELTER + " ORDER BY s.id")
    else:
        rows = await conn.fetch(_SHELTER + " WHERE s.disaster_id = $1 ORDER BY s.id", disaster_id)
    return [_shelter_row(r) for r in rows]


async def close_shelter(conn: Conn, shelter_id: int, at: str) -> bool:
    row = await conn.fetchrow("UPDATE shelters SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL RETURNING id",
                              at, shelter_id)
    return row is not None


async def open_stay(conn: Conn, code: str, resident: str) -> tuple[int, int, str] | None:
    """(stay id, shelter id, shelter name) where a person is checked in now (the partial
    unique index shelter_stays_one_open allows one such stay)."""
    row = await conn.fetchrow(
        "SELECT st.id, s.id, s.name FROM shelter_stays st JOIN shelters s ON s.id = st.shelter_id "
        "WHERE st.municipality_code = $1 AND st.resident_code = $2 AND st.checked_out_at IS NULL", code, resident)
    return None if row is None else (row[0], row[1], row[2])


async def check_in(conn: Conn, shelter_id: int, code: str, resident: str, at: str, via: str) -> int:
    """The new stay's id; UniqueViolation (shelter_stays_one_open) when the person is
    checked in somewhere already."""
    return int(await conn.fetchval(
        "INSERT INTO shelter_stays (shelter_id, municipality_code, resident_code, checked_in_at, via) "
        "VALUES ($1,$2,$3,$4,$5) RETURNING id", shelter_id, code, resident, at, via))


async def check_out(conn: Conn, stay_id: int, at: str) -> bool:
    row = await conn.fetchrow("UPDATE shelter_stays SET checked_out_at = $1 WHERE id = $2 "
                              "AND checked_out_at IS NULL RETURNING id", at, stay_id)
    return row is not None


async def shelter_people(conn: Conn, shelter_id: int) -> list[ShelterPerson]:
    """The people in a centre now, in the order they came."""
    rows = await conn.fetch(
        "SELECT st.resident_code, coalesce(r.name, '?'), st.checked_in_at, st.via FROM shelter_stays st "
        "LEFT JOIN residents r ON r.municipality_code = st.municipality_code AND r.resident_code = st.resident_code "
        "WHERE st.shelter_id = $1 AND st.checked_out_at IS NULL ORDER BY st.id", shelter_id)
    return [ShelterPerson(r[0], r[1], r[2], r[3]) for r in rows]


# -- support payments -------------------------------------------------------------------------------

_SUPPORT = f"SELECT {', '.join(SUPPORT_COLUMNS)} FROM support_applications"  # noqa: S608 - constant column names


async def insert_support(conn: Conn, values: dict[str, Any]) -> int:
    names = [c for c in SUPPORT_COLUMNS if c != "id" and c in values]
    return int(await conn.fetchval(
        f"INSERT INTO support_applications ({', '.join(names)}) "  # noqa: S608 - constant column names
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(names) + 1))}) RETURNING id",
        *(values[n] for n in names)))


async def get_support(conn: Conn, support_id: int) -> SupportApplication | None:
    row = await conn.fetchrow(_SUPPORT + " WHERE id = $1", support_id)
    return None if row is None else SupportApplication(*row)


async def list_support(conn: Conn, disaster_id: int) -> list[SupportApplication]:
    return [SupportApplication(*r) for r in await conn.fetch(_SUPPORT + " WHERE disaster_id = $1 ORDER BY id",
                                                             disaster_id)]


async def open_support(conn: Conn, disaster_id: int, code: str, household: str) -> int | None:
    value = await conn.fetchval(
        "SELECT id FROM support_applications WHERE disaster_id = $1 AND municipality_code = $2 "
        "AND household_number = $3 AND state IN ('applied','approved','paid') ORDER BY id LIMIT 1",
        disaster_id, code, household)
    return None if value is None else int(value)


async def set_support_state(conn: Conn, support_id: int, old: str, new: str, at: str, by: str,
                            note: str | None) -> bool:
    column = "paid_at" if new == "paid" else "decided_at"
    row = await conn.fetchrow(
        f"UPDATE support_applications SET state = $1, {column} = $2, "  # noqa: S608 - column chosen above
        "decided_by = coalesce(decided_by, $3), note = coalesce($4, note) WHERE id = $5 AND state = $6 "
        "RETURNING id", new, at, by, note, support_id, old)
    return row is not None


# -- people needing evacuation help ---------------------------------------------------------------

_NEEDS_HELP = (
    "SELECT * FROM ("
    "SELECT r.resident_code, r.name, r.birth_date, r.address, r.household_number, r.status, "
    "r.needs_evacuation_help, p.supporter, p.destination, p.notes, p.review_reason, p.updated_at "
    "FROM residents r LEFT JOIN evacuation_plans p ON p.municipality_code = r.municipality_code "
    "AND p.resident_code = r.resident_code WHERE r.municipality_code = $1 "
    "AND ((r.needs_evacuation_help = 1 AND r.status = 'active') OR p.resident_code IS NOT NULL) "
    "UNION ALL SELECT p.resident_code, '(not in the resident data)', NULL, p.address, NULL, 'removed', 0, "
    "p.supporter, p.destination, p.notes, p.review_reason, p.updated_at FROM evacuation_plans p "
    "WHERE p.municipality_code = $1 AND NOT EXISTS (SELECT 1 FROM residents r WHERE "
    "r.municipality_code = p.municipality_code AND r.resident_code = p.resident_code)"
    ') AS h ORDER BY h.resident_code COLLATE "C"'
)


async def needs_help(conn: Conn, code: str) -> list[HelpEntry]:
    """The 名簿: residents flagged as needing help, and anyone with a plan (even if no longer flagged)."""
    return [HelpEntry(*r) for r in await conn.fetch(_NEEDS_HELP, code)]


async def upsert_plan(conn: Conn, code: str, resident: str, supporter: str, destination: str, notes: str,
                      address: str, at: str, by: str) -> None:
    await conn.execute(
        "INSERT INTO evacuation_plans (municipality_code, resident_code, supporter, destination, notes, address, "
        "updated_at, updated_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (municipality_code, resident_code) "
        "DO UPDATE SET supporter = excluded.supporter, destination = excluded.destination, notes = excluded.notes, "
        "address = excluded.address, updated_at = excluded.updated_at, updated_by = excluded.updated_by, "
        "review_reason = NULL, flagged_at = NULL",
        code, resident, supporter, destination, notes, address, at, by)


async def flag_plans(conn: Conn, code: str, at: str) -> int:
    """After a linkage batch: flag every plan whose person moved out, died, was removed,
    is no longer flagged, or whose address changed. Never deletes a plan. Returns how many."""
    rows = await conn.fetch(
        "SELECT p.resident_code, p.address, r.status, r.needs_evacuation_help, r.address FROM evacuation_plans p "
        "LEFT JOIN residents r ON r.municipality_code = p.municipality_code AND r.resident_code = p.resident_code "
        "WHERE p.municipality_code = $1 AND p.review_reason IS NULL ORDER BY p.resident_code COLLATE \"C\"", code)
    flags: list[tuple[str, str, str, str]] = []
    for resident, plan_address, status, flag, address in rows:
        reason = None
        if status is None:
            reason = "removed from the resident data by a linkage batch"
        elif status != "active":
            reason = f"now {status} according to a linkage batch"
        elif not flag:
            reason = "no longer flagged as needing evacuation help"
        elif address != plan_address:
            reason = f"address changed: {plan_address} → {address}"
        if reason is not None:
            flags.append((reason, at, code, resident))
    if flags:
        await conn.executemany("UPDATE evacuation_plans SET review_reason = $1, flagged_at = $2 "
                               "WHERE municipality_code = $3 AND resident_code = $4", flags)
    return len(flags)


# -- online applications ----------------------------------------------------------------------------

_APPLICATION = f"SELECT {', '.join(APPLICATION_COLUMNS)} FROM online_applications"  # noqa: S608 - constant columns


async def insert_application(conn: Conn, code: str, resident: str, disaster_id: int, at: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO online_applications (municipality_code, resident_code, disaster_id, state, applied_at) "
        "VALUES ($1,$2,$3,'waiting',$4) RETURNING id", code, resident, disaster_id, at))


async def waiting_application(conn: Conn, code: str, resident: str, disaster_id: int) -> int | None:
    value = await conn.fetchval(
        "SELECT id FROM online_applications WHERE municipality_code = $1 AND resident_code = $2 "
        "AND disaster_id = $3 AND state = 'waiting' ORDER BY id LIMIT 1", code, resident, disaster_id)
    return None if value is None else int(value)


async def list_applications(conn: Conn, state: str | None = None) -> list[OnlineApplication]:
    if state is None:
        rows = await conn.fetch(_APPLICATION + " ORDER BY id")
    else:
        rows = await conn.fetch(_APPLICATION + " WHERE state = $1 ORDER BY id", state)
    return [OnlineApplication(*r) for r in rows]


async def count_waiting_applications(conn: Conn, disaster_id: int) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM online_applications WHERE disaster_id = $1 "
                                   "AND state = 'waiting'", disaster_id))


async def get_application(conn: Conn, application_id: int) -> OnlineApplication | None:
    row = await conn.fetchrow(_APPLICATION + " WHERE id = $1", application_id)
    return None if row is None else OnlineApplication(*row)


async def decide_application(conn: Conn, application_id: int, state: str, at: str, by: str,
                             reason: str | None) -> bool:
    row = await conn.fetchrow(
        "UPDATE online_applications SET state = $1, decided_at = $2, decided_by = $3, reason = $4 "
        "WHERE id = $5 AND state = 'waiting' RETURNING id", state, at, by, reason, application_id)
    return row is not None


# -- reports of harm (被災届出) ----------------------------------------------------------------------

_REPORT = ("SELECT v.id, v.disaster_id, v.municipality_code, v.resident_code, coalesce(r.name, ''), v.address, "
           "v.harm, v.reported_on, v.recorded_at, v.recorded_by, v.revision, v.amended_at FROM victim_reports v "
           "LEFT JOIN residents r ON r.municipality_code = v.municipality_code AND r.resident_code = v.resident_code")


async def get_report(conn: Conn, disaster_id: int, code: str, resident: str) -> VictimReport | None:
    row = await conn.fetchrow(_REPORT + " WHERE v.disaster_id = $1 AND v.municipality_code = $2 "
                              "AND v.resident_code = $3", disaster_id, code, resident)
    return None if row is None else VictimReport(*row)


async def list_reports(conn: Conn, disaster_id: int, code: str | None) -> list[VictimReport]:
    order = " ORDER BY v.reported_on DESC, v.id DESC"
    if code is None:
        rows = await conn.fetch(_REPORT + " WHERE v.disaster_id = $1" + order, disaster_id)
    else:
        rows = await conn.fetch(_REPORT + " WHERE v.disaster_id = $1 AND v.municipality_code = $2" + order,
                                disaster_id, code)
    return [VictimReport(*r) for r in rows]


async def insert_report(conn: Conn, disaster_id: int, code: str, resident: str, address: str, harm: str,
                        reported_on: str, at: str, by: str) -> None:
    await conn.execute("INSERT INTO victim_reports (disaster_id, municipality_code, resident_code, address, harm, "
                       "reported_on, recorded_at, recorded_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                       disaster_id, code, resident, address, harm, reported_on, at, by)


async def amend_report(conn: Conn, report_id: int, address: str, harm: str, reported_on: str, at: str) -> None:
    await conn.execute("UPDATE victim_reports SET address = $1, harm = $2, reported_on = $3, amended_at = $4, "
                       "revision = revision + 1 WHERE id = $5", address, harm, reported_on, at, report_id)
