"""The centre's terminals of the municipalities, by kind (management terminals, 管理端末;
counter terminals, らくらく窓口): their registration and revocation, and the token lookup of
every /manage/v1 and /counter/v1 request. Every statement names the kind."""

from __future__ import annotations

import sqlite3

from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.domain.terminals import KINDS
from bcl_console.store.api import AuditEntry, TerminalRecord
from bcl_console.store.audit import append_audit
from bcl_console.store.db import Database
from bcl_console.store.municipalities import municipality_exists

_COLUMNS = "id, municipality_code, name, created_at, created_by, revoked_at, revoked_by, kind"


def _terminal(row: sqlite3.Row) -> TerminalRecord:
    return TerminalRecord(row["id"], row["municipality_code"], row["name"], row["created_at"],
                          row["created_by"], row["revoked_at"], row["revoked_by"], row["kind"])


def _label(kind: str) -> str:
    return KINDS[kind].label


def _one(conn: sqlite3.Connection, terminal_id: int) -> TerminalRecord:
    row = conn.execute(f"SELECT {_COLUMNS} FROM terminals WHERE id = ?", (terminal_id,)).fetchone()  # noqa: S608
    return _terminal(row)


def _known_municipality(conn: sqlite3.Connection, code: str) -> None:
    if not municipality_exists(conn, code):
        raise NotFound(f"municipality {code} is not registered", field="municipality")


def add_terminal(conn: sqlite3.Connection, kind: str, code: str, name: str, token_sha256: str,
                 audit: AuditEntry) -> TerminalRecord:
    _known_municipality(conn, code)
    if conn.execute("SELECT 1 FROM terminals WHERE kind = ? AND municipality_code = ? AND name = ? "
                    "AND revoked_at IS NULL", (kind, code, name)).fetchone():
        raise Conflict(f"{code} already has a {_label(kind)} in use named {name!r}; revoke it or choose "
                       "another name", field="name")
    cur = conn.execute(
        "INSERT INTO terminals (kind, municipality_code, name, token_sha256, created_at, created_by) "
        "VALUES (?,?,?,?,?,?)", (kind, code, name, token_sha256, audit.at, audit.actor))
    append_audit(conn, audit)
    assert cur.lastrowid is not None
    return _one(conn, cur.lastrowid)


def terminals(conn: sqlite3.Connection, kind: str, code: str | None = None) -> list[TerminalRecord]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                        "WHERE kind = ? AND (? IS NULL OR municipality_code = ?) ORDER BY id", (kind, code, code))
    return [_terminal(r) for r in rows]


def _find(conn: sqlite3.Connection, kind: str, code: str, which: str) -> TerminalRecord | None:
    """A terminal by id (all digits), else by name: the one in use, else the newest revoked."""
    if which.isdigit() and len(which) <= 18:
        row = conn.execute(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                           "WHERE kind = ? AND municipality_code = ? AND id = ?", (kind, code, int(which))).fetchone()
        if row is not None:
            return _terminal(row)
    row = conn.execute(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                       "WHERE kind = ? AND municipality_code = ? AND name = ? "
                       "ORDER BY revoked_at IS NULL DESC, id DESC", (kind, code, which)).fetchone()
    return None if row is None else _terminal(row)


def revoke_terminal(conn: sqlite3.Connection, kind: str, code: str, which: str,
                    audit: AuditEntry) -> tuple[TerminalRecord, bool]:
    _known_municipality(conn, code)
    found = _find(conn, kind, code, which)
    if found is None:
        raise NotFound(f"{code} has no {_label(kind)} {which!r}", field="terminal")
    if not found.active:
        return found, False
    conn.execute("UPDATE terminals SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                 (audit.at, audit.actor, found.id))
    append_audit(conn, AuditEntry(audit.at, audit.actor, audit.interface, code, audit.action, audit.field,
                                  found.name, audit.new_value))
    return _one(conn, found.id), True


def terminal_by_token(conn: sqlite3.Connection, kind: str, token_sha256: str) -> TerminalRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM terminals "  # noqa: S608
                       "WHERE kind = ? AND token_sha256 = ? AND revoked_at IS NULL", (kind, token_sha256)).fetchone()
    return None if row is None else _terminal(row)


class SqliteTerminals:
    """``TerminalStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
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
        return await self._db.read(terminal_by_token, kind, token_sha256)
