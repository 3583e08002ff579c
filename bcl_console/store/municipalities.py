"""Queries on municipalities and their controls (hours, suspension, fees)."""

from __future__ import annotations

import sqlite3
from datetime import date

from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.domain.municipality import (
    DEFAULT_FEES,
    CertificateType,
    Hosting,
    Kind,
    Municipality,
    ServiceHours,
)
from bcl_console.domain.onboarding import Outcome, Stage, go_live_blockers
from bcl_console.store.api import (
    AuditEntry,
    Control,
    FeeControl,
    Fees,
    HoursControl,
    SuspensionControl,
)
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database

_COLUMNS = (
    "code, name, kind, population, hosting, server_url, service_start, hours_open, "
    "hours_close, suspended, suspension_reason, prefecture, mayor"
)
# Built once from the constant column list above; values always go in as parameters.
_INSERT = f"INSERT INTO municipalities ({_COLUMNS}, created_at) VALUES ({', '.join('?' * 14)})"  # noqa: S608
# With the go-live facts: whether it has an onboarding plan (NULL: none; else whether an
# override is set) and whether a failure drill is running.
_SELECT = (
    f"SELECT {_COLUMNS}, "  # noqa: S608
    "(SELECT p.override_reason IS NOT NULL FROM onboarding_plans p WHERE p.municipality_code = municipalities.code) AS plan_override, "
    "EXISTS (SELECT 1 FROM failure_drills d WHERE d.municipality_code = municipalities.code) AS drill "
    "FROM municipalities"
)


def passed_stage_set(conn: sqlite3.Connection, code: str) -> set[Stage]:
    """Stages whose newest run passed (or was recorded as not required); reads no evidence,
    since the relay asks on every session."""
    latest: dict[str, str] = {}
    for stage, outcome in conn.execute(
            "SELECT stage, outcome FROM stage_runs WHERE municipality_code = ? ORDER BY id", (code,)):
        latest[stage] = outcome
    return {Stage(s) for s, o in latest.items() if o in (Outcome.PASSED.value, Outcome.NOT_REQUIRED.value)}


def _from_row(conn: sqlite3.Connection, row: sqlite3.Row) -> Municipality:
    hosting = Hosting(row["hosting"])
    has_plan = row["plan_override"] is not None
    passed = passed_stage_set(conn, row["code"]) if has_plan else set()
    awaiting = go_live_blockers(hosting, has_plan, passed, bool(row["plan_override"]))
    return Municipality(
        code=row["code"],
        name=row["name"],
        kind=Kind(row["kind"]),
        population=row["population"],
        hosting=hosting,
        server_url=row["server_url"],
        service_start=date.fromisoformat(row["service_start"]) if row["service_start"] else None,
        hours=ServiceHours(row["hours_open"], row["hours_close"]),
        suspended=bool(row["suspended"]),
        suspension_reason=row["suspension_reason"],
        prefecture=row["prefecture"],
        mayor=row["mayor"],
        awaiting_stages=tuple(s.value for s in awaiting),
        failure_drill=bool(row["drill"]),
    )


def insert_municipality(conn: sqlite3.Connection, m: Municipality, created_at: str) -> None:
    conn.execute(
        _INSERT,
        (
            m.code,
            m.name,
            m.kind.value,
            m.population,
            m.hosting.value,
            m.server_url,
            m.service_start.isoformat() if m.service_start else None,
            m.hours.open,
            m.hours.close,
            int(m.suspended),
            m.suspension_reason,
            m.prefecture,
            m.mayor,
            created_at,
        ),
    )


def get_municipality(conn: sqlite3.Connection, code: str) -> Municipality | None:
    row = conn.execute(f"{_SELECT} WHERE code = ?", (code,)).fetchone()
    return _from_row(conn, row) if row else None


def list_municipalities(conn: sqlite3.Connection) -> list[Municipality]:
    rows = conn.execute(f"{_SELECT} ORDER BY code").fetchall()
    return [_from_row(conn, r) for r in rows]


def municipality_exists(conn: sqlite3.Connection, code: str) -> bool:
    return conn.execute("SELECT 1 FROM municipalities WHERE code = ?", (code,)).fetchone() is not None


def count_municipalities(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM municipalities").fetchone()[0])


def set_hours(conn: sqlite3.Connection, code: str, hours: ServiceHours) -> None:
    conn.execute(
        "UPDATE municipalities SET hours_open = ?, hours_close = ? WHERE code = ?",
        (hours.open, hours.close, code),
    )


def set_suspension(
    conn: sqlite3.Connection, code: str, suspended: bool, reason: str | None
) -> None:
    conn.execute(
        "UPDATE municipalities SET suspended = ?, suspension_reason = ? WHERE code = ?",
        (int(suspended), reason, code),
    )


def get_fees(conn: sqlite3.Connection, code: str) -> dict[CertificateType, int]:
    fees = dict(DEFAULT_FEES)
    for row in conn.execute(
        "SELECT cert_type, yen FROM municipality_fees WHERE municipality_code = ?", (code,)
    ):
        fees[CertificateType(row["cert_type"])] = row["yen"]
    return fees


def set_fee(conn: sqlite3.Connection, code: str, cert_type: CertificateType, yen: int) -> None:
    conn.execute(
        "INSERT INTO municipality_fees (municipality_code, cert_type, yen) VALUES (?,?,?) "
        "ON CONFLICT (municipality_code, cert_type) DO UPDATE SET yen = excluded.yen",
        (code, cert_type.value, yen),
    )


def set_service_start(conn: sqlite3.Connection, code: str, start: date) -> None:
    conn.execute("UPDATE municipalities SET service_start = ? WHERE code = ?", (start.isoformat(), code))


# -- facts (``MunicipalityStore``) -----------------------------------------------------------------


def add_municipality(conn: sqlite3.Connection, m: Municipality, audit: AuditEntry) -> Fees:
    if municipality_exists(conn, m.code):
        raise Conflict(f"municipality {m.code} is already registered", field="code")
    insert_municipality(conn, m, audit.at)
    append_audit(conn, audit)
    return get_fees(conn, m.code)


def municipalities_with_fees(conn: sqlite3.Connection) -> list[tuple[Municipality, Fees]]:
    return [(m, get_fees(conn, m.code)) for m in list_municipalities(conn)]


def municipality_with_fees(conn: sqlite3.Connection, code: str) -> tuple[Municipality, Fees] | None:
    m = get_municipality(conn, code)
    return None if m is None else (m, get_fees(conn, code))


def change_control(conn: sqlite3.Connection, code: str, control: Control, audit: AuditEntry) -> bool:
    """One control change: checked, applied and audited in one transaction."""
    m = get_municipality(conn, code)
    if m is None:
        raise NotFound(f"municipality {code} is not registered", field="code")
    old = control.current(m, get_fees(conn, code))
    if old == audit.new_value:
        return False
    if isinstance(control, HoursControl):
        set_hours(conn, code, control.hours)
    elif isinstance(control, SuspensionControl):
        set_suspension(conn, code, control.suspended, control.reason)
    elif isinstance(control, FeeControl):
        set_fee(conn, code, control.cert_type, control.yen)
    append_audit(conn, audit.was(old))
    return True


class SqliteMunicipalities:
    """``MunicipalityStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_municipality(self, m: Municipality, audit: AuditEntry) -> Fees:
        return await self._db.write(add_municipality, m, audit)

    async def municipalities_with_fees(self) -> list[tuple[Municipality, Fees]]:
        return await self._db.read(municipalities_with_fees)

    async def municipality_with_fees(self, code: str) -> tuple[Municipality, Fees] | None:
        return await self._db.read(municipality_with_fees, code)

    async def change_control(self, code: str, control: Control, audit: AuditEntry) -> bool:
        return await self._db.write(change_control, code, control, audit)
