"""Queries of the disaster-victim support system: disasters, assessments, the victim
ledger (被災者台帳), evacuation centres, support payments, evacuation plans, applications."""

from __future__ import annotations

import sqlite3
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


def _disaster(conn: sqlite3.Connection, row: Sequence[Any]) -> DisasterRow:
    codes = tuple(r[0] for r in conn.execute(
        "SELECT municipality_code FROM disaster_municipalities WHERE disaster_id = ? ORDER BY municipality_code",
        (row[0],)))
    return DisasterRow(row[0], row[1], row[2], date.fromisoformat(row[3]), row[4], row[5], codes)


def list_disasters(conn: sqlite3.Connection) -> list[DisasterRow]:
    return [_disaster(conn, r) for r in conn.execute(
        "SELECT id, name, kind, occurred_on, declared_at, closed_at FROM disasters ORDER BY id").fetchall()]


def get_disaster(conn: sqlite3.Connection, disaster_id: int) -> DisasterRow | None:
    row = conn.execute("SELECT id, name, kind, occurred_on, declared_at, closed_at FROM disasters WHERE id = ?",
                       (disaster_id,)).fetchone()
    return None if row is None else _disaster(conn, row)


def close_disaster(conn: sqlite3.Connection, disaster_id: int, at: str) -> bool:
    return conn.execute("UPDATE disasters SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
                        (at, disaster_id)).rowcount == 1


# -- assessments ---------------------------------------------------------------------------------

def household_head(conn: sqlite3.Connection, code: str, household: str) -> tuple[str, str] | None:
    """(head's resident code, address) of an active household, or None."""
    row = conn.execute(
        "SELECT resident_code, address FROM residents WHERE municipality_code = ? AND household_number = ? "
        "AND status = 'active' ORDER BY relationship != '世帯主', resident_code LIMIT 1", (code, household)).fetchone()
    return None if row is None else (row[0], row[1])


def household_members_count(conn: sqlite3.Connection, code: str, household: str) -> int:
    return int(conn.execute("SELECT count(*) FROM residents WHERE municipality_code = ? AND household_number = ? "
                            "AND status = 'active'", (code, household)).fetchone()[0])


def add_assessment(conn: sqlite3.Connection, disaster_id: int, code: str, household: str, address: str,
                   damage_class: str, ratio: int | None, inspector: str, assessed_on: str,
                   flood_level: str | None = None, flood_depth_cm: int | None = None) -> int:
    """A new current assessment; an earlier one stays as history. Returns the revision."""
    row = conn.execute("SELECT max(revision) FROM damage_assessments WHERE disaster_id = ? AND municipality_code = ? "
                       "AND household_number = ?", (disaster_id, code, household)).fetchone()
    revision = int(row[0] or 0) + 1
    conn.execute("UPDATE damage_assessments SET current = 0 WHERE disaster_id = ? AND municipality_code = ? "
                 "AND household_number = ?", (disaster_id, code, household))
    conn.execute(
        "INSERT INTO damage_assessments (disaster_id, municipality_code, household_number, address, damage_class, "
        "damage_ratio, inspector, assessed_on, revision, current, flood_level, flood_depth_cm) "
        "VALUES (?,?,?,?,?,?,?,?,?,1,?,?)",
        (disaster_id, code, household, address, damage_class, ratio, inspector, assessed_on, revision,
         flood_level, flood_depth_cm))
    return revision


def assessment_history(conn: sqlite3.Connection, disaster_id: int, code: str,
                       household: str) -> list[AssessmentRevision]:
    """Every revision, oldest first."""
    return [AssessmentRevision(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in conn.execute(
        "SELECT revision, damage_class, damage_ratio, inspector, assessed_on, current FROM damage_assessments "
        "WHERE disaster_id = ? AND municipality_code = ? AND household_number = ? ORDER BY revision",
        (disaster_id, code, household))]


def current_class(conn: sqlite3.Connection, disaster_id: int, code: str, household: str) -> str | None:
    row = conn.execute("SELECT damage_class FROM damage_assessments WHERE disaster_id = ? AND municipality_code = ? "
                       "AND household_number = ? AND current = 1", (disaster_id, code, household)).fetchone()
    return None if row is None else str(row[0])


def households_by_class(conn: sqlite3.Connection, disaster_id: int) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT damage_class, count(*) FROM damage_assessments WHERE disaster_id = ? AND current = 1 "
        "GROUP BY damage_class", (disaster_id,))}


# -- the ledger ----------------------------------------------------------------------------------------

def ledger_rows(conn: sqlite3.Connection, disaster_id: int, code: str | None = None) -> list[LedgerEntry]:
    """Every person of every assessed household of the disaster, with whereabouts and support."""
    sql = (
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
        "WHERE a.disaster_id = ? AND a.current = 1"
    )
    params: tuple[Any, ...] = (disaster_id,)
    if code is not None:
        sql += " AND a.municipality_code = ?"
        params += (code,)
    sql += " ORDER BY a.municipality_code, a.household_number, r.relationship != '世帯主', r.resident_code"
    return [LedgerEntry(*row) for row in conn.execute(sql, params)]


def set_victim(conn: sqlite3.Connection, disaster_id: int, code: str, resident: str, at: str, *,
               whereabouts: str | None = None, injury: str | None = None, note: str | None = None) -> None:
    conn.execute(
        "INSERT INTO victims (disaster_id, municipality_code, resident_code, whereabouts, injury, note, updated_at) "
        "VALUES (?,?,?,coalesce(?, 'home'),coalesce(?, 'none'),?,?) "
        "ON CONFLICT (disaster_id, municipality_code, resident_code) DO UPDATE SET "
        "whereabouts = coalesce(?, whereabouts), injury = coalesce(?, injury), note = coalesce(?, note), "
        "updated_at = ?",
        (disaster_id, code, resident, whereabouts, injury, note, at, whereabouts, injury, note, at))


def active_resident(conn: sqlite3.Connection, code: str, resident: str) -> tuple[str, str] | None:
    """(name, household) of an active resident, or None."""
    row = conn.execute("SELECT name, household_number FROM residents WHERE municipality_code = ? "
                       "AND resident_code = ? AND status = 'active'", (code, resident)).fetchone()
    return None if row is None else (row[0], row[1])


def resident_address(conn: sqlite3.Connection, code: str, resident: str) -> str:
    row = conn.execute("SELECT address FROM residents WHERE municipality_code = ? AND resident_code = ?",
                       (code, resident)).fetchone()
    return "" if row is None else str(row[0])


# -- evacuation centres ----------------------------------------------------------------------------

_SHELTER = ("SELECT s.id, s.disaster_id, s.municipality_code, s.name, s.capacity, s.opened_at, s.closed_at, "
            "(SELECT count(*) FROM shelter_stays st WHERE st.shelter_id = s.id AND st.checked_out_at IS NULL) "
            "FROM shelters s")


def open_shelter(conn: sqlite3.Connection, disaster_id: int, code: str, name: str, capacity: int, at: str) -> int:
    cur = conn.execute("INSERT INTO shelters (disaster_id, municipality_code, name, capacity, opened_at) "
                       "VALUES (?,?,?,?,?)", (disaster_id, code, name, capacity, at))
    return int(cur.lastrowid or 0)


def get_shelter(conn: sqlite3.Connection, shelter_id: int) -> ShelterRow | None:
    row = conn.execute(_SHELTER + " WHERE s.id = ?", (shelter_id,)).fetchone()
    return None if row is None else ShelterRow(*row)


def list_shelters(conn: sqlite3.Connection, disaster_id: int | None = None) -> list[ShelterRow]:
    if disaster_id is None:
        return [ShelterRow(*r) for r in conn.execute(_SHELTER + " ORDER BY s.id")]
    return [ShelterRow(*r) for r in conn.execute(_SHELTER + " WHERE s.disaster_id = ? ORDER BY s.id",
                                                 (disaster_id,))]


def close_shelter(conn: sqlite3.Connection, shelter_id: int, at: str) -> bool:
    return conn.execute("UPDATE shelters SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
                        (at, shelter_id)).rowcount == 1


def open_stay(conn: sqlite3.Connection, code: str, resident: str) -> tuple[int, int, str] | None:
    """(stay id, shelter id, shelter name) where a person is checked in now."""
    row = conn.execute("SELECT st.id, s.id, s.name FROM shelter_stays st JOIN shelters s ON s.id = st.shelter_id "
                       "WHERE st.municipality_code = ? AND st.resident_code = ? AND st.checked_out_at IS NULL",
                       (code, resident)).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def check_in(conn: sqlite3.Connection, shelter_id: int, code: str, resident: str, at: str, via: str) -> int:
    cur = conn.execute("INSERT INTO shelter_stays (shelter_id, municipality_code, resident_code, checked_in_at, via) "
                       "VALUES (?,?,?,?,?)", (shelter_id, code, resident, at, via))
    return int(cur.lastrowid or 0)


def check_out(conn: sqlite3.Connection, stay_id: int, at: str) -> bool:
    return conn.execute("UPDATE shelter_stays SET checked_out_at = ? WHERE id = ? AND checked_out_at IS NULL",
                        (at, stay_id)).rowcount == 1


def shelter_people(conn: sqlite3.Connection, shelter_id: int) -> list[ShelterPerson]:
    """The people in a centre now, in the order they came."""
    return [ShelterPerson(r[0], r[1], r[2], r[3]) for r in conn.execute(
        "SELECT st.resident_code, coalesce(r.name, '?'), st.checked_in_at, st.via FROM shelter_stays st "
        "LEFT JOIN residents r ON r.municipality_code = st.municipality_code AND r.resident_code = st.resident_code "
        "WHERE st.shelter_id = ? AND st.checked_out_at IS NULL ORDER BY st.id", (shelter_id,))]


# -- support payments -------------------------------------------------------------------------------

def insert_support(conn: sqlite3.Connection, values: dict[str, Any]) -> int:
    names = [c for c in SUPPORT_COLUMNS if c != "id" and c in values]
    cur = conn.execute(
        f"INSERT INTO support_applications ({', '.join(names)}) "  # noqa: S608 - constant column names
        f"VALUES ({', '.join('?' for _ in names)})", [values[n] for n in names])
    return int(cur.lastrowid or 0)


def get_support(conn: sqlite3.Connection, support_id: int) -> SupportApplication | None:
    row = conn.execute(f"SELECT {', '.join(SUPPORT_COLUMNS)} FROM support_applications WHERE id = ?",  # noqa: S608
                       (support_id,)).fetchone()
    return None if row is None else SupportApplication(*row)


def list_support(conn: sqlite3.Connection, disaster_id: int) -> list[SupportApplication]:
    return [SupportApplication(*r) for r in conn.execute(
        f"SELECT {', '.join(SUPPORT_COLUMNS)} FROM support_applications "  # noqa: S608
        "WHERE disaster_id = ? ORDER BY id", (disaster_id,))]


def open_support(conn: sqlite3.Connection, disaster_id: int, code: str, household: str) -> int | None:
    row = conn.execute("SELECT id FROM support_applications WHERE disaster_id = ? AND municipality_code = ? "
                       "AND household_number = ? AND state IN ('applied','approved','paid')",
                       (disaster_id, code, household)).fetchone()
    return None if row is None else int(row[0])


def set_support_state(conn: sqlite3.Connection, support_id: int, old: str, new: str, at: str, by: str,
                      note: str | None) -> bool:
    column = "paid_at" if new == "paid" else "decided_at"
    return conn.execute(
        f"UPDATE support_applications SET state = ?, {column} = ?, "  # noqa: S608 - column chosen above
        "decided_by = coalesce(decided_by, ?), note = coalesce(?, note) WHERE id = ? AND state = ?",
        (new, at, by, note, support_id, old)).rowcount == 1


# -- people needing evacuation help ---------------------------------------------------------------

def needs_help(conn: sqlite3.Connection, code: str) -> list[HelpEntry]:
    """The 名簿: residents flagged as needing help, and anyone with a plan (even if no longer flagged)."""
    sql = (
        "SELECT r.resident_code, r.name, r.birth_date, r.address, r.household_number, r.status, "
        "r.needs_evacuation_help, p.supporter, p.destination, p.notes, p.review_reason, p.updated_at "
        "FROM residents r LEFT JOIN evacuation_plans p ON p.municipality_code = r.municipality_code "
        "AND p.resident_code = r.resident_code WHERE r.municipality_code = ? "
        "AND ((r.needs_evacuation_help = 1 AND r.status = 'active') OR p.resident_code IS NOT NULL) "
        "UNION ALL SELECT p.resident_code, '(not in the resident data)', NULL, p.address, NULL, 'removed', 0, "
        "p.supporter, p.destination, p.notes, p.review_reason, p.updated_at FROM evacuation_plans p "
        "WHERE p.municipality_code = ? AND NOT EXISTS (SELECT 1 FROM residents r WHERE "
        "r.municipality_code = p.municipality_code AND r.resident_code = p.resident_code) ORDER BY 1"
    )
    return [HelpEntry(*r) for r in conn.execute(sql, (code, code))]


def upsert_plan(conn: sqlite3.Connection, code: str, resident: str, supporter: str, destination: str, notes: str,
                address: str, at: str, by: str) -> None:
    conn.execute(
        "INSERT INTO evacuation_plans (municipality_code, resident_code, supporter, destination, notes, address, "
        "updated_at, updated_by) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (municipality_code, resident_code) DO UPDATE "
        "SET supporter = excluded.supporter, destination = excluded.destination, notes = excluded.notes, "
        "address = excluded.address, updated_at = excluded.updated_at, updated_by = excluded.updated_by, "
        "review_reason = NULL, flagged_at = NULL",
        (code, resident, supporter, destination, notes, address, at, by))


def flag_plans(conn: sqlite3.Connection, code: str, at: str) -> int:
    """After a linkage batch: flag every plan whose person moved out, died, was removed,
    is no longer flagged, or whose address changed. Never deletes a plan. Returns how many."""
    flagged = 0
    rows = conn.execute(
        "SELECT p.resident_code, p.address, r.status, r.needs_evacuation_help, r.address FROM evacuation_plans p "
        "LEFT JOIN residents r ON r.municipality_code = p.municipality_code AND r.resident_code = p.resident_code "
        "WHERE p.municipality_code = ? AND p.review_reason IS NULL", (code,)).fetchall()
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
            conn.execute("UPDATE evacuation_plans SET review_reason = ?, flagged_at = ? "
                         "WHERE municipality_code = ? AND resident_code = ?", (reason, at, code, resident))
            flagged += 1
    return flagged


# -- online applications ----------------------------------------------------------------------------

def insert_application(conn: sqlite3.Connection, code: str, resident: str, disaster_id: int, at: str) -> int:
    cur = conn.execute("INSERT INTO online_applications (municipality_code, resident_code, disaster_id, state, "
                       "applied_at) VALUES (?,?,?,'waiting',?)", (code, resident, disaster_id, at))
    return int(cur.lastrowid or 0)


def waiting_application(conn: sqlite3.Connection, code: str, resident: str, disaster_id: int) -> int | None:
    row = conn.execute("SELECT id FROM online_applications WHERE municipality_code = ? AND resident_code = ? "
                       "AND disaster_id = ? AND state = 'waiting'", (code, resident, disaster_id)).fetchone()
    return None if row is None else int(row[0])


def list_applications(conn: sqlite3.Connection, state: str | None = None) -> list[OnlineApplication]:
    sql = f"SELECT {', '.join(APPLICATION_COLUMNS)} FROM online_applications"  # noqa: S608
    params: tuple[Any, ...] = ()
    if state is not None:
        sql += " WHERE state = ?"
        params = (state,)
    return [OnlineApplication(*r) for r in conn.execute(sql + " ORDER BY id", params)]


def count_waiting_applications(conn: sqlite3.Connection, disaster_id: int) -> int:
    return int(conn.execute("SELECT count(*) FROM online_applications WHERE disaster_id = ? AND state = 'waiting'",
                            (disaster_id,)).fetchone()[0])


def get_application(conn: sqlite3.Connection, application_id: int) -> OnlineApplication | None:
    row = conn.execute(f"SELECT {', '.join(APPLICATION_COLUMNS)} FROM online_applications "  # noqa: S608
                       "WHERE id = ?", (application_id,)).fetchone()
    return None if row is None else OnlineApplication(*row)


def decide_application(conn: sqlite3.Connection, application_id: int, state: str, at: str, by: str,
                       reason: str | None) -> bool:
    return conn.execute("UPDATE online_applications SET state = ?, decided_at = ?, decided_by = ?, reason = ? "
                        "WHERE id = ? AND state = 'waiting'", (state, at, by, reason, application_id)).rowcount == 1


# -- reports of harm (被災届出) ----------------------------------------------------------------------

_REPORT = ("SELECT v.id, v.disaster_id, v.municipality_code, v.resident_code, coalesce(r.name, ''), v.address, "
           "v.harm, v.reported_on, v.recorded_at, v.recorded_by, v.revision, v.amended_at FROM victim_reports v "
           "LEFT JOIN residents r ON r.municipality_code = v.municipality_code AND r.resident_code = v.resident_code")


def get_report(conn: sqlite3.Connection, disaster_id: int, code: str, resident: str) -> VictimReport | None:
    row = conn.execute(_REPORT + " WHERE v.disaster_id = ? AND v.municipality_code = ? AND v.resident_code = ?",
                       (disaster_id, code, resident)).fetchone()
    return None if row is None else VictimReport(*row)


def list_reports(conn: sqlite3.Connection, disaster_id: int, code: str | None) -> list[VictimReport]:
    sql = _REPORT + " WHERE v.disaster_id = ?"
    params: tuple[Any, ...] = (disaster_id,)
    if code is not None:
        sql += " AND v.municipality_code = ?"
        params += (code,)
    return [VictimReport(*r) for r in conn.execute(sql + " ORDER BY v.reported_on DESC, v.id DESC", params)]


def insert_report(conn: sqlite3.Connection, disaster_id: int, code: str, resident: str, address: str, harm: str,
                  reported_on: str, at: str, by: str) -> None:
    conn.execute("INSERT INTO victim_reports (disaster_id, municipality_code, resident_code, address, harm, "
                 "reported_on, recorded_at, recorded_by) VALUES (?,?,?,?,?,?,?,?)",
                 (disaster_id, code, resident, address, harm, reported_on, at, by))


def amend_report(conn: sqlite3.Connection, report_id: int, address: str, harm: str, reported_on: str,
                 at: str) -> None:
    conn.execute("UPDATE victim_reports SET address = ?, harm = ?, reported_on = ?, amended_at = ?, "
                 "revision = revision + 1 WHERE id = ?", (address, harm, reported_on, at, report_id))
