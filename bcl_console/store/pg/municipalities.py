"""Municipalities and their controls (PostgreSQL): the counterpart of
``store/municipalities.py`` (same function names, same results)."""

from __future__ import annotations

from datetime import date

import asyncpg

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
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase


def _passed_stages(code: str) -> str:
    """SQL: the stages of municipality ``code`` (a column or a parameter) whose newest run
    passed or was recorded as not required, as an array."""
    outcomes = f"'{Outcome.PASSED.value}', '{Outcome.NOT_REQUIRED.value}'"
    # ``code`` is "m.code" or "$1" from this module, the outcomes the enum's: never input
    return ("ARRAY(SELECT s.stage FROM (SELECT DISTINCT ON (r.stage) r.stage, r.outcome FROM stage_runs r "  # noqa: S608
            f"WHERE r.municipality_code = {code} ORDER BY r.stage, r.id DESC) s WHERE s.outcome IN ({outcomes}))")


def _fees_set(code: str) -> str:
    """SQL: the fees municipality ``code`` charges where they differ from the defaults, as
    an array of ``type=yen``."""
    return ("(SELECT coalesce(array_agg(f.cert_type || '=' || f.yen), '{}') FROM municipality_fees f "  # noqa: S608
            f"WHERE f.municipality_code = {code})")


#: A municipality's row with what its ``Municipality`` needs besides, in one statement: the
#: plan's override, the failure drill, and its passed stages, asked only when there is a plan.
_SELECT = (
    "SELECT m.code, m.name, m.kind, m.population, m.hosting, m.server_url, m.service_start, m.hours_open, "  # noqa: S608
    "m.hours_close, m.suspended, m.suspension_reason, m.prefecture, m.mayor, "
    "p.override_reason IS NOT NULL AS plan_override, "
    "EXISTS (SELECT 1 FROM failure_drills d WHERE d.municipality_code = m.code) AS drill, "
    f"CASE WHEN p.municipality_code IS NOT NULL THEN {_passed_stages('m.code')} END AS passed_stages"
)
_FROM = " FROM municipalities m LEFT JOIN onboarding_plans p ON p.municipality_code = m.code"
_FEES = f"{_fees_set('m.code')} AS fees"


async def passed_stage_set(conn: Conn, code: str) -> set[Stage]:
    """Stages whose newest run passed (or was recorded as not required)."""
    return {Stage(s) for s in await conn.fetchval(f"SELECT {_passed_stages('$1')}", code)}


def _from_row(row: asyncpg.Record) -> Municipality:
    hosting = Hosting(row["hosting"])
    has_plan = row["passed_stages"] is not None
    passed = {Stage(s) for s in row["passed_stages"] or ()}
    awaiting = go_live_blockers(hosting, has_plan, passed, bool(row["plan_override"]))
    return Municipality(
        code=row["code"], name=row["name"], kind=Kind(row["kind"]), population=row["population"],
        hosting=hosting, server_url=row["server_url"],
        service_start=date.fromisoformat(row["service_start"]) if row["service_start"] else None,
        hours=ServiceHours(row["hours_open"], row["hours_close"]), suspended=bool(row["suspended"]),
        suspension_reason=row["suspension_reason"], prefecture=row["prefecture"], mayor=row["mayor"],
        awaiting_stages=tuple(s.value for s in awaiting), failure_drill=bool(row["drill"]),
    )


def _fees(pairs: list[str]) -> dict[CertificateType, int]:
    """The defaults with a municipality's own fees (``type=yen``, from ``_fees_set``) over them."""
    fees = dict(DEFAULT_FEES)
    for pair in pairs:
        cert_type, yen = pair.rsplit("=", 1)
        fees[CertificateType(cert_type)] = int(yen)
    return fees


async def insert_municipality(conn: Conn, m: Municipality, created_at: str) -> None:
    await conn.execute(
        "INSERT INTO municipalities (code, name, kind, population, hosting, server_url, service_start, hours_open, "
        "hours_close, suspended, suspension_reason, prefecture, mayor, created_at) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        m.code, m.name, m.kind.value, m.population, m.hosting.value, m.server_url,
        m.service_start.isoformat() if m.service_start else None, m.hours.open, m.hours.close,
        int(m.suspended), m.suspension_reason, m.prefecture, m.mayor, created_at)


async def get_municipality(conn: Conn, code: str) -> Municipality | None:
    """One statement (a ``lookup``)."""
    row = await conn.fetchrow(f"{_SELECT}{_FROM} WHERE m.code = $1", code)  # noqa: S608 - constant text
    return None if row is None else _from_row(row)


async def list_municipalities(conn: Conn) -> list[Municipality]:
    rows = await conn.fetch(f'{_SELECT}{_FROM} ORDER BY m.code COLLATE "C"')  # noqa: S608 - constant text
    return [_from_row(r) for r in rows]


async def get_fees(conn: Conn, code: str) -> dict[CertificateType, int]:
    return _fees(await conn.fetchval(f"SELECT {_fees_set('$1')}", code))


async def municipality_exists(conn: Conn, code: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM municipalities WHERE code = $1", code) is not None


async def count_municipalities(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM municipalities"))


async def set_hours(conn: Conn, code: str, hours: ServiceHours) -> None:
    await conn.execute("UPDATE municipalities SET hours_open = $1, hours_close = $2 WHERE code = $3",
                       hours.open, hours.close, code)


async def set_suspension(conn: Conn, code: str, suspended: bool, reason: str | None) -> None:
    await conn.execute("UPDATE municipalities SET suspended = $1, suspension_reason = $2 WHERE code = $3",
                       int(suspended), reason, code)


async def set_fee(conn: Conn, code: str, cert_type: CertificateType, yen: int) -> None:
    await conn.execute(
        "INSERT INTO municipality_fees (municipality_code, cert_type, yen) VALUES ($1,$2,$3) "
        "ON CONFLICT (municipality_code, cert_type) DO UPDATE SET yen = excluded.yen", code, cert_type.value, yen)


async def set_service_start(conn: Conn, code: str, start: date) -> None:
    await conn.execute("UPDATE municipalities SET service_start = $1 WHERE code = $2", start.isoformat(), code)


# -- facts (``MunicipalityStore``) -----------------------------------------------------------------


async def add_municipality(conn: Conn, m: Municipality, audit: AuditEntry) -> Fees:
    if await municipality_exists(conn, m.code):
        raise Conflict(f"municipality {m.code} is already registered", field="code")
    await insert_municipality(conn, m, audit.at)
    await append_audit(conn, audit)
    return await get_fees(conn, m.code)


async def municipalities_with_fees(conn: Conn) -> list[tuple[Municipality, Fees]]:
    rows = await conn.fetch(f'{_SELECT}, {_FEES}{_FROM} ORDER BY m.code COLLATE "C"')  # noqa: S608 - constant text
    return [(_from_row(r), _fees(r["fees"])) for r in rows]


async def municipality_with_fees(conn: Conn, code: str) -> tuple[Municipality, Fees] | None:
    """A municipality with the fees it charges, in one statement (a ``lookup``)."""
    row = await conn.fetchrow(f"{_SELECT}, {_FEES}{_FROM} WHERE m.code = $1", code)  # noqa: S608 - constant text
    return None if row is None else (_from_row(row), _fees(row["fees"]))


async def change_control(conn: Conn, code: str, control: Control, audit: AuditEntry) -> bool:
    """One control change: checked, applied and audited in one transaction."""
    m = await get_municipality(conn, code)
    if m is None:
        raise NotFound(f"municipality {code} is not registered", field="code")
    old = control.current(m, await get_fees(conn, code))
    if old == audit.new_value:
        return False
    if isinstance(control, HoursControl):
        await set_hours(conn, code, control.hours)
    elif isinstance(control, SuspensionControl):
        await set_suspension(conn, code, control.suspended, control.reason)
    elif isinstance(control, FeeControl):
        await set_fee(conn, code, control.cert_type, control.yen)
    await append_audit(conn, audit.was(old))
    return True


class PgMunicipalities:
    """``MunicipalityStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def add_municipality(self, m: Municipality, audit: AuditEntry) -> Fees:
        return await self._db.write(add_municipality, m, audit)

    async def municipalities_with_fees(self) -> list[tuple[Municipality, Fees]]:
        return await self._db.read(municipalities_with_fees)

    async def municipality_with_fees(self, code: str) -> tuple[Municipality, Fees] | None:
        return await self._db.read(municipality_with_fees, code)

    async def change_control(self, code: str, control: Control, audit: AuditEntry) -> bool:
        return await self._db.write(change_control, code, control, audit)
