"""Test My Number cards issued by the centre's test JPKI CA, and their revocation."""

from __future__ import annotations

import dataclasses
import sqlite3

from bcl_console.domain.errors import NotFound
from bcl_console.store.api import AuditEntry
from bcl_console.store.api import CardRecord as CardRecord
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import municipality_exists


def insert_card(conn: sqlite3.Connection, c: CardRecord) -> None:
    conn.execute(
        "INSERT INTO cards (serial, municipality_code, resident_code, not_before, not_after, issued_at, "
        "revoked_at) VALUES (?,?,?,?,?,?,?)",
        (c.serial, c.municipality_code, c.resident_code, c.not_before, c.not_after, c.issued_at, c.revoked_at),
    )


def insert_cards(conn: sqlite3.Connection, cards: list[CardRecord]) -> None:
    for c in cards:
        insert_card(conn, c)


def get_card(conn: sqlite3.Connection, serial: str) -> CardRecord | None:
    row = conn.execute("SELECT * FROM cards WHERE serial = ?", (serial,)).fetchone()
    return CardRecord(*row) if row else None


def revoke_card(conn: sqlite3.Connection, serial: str, at: str) -> bool:
    cur = conn.execute("UPDATE cards SET revoked_at = ? WHERE serial = ? AND revoked_at IS NULL", (at, serial))
    return cur.rowcount == 1


def card_residents(conn: sqlite3.Connection, municipality_code: str, limit: int = 10) -> list[str]:
    """Residents holding an unrevoked test card of a municipality (own-server test residents)."""
    return [str(r[0]) for r in conn.execute(
        "SELECT DISTINCT resident_code FROM cards WHERE municipality_code = ? AND revoked_at IS NULL "
        "ORDER BY resident_code LIMIT ?", (municipality_code, limit))]


def record_cards(conn: sqlite3.Connection, cards: list[CardRecord], audit: AuditEntry | None) -> None:
    insert_cards(conn, cards)
    if audit is not None:
        append_audit(conn, audit)


def revoke(conn: sqlite3.Connection, serial: str, audit: AuditEntry) -> None:
    """Revoke a card; audited with its municipality when this call revoked it."""
    card = get_card(conn, serial)
    if card is None:
        raise NotFound(f"no card with serial {serial} was issued here", field="card")
    if revoke_card(conn, serial, audit.at):
        append_audit(conn, dataclasses.replace(audit, municipality_code=card.municipality_code))


class SqliteCards:
    """``CardStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def municipality_exists(self, municipality_code: str) -> bool:
        return await self._db.read(municipality_exists, municipality_code)

    async def record_cards(self, cards: list[CardRecord], audit: AuditEntry | None) -> None:
        await self._db.write(record_cards, cards, audit)

    async def revoke_card(self, serial: str, audit: AuditEntry) -> None:
        await self._db.write(revoke, serial, audit)

    async def card(self, serial: str) -> CardRecord | None:
        return await self._db.lookup(get_card, serial)

    async def card_residents(self, municipality_code: str, limit: int) -> list[str]:
        return await self._db.read(card_residents, municipality_code, limit)
