"""The audit trail (PostgreSQL): the counterpart of ``store/audit.py``."""

from __future__ import annotations

from bcl_console.store.api import AuditEntry
from bcl_console.store.pg.db import Conn, PgDatabase


async def append_audit(conn: Conn, entry: AuditEntry) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor, interface, municipality_code, action, field, old_value, new_value) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        entry.at, entry.actor, entry.interface, entry.municipality_code, entry.action, entry.field,
        entry.old_value, entry.new_value)


async def list_audit(conn: Conn, municipality_code: str | None = None, limit: int = 100) -> list[AuditEntry]:
    rows = await conn.fetch(
        "SELECT at, actor, interface, municipality_code, action, field, old_value, new_value FROM audit_log "
        "WHERE $1::text IS NULL OR municipality_code = $1 ORDER BY id DESC LIMIT $2", municipality_code, limit)
    return [AuditEntry(*r) for r in rows]


class PgAudit:
    """``AuditStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def audit_trail(self, municipality_code: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return await self._db.read(list_audit, municipality_code, limit)
