"""The audit trail of control changes: what, old → new, when, by whom, through what."""

from __future__ import annotations

import sqlite3

from bcl_console.store.api import AuditEntry as AuditEntry
from bcl_console.store.db import Database


def append_audit(conn: sqlite3.Connection, entry: AuditEntry) -> None:
    conn.execute(
        "INSERT INTO audit_log (at, actor, interface, municipality_code, action, field, "
        "old_value, new_value) VALUES (?,?,?,?,?,?,?,?)",
        (
            entry.at,
            entry.actor,
            entry.interface,
            entry.municipality_code,
            entry.action,
            entry.field,
            entry.old_value,
            entry.new_value,
        ),
    )


def list_audit(
    conn: sqlite3.Connection, municipality_code: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    if municipality_code is None:
        rows = conn.execute(
            "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM audit_log WHERE municipality_code = ? ORDER BY id DESC LIMIT ?",
            (municipality_code, limit),
        ).fetchall()
    return [
        AuditEntry(
            at=r["at"],
            actor=r["actor"],
            interface=r["interface"],
            municipality_code=r["municipality_code"],
            action=r["action"],
            field=r["field"],
            old_value=r["old_value"],
            new_value=r["new_value"],
        )
        for r in rows
    ]


class SqliteAudit:
    """``AuditStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def audit_trail(self, municipality_code: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return await self._db.read(list_audit, municipality_code, limit)
