"""The relay's challenges and sessions (PostgreSQL): the counterpart of ``store/relay.py``.

A challenge is single use across every worker: ``take_challenge`` is one DELETE …
RETURNING, and of two transactions deleting the same row only one gets it back. Every
fact here is exact statement by statement, so they run in READ COMMITTED: a burst of
kiosks opening challenges (each clearing expired rows) would only make one another undo
and run again under SERIALIZABLE.
"""

from __future__ import annotations

from bcl_console.store.api import ChallengeRecord, SessionRecord
from bcl_console.store.pg.db import Conn, PgDatabase


async def open_challenge(conn: Conn, c: ChallengeRecord, now: str, max_open: int) -> None:
    """The new challenge, with the expired challenges and sessions cleared and each table
    kept to its newest ``max_open`` rows: one statement, one round trip (the sub-statements
    share one snapshot, so the new row counts in ``+ 1``)."""
    await conn.execute(
        "WITH old_challenges AS (DELETE FROM relay_challenges WHERE expires_at < $1 "
        "  OR id <= (SELECT max(id) FROM relay_challenges) + 1 - $5), "
        "old_sessions AS (DELETE FROM relay_sessions WHERE expires_at < $1 "
        "  OR id <= (SELECT max(id) FROM relay_sessions) - $5) "
        "INSERT INTO relay_challenges (challenge_id, operator, nonce, expires_at) VALUES ($2,$3,$4,$6)",
        now, c.challenge_id, c.operator, c.nonce, max_open, c.expires_at)


async def take_challenge(conn: Conn, challenge_id: str) -> ChallengeRecord | None:
    row = await conn.fetchrow("DELETE FROM relay_challenges WHERE challenge_id = $1 "
                              "RETURNING challenge_id, operator, nonce, expires_at", challenge_id)
    return None if row is None else ChallengeRecord(row[0], row[1], bytes(row[2]), row[3])


async def open_session(conn: Conn, s: SessionRecord) -> None:
    await conn.execute(
        "INSERT INTO relay_sessions (session_id, operator, municipality_code, resident_code, card_serial, channel, "
        "expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        s.session_id, s.operator, s.municipality_code, s.resident_code, s.card_serial, s.channel, s.expires_at)


async def get_session(conn: Conn, session_id: str) -> SessionRecord | None:
    row = await conn.fetchrow("SELECT session_id, operator, municipality_code, resident_code, card_serial, "
                              "expires_at, channel FROM relay_sessions WHERE session_id = $1", session_id)
    return None if row is None else SessionRecord(*row)


async def close_session(conn: Conn, session_id: str) -> None:
    await conn.execute("DELETE FROM relay_sessions WHERE session_id = $1", session_id)


class PgRelay:
    """``RelayStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def open_challenge(self, challenge: ChallengeRecord, *, now: str, max_open: int) -> None:
        await self._db.write_committed(open_challenge, challenge, now, max_open)

    async def take_challenge(self, challenge_id: str) -> ChallengeRecord | None:
        return await self._db.write_committed(take_challenge, challenge_id)

    async def open_session(self, session: SessionRecord) -> None:
        await self._db.write_committed(open_session, session)

    async def session(self, session_id: str) -> SessionRecord | None:
        return await self._db.lookup(get_session, session_id)

    async def close_session(self, session_id: str) -> None:
        await self._db.write_committed(close_session, session_id)
