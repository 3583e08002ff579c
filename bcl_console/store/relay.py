"""The relay's challenges and sessions (contract §5 steps 1–2), one row each.

A challenge is single use: ``take_challenge`` deletes it and returns what it deleted, so
of two requests naming one challenge (in one process or in two workers) only one gets
it. Expired rows are dropped when a new challenge is opened, oldest first beyond a cap.
"""

from __future__ import annotations

import sqlite3

from bcl_console.store.api import ChallengeRecord, SessionRecord
from bcl_console.store.db import Database


def open_challenge(conn: sqlite3.Connection, c: ChallengeRecord, now: str, max_open: int) -> None:
    conn.execute("DELETE FROM relay_challenges WHERE expires_at < ?", (now,))
    conn.execute("DELETE FROM relay_sessions WHERE expires_at < ?", (now,))
    conn.execute("INSERT INTO relay_challenges (challenge_id, operator, nonce, expires_at) VALUES (?,?,?,?)",
                 (c.challenge_id, c.operator, c.nonce, c.expires_at))
    for table in ("relay_challenges", "relay_sessions"):  # the fixed pair above, never input
        conn.execute(f"DELETE FROM {table} WHERE id <= (SELECT max(id) FROM {table}) - ?", (max_open,))  # noqa: S608


def take_challenge(conn: sqlite3.Connection, challenge_id: str) -> ChallengeRecord | None:
    row = conn.execute("DELETE FROM relay_challenges WHERE challenge_id = ? "
                       "RETURNING challenge_id, operator, nonce, expires_at", (challenge_id,)).fetchone()
    return None if row is None else ChallengeRecord(row[0], row[1], bytes(row[2]), row[3])


def open_session(conn: sqlite3.Connection, s: SessionRecord) -> None:
    conn.execute(
        "INSERT INTO relay_sessions (session_id, operator, municipality_code, resident_code, card_serial, channel, "
        "expires_at) VALUES (?,?,?,?,?,?,?)",
        (s.session_id, s.operator, s.municipality_code, s.resident_code, s.card_serial, s.channel, s.expires_at))


def get_session(conn: sqlite3.Connection, session_id: str) -> SessionRecord | None:
    row = conn.execute("SELECT session_id, operator, municipality_code, resident_code, card_serial, expires_at, "
                       "channel FROM relay_sessions WHERE session_id = ?", (session_id,)).fetchone()
    return None if row is None else SessionRecord(*row)


def close_session(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute("DELETE FROM relay_sessions WHERE session_id = ?", (session_id,))


class SqliteRelay:
    """``RelayStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def open_challenge(self, challenge: ChallengeRecord, *, now: str, max_open: int) -> None:
        await self._db.write(open_challenge, challenge, now, max_open)

    async def take_challenge(self, challenge_id: str) -> ChallengeRecord | None:
        return await self._db.write(take_challenge, challenge_id)

    async def open_session(self, session: SessionRecord) -> None:
        await self._db.write(open_session, session)

    async def session(self, session_id: str) -> SessionRecord | None:
        return await self._db.lookup(get_session, session_id)

    async def close_session(self, session_id: str) -> None:
        await self._db.write(close_session, session_id)
