"""Test My Number cards issued by the centre's test JPKI CA, and their revocation."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class CardRecord:
    serial: str
    municipality_code: str
    resident_code: str
    not_before: str
    not_after: str
    issued_at: str
    revoked_at: str | None


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
