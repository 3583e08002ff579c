"""Layout versions of the certificate types and the centre's re-tests of a staged one."""

from __future__ import annotations

import json
import sqlite3

from bcl_console.domain.errors import Conflict
from bcl_console.store.api.audit import AuditEntry
from bcl_console.store.api.layouts import LayoutRow, RetestRecord
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database

_LAYOUT = "type, version, state, staged_at, staged_by, activated_at, activated_by, retired_at"
_RETEST = ("id, type, version, municipality_code, started_at, finished_at, run_by, outcome, reason, "
           "evidence")


def _retest(row: sqlite3.Row) -> RetestRecord:
    return RetestRecord(row["id"], row["type"], row["version"], row["municipality_code"], row["started_at"],
                        row["finished_at"], row["run_by"], row["outcome"], row["reason"],
                        json.loads(row["evidence"]))


def active_version(conn: sqlite3.Connection, type_: str) -> int:
    row = conn.execute("SELECT version FROM layout_versions WHERE type = ? AND state = 'active'",
                       (type_,)).fetchone()
    return int(row[0]) if row else 1


def staged_version(conn: sqlite3.Connection, type_: str) -> int | None:
    row = conn.execute("SELECT version FROM layout_versions WHERE type = ? AND state = 'staged'",
                       (type_,)).fetchone()
    return int(row[0]) if row else None


def layouts(conn: sqlite3.Connection) -> list[LayoutRow]:
    rows = conn.execute(f"SELECT {_LAYOUT} FROM layout_versions ORDER BY type, version")  # noqa: S608
    return [LayoutRow(*r) for r in rows]


def stage(conn: sqlite3.Connection, type_: str, version: int, audit: AuditEntry) -> bool:
    staged = staged_version(conn, type_)
    if staged == version:
        return False
    if staged is not None:
        raise Conflict(f"{type_} layout version {staged} is already staged; activate it first", field="version")
    active = active_version(conn, type_)
    if version <= active:
        raise Conflict(f"{type_} layout version {version} is not newer than the active version {active}",
                       field="version")
    conn.execute(
        "INSERT INTO layout_versions (type, version, state, staged_at, staged_by) VALUES (?, ?, 'staged', ?, ?) "
        "ON CONFLICT (type, version) DO UPDATE SET state = 'staged', staged_at = excluded.staged_at, "
        "staged_by = excluded.staged_by, retired_at = NULL", (type_, version, audit.at, audit.actor))
    append_audit(conn, audit)
    return True


def record_retest(conn: sqlite3.Connection, r: RetestRecord, audit: AuditEntry) -> int:
    if staged_version(conn, r.type) != r.version:
        raise Conflict(f"{r.type} layout version {r.version} is not staged any more", field="version")
    cur = conn.execute(
        "INSERT INTO layout_retests (type, version, municipality_code, started_at, finished_at, run_by, outcome, "
        "reason, evidence) VALUES (?,?,?,?,?,?,?,?,?)",
        (r.type, r.version, r.municipality_code, r.started_at, r.finished_at, r.run_by, r.outcome, r.reason,
         json.dumps(r.evidence, ensure_ascii=False, sort_keys=True)))
    append_audit(conn, audit)
    return int(cur.lastrowid or 0)


def retests(conn: sqlite3.Connection, type_: str | None, version: int | None) -> list[RetestRecord]:
    rows = conn.execute(
        f"SELECT {_RETEST} FROM layout_retests WHERE (? IS NULL OR type = ?) AND (? IS NULL OR version = ?) "  # noqa: S608
        "ORDER BY id DESC", (type_, type_, version, version))
    return [_retest(r) for r in rows]


def latest_outcomes(conn: sqlite3.Connection, type_: str, version: int) -> dict[str, str]:
    """The outcome of each municipality's latest re-test of a version."""
    out: dict[str, str] = {}
    for code, outcome in conn.execute(
            "SELECT municipality_code, outcome FROM layout_retests WHERE type = ? AND version = ? ORDER BY id",
            (type_, version)):
        out[code] = outcome
    return out


def activate(conn: sqlite3.Connection, type_: str, version: int, required: list[str], audit: AuditEntry) -> None:
    if staged_version(conn, type_) != version:
        raise Conflict(f"{type_} layout version {version} is not staged (layout stage {type_} {version})",
                       field="version")
    latest = latest_outcomes(conn, type_, version)
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
    old = active_version(conn, type_)
    conn.execute("UPDATE layout_versions SET state = 'retired', retired_at = ? WHERE type = ? AND state = 'active'",
                 (audit.at, type_))
    conn.execute("UPDATE layout_versions SET state = 'active', activated_at = ?, activated_by = ? "
                 "WHERE type = ? AND version = ? AND state = 'staged'", (audit.at, audit.actor, type_, version))
    append_audit(conn, audit.was(str(old)))


def resident_with_additions(conn: sqlite3.Connection, code: str, limit: int) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT resident_code FROM residents WHERE municipality_code = ? AND status = 'active' AND restricted = 0 "
        "AND (former_surname <> '' OR name_roman <> '') "
        "ORDER BY former_surname = '' OR name_roman = '', resident_code LIMIT ?", (code, limit))]


class SqliteLayouts:
    """``LayoutStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
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
