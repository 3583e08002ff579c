"""API tokens: only their SHA-256 is stored; the token itself is shown once."""

from __future__ import annotations

import sqlite3


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
