"""The municipalities' terminals by kind (PostgreSQL): the counterpart of ``store/terminals.py``."""

from __future__ import annotations

import asyncpg

from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.domain.terminals import KINDS
from bcl_console.store.api import AuditEntry, TerminalRecord
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.tokens import municipality_exists

_COLUMNS = "id, municipality_code, name, created_at, created_by, revoked_at, revoked_by, kind"


def _terminal(row: asyncpg.Record) -> TerminalRecord:
    return TerminalRecord(row["id"], row["municipality_code"], row["name"], row["created_at"],
                          row["created_by"], row["revoked_at"], row["revoked_by"], row["kind"])


def _label(kind: str) -> str:
    return KINDS[kind].label


async def _known_municipality(conn: Conn, code: str) -> None:
    if not await municipality_exists(conn, code):
        raise NotFound(f"municipality {code} is not registered", field="municipality")


async def add_terminal(conn: Conn, kind: str, code: str, name: str, token_sha256: str,
                       audit: AuditEntry) -> TerminalRecord:
    await _known_municipality(conn, code)
    if await conn.fetchval("SELECT 1 FROM terminals WHERE kind = $1 AND municipality_code = $2 AND name = $3 "
                           "AND revoked_at IS NULL", kind, code, name):
        raise Conflict(f"{code} already has a {_label(kind)} in use named {name!r}; revoke it or choose "
                       "another name", field="name")
    row = await conn.fetchrow(
        "INSERT INTO terminals (kind, municipality_code, name, token_sha256, created_at, created_by) "  # noqa: S608
        f"VALUES ($1,$2,$3,$4,$5,$6) RETURNING {_COLUMNS}",
        kind, code, name, token_sha256, audit.at, audit.actor)
    await append_audit(conn, audit)
    return _terminal(row)


async def terminals(conn: Conn, kind: str, code: str | None = None) -> list[TerminalRecord]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                            "WHERE kind = $1 AND ($2::text IS NULL OR municipality_code = $2) ORDER BY id",
                            kind, code)
    return [_terminal(r) for r in rows]


async def _find(conn: Conn, kind: str, code: str, which: str) -> TerminalRecord | None:
    """A terminal by id (all digits), else by name: the one in use, else the newest revoked."""
    if which.isdigit() and len(which) <= 18:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                                  "WHERE kind = $1 AND municipality_code = $2 AND id = $3", kind, code, int(which))
        if row is not None:
            return _terminal(row)
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                              "WHERE kind = $1 AND municipality_code = $2 AND name = $3 "
                              "ORDER BY revoked_at IS NULL DESC, id DESC", kind, code, which)
    return None if row is None else _terminal(row)


async def revoke_terminal(conn: Conn, kind: str, code: str, which: str,
                          audit: AuditEntry) -> tuple[TerminalRecord, bool]:
    await _known_municipality(conn, code)
    found = await _find(conn, kind, code, which)
    if found is None:
        raise NotFound(f"{code} has no {_label(kind)} {which!r}", field="terminal")
    if not found.active:
        return found, False
    row = await conn.fetchrow(f"UPDATE terminals SET revoked_at = $1, revoked_by = $2 WHERE id = $3 "  # noqa: S608
                              f"RETURNING {_COLUMNS}", audit.at, audit.actor, found.id)
    await append_audit(conn, AuditEntry(audit.at, audit.actor, audit.interface, code, audit.action, audit.field,
                                        found.name, audit.new_value))
    return _terminal(row), True


async def terminal_by_token(conn: Conn, kind: str, token_sha256: str) -> TerminalRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                              "WHERE kind = $1 AND token_sha256 = $2 AND revoked_at IS NULL", kind, token_sha256)
    return None if row is None else _terminal(row)


class PgTerminals:
    """``TerminalStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def add_terminal(self, kind: str, code: str, name: str, token_sha256: str,
                           audit: AuditEntry) -> TerminalRecord:
        return await self._db.write(add_terminal, kind, code, name, token_sha256, audit)

    async def terminals(self, kind: str, code: str | None = None) -> list[TerminalRecord]:
        return await self._db.read(terminals, kind, code)

    async def revoke_terminal(self, kind: str, code: str, which: str,
                              audit: AuditEntry) -> tuple[TerminalRecord, bool]:
        return await self._db.write(revoke_terminal, kind, code, which, audit)

    async def terminal_by_token(self, kind: str, token_sha256: str) -> TerminalRecord | None:
        return await self._db.lookup(terminal_by_token, kind, token_sha256)
