"""Queries on linkage batches (連携用データ) received from municipalities."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BatchRecord:
    id: int
    municipality_code: str
    sequence: int
    kind: str
    created_at: str | None
    received_at: str
    source: str
    outcome: str
    counts: dict[str, int]
    checksums: dict[str, str]
    problems: list[dict[str, Any]]


def record_batch(
    conn: sqlite3.Connection,
    *,
    municipality_code: str,
    sequence: int,
    kind: str,
    created_at: str | None,
    received_at: str,
    source: str,
    outcome: str,
    counts: dict[str, int],
    checksums: dict[str, str],
    problems: list[dict[str, Any]] | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO linkage_batches (municipality_code, sequence, kind, created_at, "
        "received_at, source, outcome, counts, checksums, problems) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            municipality_code,
            sequence,
            kind,
            created_at,
            received_at,
            source,
            outcome,
            json.dumps(counts, sort_keys=True),
            json.dumps(checksums, sort_keys=True),
            json.dumps(problems or [], ensure_ascii=False),
        ),
    )
    return int(cur.lastrowid or 0)


def _record(row: sqlite3.Row) -> BatchRecord:
    return BatchRecord(
        id=row["id"],
        municipality_code=row["municipality_code"],
        sequence=row["sequence"],
        kind=row["kind"],
        created_at=row["created_at"],
        received_at=row["received_at"],
        source=row["source"],
        outcome=row["outcome"],
        counts=json.loads(row["counts"]),
        checksums=json.loads(row["checksums"]),
        problems=json.loads(row["problems"]),
    )


def last_applied_batches(conn: sqlite3.Connection) -> dict[str, BatchRecord]:
    """The newest applied batch of each municipality."""
    rows = conn.execute(
        "SELECT b.* FROM linkage_batches b JOIN ("
        "  SELECT municipality_code, max(id) AS id FROM linkage_batches"
        "  WHERE outcome = 'applied' GROUP BY municipality_code"
        ") last ON last.id = b.id"
    ).fetchall()
    return {r["municipality_code"]: _record(r) for r in rows}


def last_applied_sequence(conn: sqlite3.Connection, municipality_code: str) -> int:
    row = conn.execute(
        "SELECT max(sequence) FROM linkage_batches WHERE municipality_code = ? AND outcome = 'applied'",
        (municipality_code,),
    ).fetchone()
    return int(row[0] or 0)


def applied_batch(conn: sqlite3.Connection, municipality_code: str, sequence: int) -> BatchRecord | None:
    row = conn.execute(
        "SELECT * FROM linkage_batches WHERE municipality_code = ? AND sequence = ? "
        "AND outcome = 'applied'",
        (municipality_code, sequence),
    ).fetchone()
    return _record(row) if row else None


def list_batches(
    conn: sqlite3.Connection, municipality_code: str | None = None, limit: int = 200
) -> list[BatchRecord]:
    if municipality_code is None:
        rows = conn.execute(
            "SELECT * FROM linkage_batches ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM linkage_batches WHERE municipality_code = ? ORDER BY id DESC LIMIT ?",
            (municipality_code, limit),
        ).fetchall()
    return [_record(r) for r in rows]


@dataclass(frozen=True)
class BackupRecord:
    municipality_code: str
    sequence: int
    kind: str
    path: str
    size: int
    created_at: str


def insert_backup(conn: sqlite3.Connection, b: BackupRecord) -> None:
    conn.execute(
        "INSERT INTO linkage_backups (municipality_code, sequence, kind, path, size, created_at) "
        "VALUES (?,?,?,?,?,?)",
        (b.municipality_code, b.sequence, b.kind, b.path, b.size, b.created_at),
    )


def list_backups(conn: sqlite3.Connection, municipality_code: str | None = None) -> list[BackupRecord]:
    if municipality_code is None:
        rows = conn.execute(
            "SELECT * FROM linkage_backups ORDER BY municipality_code, sequence"
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM linkage_backups WHERE municipality_code = ? ORDER BY sequence",
            (municipality_code,),
        ).fetchall()
    return [
        BackupRecord(r["municipality_code"], r["sequence"], r["kind"], r["path"], r["size"], r["created_at"])
        for r in rows
    ]
