"""Municipalities' reads (PostgreSQL): the part of ``store/municipalities.py`` that the
issuance and settlement areas read a municipality and its fees with (same names)."""

from __future__ import annotations

from datetime import date

import asyncpg

from bcl_console.domain.municipality import (
    DEFAULT_FEES,
    CertificateType,
    Hosting,
    Kind,
    Municipality,
    ServiceHours,
)
from bcl_console.domain.onboarding import Outcome, Stage, go_live_blockers
from bcl_console.store.pg.db import Conn

_SELECT = (
    "SELECT code, name, kind, population, hosting, server_url, service_start, hours_open, "
    "hours_close, suspended, suspension_reason, prefecture, mayor, "
    "(SELECT p.override_reason IS NOT NULL FROM onboarding_plans p WHERE p.municipality_code = municipalities.code) "
    "AS plan_override, "
    "EXISTS (SELECT 1 FROM failure_drills d WHERE d.municipality_code = municipalities.code) AS drill "
    "FROM municipalities"
)


async def passed_stage_set(conn: Conn, code: str) -> set[Stage]:
    """Stages whose newest run passed (or was recorded as not required)."""
    latest: dict[str, str] = {}
    for stage, outcome in await conn.fetch(
            "SELECT stage, outcome FROM stage_runs WHERE municipality_code = $1 ORDER BY id", code):
        latest[stage] = outcome
    return {Stage(s) for s, o in latest.items() if o in (Outcome.PASSED.value, Outcome.NOT_REQUIRED.value)}


async def _from_row(conn: Conn, row: asyncpg.Record) -> Municipality:
    hosting = Hosting(row["hosting"])
    has_plan = row["plan_override"] is not None
    passed = await passed_stage_set(conn, row["code"]) if has_plan else set()
    awaiting = go_live_blockers(hosting, has_plan, passed, bool(row["plan_override"]))
    return Municipality(
        code=row["code"], name=row["name"], kind=Kind(row["kind"]), population=row["population"],
        hosting=hosting, server_url=row["server_url"],
        service_start=date.fromisoformat(row["service_start"]) if row["service_start"] else None,
        hours=ServiceHours(row["hours_open"], row["hours_close"]), suspended=bool(row["suspended"]),
        suspension_reason=row["suspension_reason"], prefecture=row["prefecture"], mayor=row["mayor"],
        awaiting_stages=tuple(s.value for s in awaiting), failure_drill=bool(row["drill"]),
    )


async def get_municipality(conn: Conn, code: str) -> Municipality | None:
    row = await conn.fetchrow(f"{_SELECT} WHERE code = $1", code)  # noqa: S608 - constant text
    return None if row is None else await _from_row(conn, row)


async def list_municipalities(conn: Conn) -> list[Municipality]:
    rows = await conn.fetch(f'{_SELECT} ORDER BY code COLLATE "C"')  # noqa: S608 - constant text
    return [await _from_row(conn, r) for r in rows]


async def get_fees(conn: Conn, code: str) -> dict[CertificateType, int]:
    fees = dict(DEFAULT_FEES)
    for row in await conn.fetch("SELECT cert_type, yen FROM municipality_fees WHERE municipality_code = $1", code):
        fees[CertificateType(row["cert_type"])] = int(row["yen"])
    return fees
