"""Queries on municipalities and their controls (hours, suspension, fees)."""

from __future__ import annotations

import sqlite3
from datetime import date

from bcl_console.domain.municipality import (
    DEFAULT_FEES,
    CertificateType,
    Hosting,
    Kind,
    Municipality,
    ServiceHours,
)
from bcl_console.domain.onboarding import go_live_blockers
from bcl_console.store import onboarding

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


def _from_row(conn: sqlite3.Connection, row: sqlite3.Row) -> Municipality:
    hosting = Hosting(row["hosting"])
    has_plan = row["plan_override"] is not None
    passed = onboarding.passed_stage_set(conn, row["code"]) if has_plan else set()
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
