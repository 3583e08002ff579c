"""Test My Number cards and their revocation (PostgreSQL): the counterpart of ``store/cards.py``."""

from __future__ import annotations

import dataclasses

from bcl_console.domain.errors import NotFound
from bcl_console.store.api import AuditEntry, CardRecord
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.municipalities import municipality_exists

_INSERT = ("INSERT INTO cards (serial, municipality_code, resident_code, not_before, not_after, issued_at, "
           "revoked_at) VALUES ($1,$2,$3,$4,$5,$6,$7)")


async def insert_card(conn: Conn, c: CardRecord) -> None:
    await conn.execute(_INSERT, c.serial, c.municipality_code, c.resident_code, c.not_before, c.not_after,
                       c.issued_at, c.revoked_at)


async def insert_cards(conn: Conn, cards: list[CardRecord]) -> None:
    await conn.executemany(_INSERT, [(c.serial, c.municipality_code, c.resident_code, c.not_before, c.not_after,
                                      c.issued_at, c.revoked_at) for c in cards])


async def get_card(conn: Conn, serial: str) -> CardRecord | None:
    row = await conn.fetchrow("SELECT serial, municipality_code, resident_code, not_before, not_after, issued_at, "
                              "revoked_at FROM cards WHERE serial = $1", serial)
    return CardRecord(*row) if row else None


async def revoke_card(conn: Conn, serial: str, at: str) -> bool:
    row = await conn.fetchrow("UPDATE cards SET revoked_at = $1 WHERE serial = $2 AND revoked_at IS NULL "
                              "RETURNING serial", at, serial)
    return row is not None


async def card_residents(conn: Conn, municipality_code: str, limit: int = 10) -> list[str]:
    """Residents holding an unrevoked test card of a municipality (own-server test residents)."""
    return [str(r[0]) for r in await conn.fetch(
        "SELECT DISTINCT resident_code COLLATE \"C\" FROM cards WHERE municipality_code = $1 AND revoked_at IS NULL "
        "ORDER BY 1 LIMIT $2", municipality_code, limit)]


async def record_cards(conn: Conn, cards: list[CardRecord], audit: AuditEntry | None) -> None:
    await insert_cards(conn, cards)
    if audit is not None:
        await append_audit(conn, audit)


async def revoke(conn: Conn, serial: str, audit: AuditEntry) -> None:
    """Revoke a card; audited with its municipality when this call revoked it."""
    card = await get_card(conn, serial)
    if card is None:
        raise NotFound(f"no card with serial {serial} was issued here", field="card")
    if await revoke_card(conn, serial, audit.at):
        await append_audit(conn, dataclasses.replace(audit, municipality_code=card.municipality_code))


class PgCards:
    """``CardStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
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
