"""API tokens: only their SHA-256 is stored; the token itself is shown once."""

from __future__ import annotations

import sqlite3

from bcl_console.domain.errors import NotFound
from bcl_console.store.api import AuditEntry
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import municipality_exists


def insert_token(conn: sqlite3.Connection, kind: str, subject: str, token_sha256: str, at: str) -> None:
    conn.execute(
        "INSERT INTO api_tokens (kind, subject, token_sha256, created_at) VALUES (?,?,?,?)",
        (kind, subject, token_sha256, at),
    )


def token_subject(conn: sqlite3.Connection, kind: str, token_sha256: str) -> str | None:
    row = conn.execute(
        "SELECT subject FROM api_tokens WHERE kind = ? AND token_sha256 = ? AND revoked_at IS NULL",
        (kind, token_sha256),
    ).fetchone()
    return None if row is None else str(row[0])


def token_subjects(conn: sqlite3.Connection, kind: str) -> list[str]:
    """Everyone holding a valid token of a kind (e.g. the registered kiosk operators), in
    the order they were first registered."""
    return [str(r[0]) for r in conn.execute(
        "SELECT subject FROM api_tokens WHERE kind = ? AND revoked_at IS NULL GROUP BY subject ORDER BY min(id)",
        (kind,))]


def issue_token(conn: sqlite3.Connection, kind: str, subject: str, token_sha256: str,
                audit: AuditEntry, must_be_municipality: bool) -> None:
    if must_be_municipality and not municipality_exists(conn, subject):
        raise NotFound(f"municipality {subject} is not registered", field="code")
    insert_token(conn, kind, subject, token_sha256, audit.at)
    append_audit(conn, audit)


class SqliteTokens:
    """``TokenStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def issue_token(self, kind: str, subject: str, token_sha256: str, audit: AuditEntry, *,
                          must_be_municipality: bool) -> None:
        await self._db.write(issue_token, kind, subject, token_sha256, audit, must_be_municipality)

    async def token_subject(self, kind: str, token_sha256: str) -> str | None:
        return await self._db.lookup(token_subject, kind, token_sha256)

    async def token_subjects(self, kind: str) -> list[str]:
        return await self._db.read(token_subjects, kind)
