"""API tokens (PostgreSQL): the counterpart of ``store/tokens.py``; only hashes are stored."""

from __future__ import annotations

from bcl_console.domain.errors import NotFound
from bcl_console.store.api import AuditEntry
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.municipalities import municipality_exists as municipality_exists


async def insert_token(conn: Conn, kind: str, subject: str, token_sha256: str, at: str) -> None:
    await conn.execute("INSERT INTO api_tokens (kind, subject, token_sha256, created_at) VALUES ($1,$2,$3,$4)",
                       kind, subject, token_sha256, at)


async def token_subject(conn: Conn, kind: str, token_sha256: str) -> str | None:
    value = await conn.fetchval(
        "SELECT subject FROM api_tokens WHERE kind = $1 AND token_sha256 = $2 AND revoked_at IS NULL",
        kind, token_sha256)
    return None if value is None else str(value)


async def token_subjects(conn: Conn, kind: str) -> list[str]:
    rows = await conn.fetch("SELECT subject FROM api_tokens WHERE kind = $1 AND revoked_at IS NULL "
                            "GROUP BY subject ORDER BY min(id)", kind)
    return [str(r[0]) for r in rows]


async def issue_token(conn: Conn, kind: str, subject: str, token_sha256: str, audit: AuditEntry,
                      must_be_municipality: bool) -> None:
    if must_be_municipality and not await municipality_exists(conn, subject):
        raise NotFound(f"municipality {subject} is not registered", field="code")
    await insert_token(conn, kind, subject, token_sha256, audit.at)
    await append_audit(conn, audit)


class PgTokens:
    """``TokenStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def issue_token(self, kind: str, subject: str, token_sha256: str, audit: AuditEntry, *,
                          must_be_municipality: bool) -> None:
        await self._db.write(issue_token, kind, subject, token_sha256, audit, must_be_municipality)

    async def token_subject(self, kind: str, token_sha256: str) -> str | None:
        return await self._db.lookup(token_subject, kind, token_sha256)

    async def token_subjects(self, kind: str) -> list[str]:
        return await self._db.read(token_subjects, kind)
