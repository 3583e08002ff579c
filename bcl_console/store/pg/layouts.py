"""Layout versions of the certificate types and the centre's re-tests of a staged one
(PostgreSQL): the counterpart of ``store/layouts.py`` (same function names, same results).

Two concurrent stagings or activations of one type cannot both win: the partial unique
indexes (one staged, one active version per type) refuse the second, and as both read the
type's rows first, the SERIALIZABLE writer undoes and runs it again, when it sees the
first one's outcome (a Conflict, or "already staged").
"""

from __future__ import annotations

import json

import asyncpg

from bcl_console.domain.errors import Conflict
from bcl_console.store.api.audit import AuditEntry
from bcl_console.store.api.layouts import LayoutRow, RetestRecord
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase

_LAYOUT = "type, version, state, staged_at, staged_by, activated_at, activated_by, retired_at"
_RETEST = ("id, type, version, municipality_code, started_at, finished_at, run_by, outcome, reason, "
           "evidence")


def _retest(row: asyncpg.Record) -> RetestRecord:
    return RetestRecord(int(row["id"]), row["type"], row["version"], row["municipality_code"], row["started_at"],
                        row["finished_at"], row["run_by"], row["outcome"], row["reason"],
                        json.loads(row["evidence"]))


async def active_version(conn: Conn, type_: str) -> int:
    version = await conn.fetchval("SELECT version FROM layout_versions WHERE type = $1 AND state = 'active'", type_)
    return int(version) if version is not None else 1


async def staged_version(conn: Conn, type_: str) -> int | None:
    version = await conn.fetchval("SELECT version FROM layout_versions WHERE type = $1 AND state = 'staged'", type_)
    return int(version) if version is not None else None


async def layouts(conn: Conn) -> list[LayoutRow]:
    rows = await conn.fetch(f'SELECT {_LAYOUT} FROM layout_versions ORDER BY type COLLATE "C", version')  # noqa: S608
    return [LayoutRow(*r) for r in rows]


async def stage(conn: Conn, type_: str, version: int, audit: AuditEntry) -> bool:
    staged = await staged_version(conn, type_)
    if staged == version:
        return False
    if staged is not None:
        raise Conflict(f"{type_} layout version {staged} is already staged; activate it first", field="version")
    active = await active_version(conn, type_)
    if version <= active:
        raise Conflict(f"{type_} layout version {version} is not newer than the active version {active}",
                       field="version")
    await conn.execute(
        "INSERT INTO layout_versions (type, version, state, staged_at, staged_by) VALUES ($1, $2, 'staged', $3, $4) "
        "ON CONFLICT (type, version) DO UPDATE SET state = 'staged', staged_at = excluded.staged_at, "
        "staged_by = excluded.staged_by, retired_at = NULL", type_, version, audit.at, audit.actor)
    await append_audit(conn, audit)
    return True


async def record_retest(conn: Conn, r: RetestRecord, audit: AuditEntry) -> int:
    if await staged_version(conn, r.type) != r.version:
        raise Conflict(f"{r.type} layout version {r.version} is not staged any more", field="version")
    new_id = await conn.fetchval(
        "INSERT INTO layout_retests (type, version, municipality_code, started_at, finished_at, run_by, outcome, "
        "reason, evidence) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
        r.type, r.version, r.municipality_code, r.started_at, r.finished_at, r.run_by, r.outcome, r.reason,
        json.dumps(r.evidence, ensure_ascii=False, sort_keys=True))
    await append_audit(conn, audit)
    return int(new_id)


async def retests(conn: Conn, type_: str | None, version: int | None) -> list[RetestRecord]:
    rows = await conn.fetch(
        f"SELECT {_RETEST} FROM layout_retests "  # noqa: S608
        "WHERE ($1::text IS NULL OR type = $1) AND ($2::integer IS NULL OR version = $2) ORDER BY id DESC",
        type_, version)
    return [_retest(r) for r in rows]


async def latest_outcomes(conn: Conn, type_: str, version: int) -> dict[str, str]:
    """The outcome of each municipality's latest re-test of a version."""
    out: dict[str, str] = {}
    for code, outcome in await conn.fetch(
            "SELECT municipality_code, outcome FROM layout_retests WHERE type = $1 AND version = $2 ORDER BY id",
            type_, version):
        out[code] = outcome
    return out


async def activate(conn: Conn, type_: str, version: int, required: list[str], audit: AuditEntry) -> None:
    if await staged_version(conn, type_) != version:
        raise Conflict(f"{type_} layout version {version} is not staged (layout stage {type_} {version})",
                       field="version")
    latest = await latest_outcomes(conn, type_, version)
    if not required:
        raise Conflict(f"no live municipality offers {type_}: there is nothing to re-test", field="type")
    untested = [c for c in required if c not in latest]
    failed = [c for c in required if latest.get(c) == "failed"]
    if untested or failed:
        parts = []
        if failed:
            parts.append(f"the re-test failed for {', '.join(failed)}")
        if untested:
            parts.append(f"{', '.join(untested)} not re-tested")
        raise Conflict(f"{type_} layout version {version} cannot be activated: {'; '.join(parts)} "
                       f"(layout retest {type_})", field="version")
    old = await active_version(conn, type_)
    # The active one is retired before the staged one becomes active: the index of one
    # active version per type is checked statement by statement.
    await conn.execute("UPDATE layout_versions SET state = 'retired', retired_at = $1 "
                       "WHERE type = $2 AND state = 'active'", audit.at, type_)
    await conn.execute("UPDATE layout_versions SET state = 'active', activated_at = $1, activated_by = $2 "
                       "WHERE type = $3 AND version = $4 AND state = 'staged'", audit.at, audit.actor, type_, version)
    await append_audit(conn, audit.was(str(old)))


async def resident_with_additions(conn: Conn, code: str, limit: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT resident_code FROM residents WHERE municipality_code = $1 AND status = 'active' AND restricted = 0 "
        "AND (former_surname <> '' OR name_roman <> '') "
        "ORDER BY (former_surname = '' OR name_roman = ''), resident_code COLLATE \"C\" LIMIT $2", code, limit)
    return [r[0] for r in rows]


class PgLayouts:
    """``LayoutStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def active_version(self, type_: str) -> int:
        return await self._db.lookup(active_version, type_)

    async def layouts(self) -> list[LayoutRow]:
        return await self._db.read(layouts)

    async def stage(self, type_: str, version: int, audit: AuditEntry) -> bool:
        return await self._db.write(stage, type_, version, audit)

    async def record_retest(self, retest: RetestRecord, audit: AuditEntry) -> int:
        return await self._db.write(record_retest, retest, audit)

    async def retests(self, type_: str | None = None, version: int | None = None) -> list[RetestRecord]:
        return await self._db.read(retests, type_, version)

    async def activate(self, type_: str, version: int, required: list[str], audit: AuditEntry) -> None:
        await self._db.write(activate, type_, version, required, audit)

    async def resident_with_additions(self, code: str, limit: int) -> list[str]:
        return await self._db.read(resident_with_additions, code, limit)
