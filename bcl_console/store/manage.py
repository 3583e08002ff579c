"""Management terminals (管理端末): their registration and revocation, the token lookup
of every /manage/v1 request, and the day's issuances a terminal lists."""

from __future__ import annotations

import sqlite3

from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.store.api import AuditEntry, DayIssuance, DayIssuances, TerminalRecord
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import municipality_exists

_TERMINAL = "id, municipality_code, name, created_at, created_by, revoked_at, revoked_by"


def _terminal(row: sqlite3.Row) -> TerminalRecord:
    return TerminalRecord(row["id"], row["municipality_code"], row["name"], row["created_at"],
                          row["created_by"], row["revoked_at"], row["revoked_by"])


def add_terminal(conn: sqlite3.Connection, code: str, name: str, token_sha256: str,
                 audit: AuditEntry) -> TerminalRecord:
    if not municipality_exists(conn, code):
        raise NotFound(f"municipality {code} is not registered", field="municipality")
    if conn.execute("SELECT 1 FROM management_terminals WHERE municipality_code = ? AND name = ? "
                    "AND revoked_at IS NULL", (code, name)).fetchone():
        raise Conflict(f"{code} already has a terminal in use named {name!r}; revoke it or choose "
                       "another name", field="name")
    cur = conn.execute(
        "INSERT INTO management_terminals (municipality_code, name, token_sha256, created_at, created_by) "
        "VALUES (?,?,?,?,?)", (code, name, token_sha256, audit.at, audit.actor))
    append_audit(conn, audit)
    row = conn.execute(f"SELECT {_TERMINAL} FROM management_terminals WHERE id = ?",  # noqa: S608
                       (cur.lastrowid,)).fetchone()
    return _terminal(row)


def terminals(conn: sqlite3.Connection, code: str | None = None) -> list[TerminalRecord]:
    if code is None:
        rows = conn.execute(f"SELECT {_TERMINAL} FROM management_terminals ORDER BY id")  # noqa: S608
    else:
        rows = conn.execute(f"SELECT {_TERMINAL} FROM management_terminals "  # noqa: S608
                            "WHERE municipality_code = ? ORDER BY id", (code,))
    return [_terminal(r) for r in rows]


def _find(conn: sqlite3.Connection, code: str, which: str) -> TerminalRecord | None:
    """A terminal by id (all digits), else by name: the one in use, else the newest revoked."""
    if which.isdigit() and len(which) <= 18:
        row = conn.execute(f"SELECT {_TERMINAL} FROM management_terminals "  # noqa: S608
                           "WHERE municipality_code = ? AND id = ?", (code, int(which))).fetchone()
        if row is not None:
            return _terminal(row)
    row = conn.execute(f"SELECT {_TERMINAL} FROM management_terminals "  # noqa: S608
                       "WHERE municipality_code = ? AND name = ? ORDER BY revoked_at IS NULL DESC, id DESC",
                       (code, which)).fetchone()
    return None if row is None else _terminal(row)


def revoke_terminal(conn: sqlite3.Connection, code: str, which: str,
                    audit: AuditEntry) -> tuple[TerminalRecord, bool]:
    if not municipality_exists(conn, code):
        raise NotFound(f"municipality {code} is not registered", field="municipality")
    found = _find(conn, code, which)
    if found is None:
        raise NotFound(f"{code} has no management terminal {which!r}", field="terminal")
    if not found.active:
        return found, False
    conn.execute("UPDATE management_terminals SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                 (audit.at, audit.actor, found.id))
    append_audit(conn, AuditEntry(audit.at, audit.actor, audit.interface, code, audit.action, audit.field,
                                  found.name, audit.new_value))
    row = conn.execute(f"SELECT {_TERMINAL} FROM management_terminals WHERE id = ?",  # noqa: S608
                       (found.id,)).fetchone()
    return _terminal(row), True


def terminal_by_token(conn: sqlite3.Connection, token_sha256: str) -> TerminalRecord | None:
    row = conn.execute(f"SELECT {_TERMINAL} FROM management_terminals "  # noqa: S608
                       "WHERE token_sha256 = ? AND revoked_at IS NULL", (token_sha256,)).fetchone()
    return None if row is None else _terminal(row)


def day_issuances(conn: sqlite3.Connection, code: str, since: str, until: str, limit: int,
                  offset: int) -> DayIssuances:
    rows = conn.execute(
        "SELECT request_id, type, channel, operator, fee, state, created_at, issued_at, completed_at, "
        "voided_at, certificate_number FROM issuances "
        "WHERE municipality_code = ? AND created_at >= ? AND created_at < ? "
        "ORDER BY created_at, id LIMIT ? OFFSET ?", (code, since, until, limit, offset)).fetchall()
    counts = [(r[0], r[1], r[2], int(r[3])) for r in conn.execute(
        "SELECT type, channel, state, count(*) FROM issuances "
        "WHERE municipality_code = ? AND created_at >= ? AND created_at < ? "
        "GROUP BY type, channel, state ORDER BY type, channel, state", (code, since, until))]
    return DayIssuances([DayIssuance(*r) for r in rows], sum(n for *_, n in counts), counts)


class SqliteManage:
    """``ManageStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_terminal(self, code: str, name: str, token_sha256: str, audit: AuditEntry) -> TerminalRecord:
        return await self._db.write(add_terminal, code, name, token_sha256, audit)

    async def terminals(self, code: str | None = None) -> list[TerminalRecord]:
        return await self._db.read(terminals, code)

    async def revoke_terminal(self, code: str, which: str, audit: AuditEntry) -> tuple[TerminalRecord, bool]:
        return await self._db.write(revoke_terminal, code, which, audit)

    async def terminal_by_token(self, token_sha256: str) -> TerminalRecord | None:
        return await self._db.read(terminal_by_token, token_sha256)

    async def day_issuances(self, code: str, since: str, until: str, limit: int, offset: int) -> DayIssuances:
        return await self._db.read(day_issuances, code, since, until, limit, offset)
