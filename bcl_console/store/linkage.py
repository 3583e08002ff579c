"""Linkage batches (連携用データ) received from municipalities: their records, backups,
rejected batches' sealed problem lists, and the facts that apply and restore them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from bcl_console.domain.linkage import Problems
from bcl_console.domain.resident import RESIDENT_FIELDS
from bcl_console.store import ledger as ledger_store
from bcl_console.store import residents as res_store
from bcl_console.store.api import (
    AuditEntry,
    BatchArrival,
    BatchLoad,
    BatchOutcome,
    HeldData,
    HeldTotals,
    RejectedRecord,
    RestoreStep,
)
from bcl_console.store.api import BackupRecord as BackupRecord
from bcl_console.store.api import BatchRecord as BatchRecord
from bcl_console.store.audit import append_audit
from bcl_console.store.batch_load import BatchLoader
from bcl_console.store.db import Database
from bcl_console.store.municipalities import municipality_exists

T = TypeVar("T")


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


# -- applying and restoring batches ------------------------------------------------------
class _Rejected(Exception):
    """Raised inside a transaction to roll it back: the batch's problems say why."""


class _AlreadyApplied(Exception):
    def __init__(self, record: BatchRecord) -> None:
        self.record = record


def _check_sequence(conn: sqlite3.Connection, arrival: BatchArrival, problems: Problems) -> None:
    m = arrival.manifest
    code = m.municipality_code
    if not municipality_exists(conn, code):
        problems.add("manifest.json", None, "municipality_code", f"municipality {code} is not registered")
        raise _Rejected
    same = applied_batch(conn, code, m.sequence)
    if same is not None:
        if same.checksums == m.checksums() and same.kind == m.kind and not problems:
            raise _AlreadyApplied(same)
        problems.add("manifest.json", None, "sequence",
                     f"sequence {m.sequence} was already applied with other content (conflict)")
        raise _Rejected
    last = last_applied_sequence(conn, code)
    if m.kind == "full" and m.sequence <= last:
        problems.add("manifest.json", None, "sequence",
                     f"a full batch needs a sequence above the last applied ({last}), not {m.sequence}")
        raise _Rejected
    if m.kind == "delta" and m.sequence != last + 1:
        gap = "a gap" if m.sequence > last + 1 else "behind"
        problems.add("manifest.json", None, "sequence",
                     f"a delta must be sequence {last + 1} (the last applied is {last}); "
                     f"{m.sequence} is {gap}")
        raise _Rejected


def apply_batch(conn: sqlite3.Connection, arrival: BatchArrival, load: BatchLoad,
                problems: Problems) -> dict[str, int]:
    """The fact of an applied batch (run by ``write_bulk``: the loader checks references)."""
    _check_sequence(conn, arrival, problems)
    m = arrival.manifest
    loader = BatchLoader(conn, m, problems)
    with load.rows() as stream:
        loader.run(stream)
    if problems:
        raise _Rejected
    size = load.before_commit()
    record_batch(
        conn, municipality_code=m.municipality_code, sequence=m.sequence, kind=m.kind,
        created_at=m.created_at, received_at=arrival.received_at, source=arrival.source,
        outcome="applied", counts=loader.counts, checksums=m.checksums(),
    )
    insert_backup(conn, BackupRecord(m.municipality_code, m.sequence, m.kind, arrival.backup_path,
                                     size, arrival.received_at))
    # Evacuation plans of people the batch moved, removed or changed: flagged for review in
    # the same transaction, never dropped.
    flagged = ledger_store.flag_plans(conn, m.municipality_code, arrival.received_at)
    return {**loader.counts, "plans_flagged": flagged} if flagged else loader.counts


def restore_batches(conn: sqlite3.Connection, code: str, steps: Generator[RestoreStep, None, None],
                    problems: Problems, audit: AuditEntry) -> HeldTotals:
    try:
        for manifest, stream in steps:
            BatchLoader(conn, manifest, problems).run(stream)
            if problems:
                raise _Rejected
    finally:
        steps.close()
    if problems:  # a backup that did not open or does not hold this municipality's batch
        raise _Rejected
    append_audit(conn, audit)
    return held_totals(conn, code)


def held_totals(conn: sqlite3.Connection, code: str) -> HeldTotals:
    def count(table: str) -> int:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE municipality_code = ?",  # noqa: S608
                           (code,)).fetchone()
        return int(row[0])

    return HeldTotals(count("residents"), count("seals"), count("taxes"))


# -- rejected batches' problem lists ------------------------------------------------------
def _prune_rejected(conn: sqlite3.Connection, kept_since: datetime) -> int:
    """Drop problem lists received before ``kept_since`` (and any whose time is unreadable)."""
    gone = []
    for row in conn.execute("SELECT id, received_at FROM linkage_rejections"):
        try:
            keep = datetime.fromisoformat(row[1]) >= kept_since
        except (TypeError, ValueError):
            keep = False
        if not keep:
            gone.append((row[0],))
    conn.executemany("DELETE FROM linkage_rejections WHERE id = ?", gone)
    return len(gone)


def _insert_rejected(conn: sqlite3.Connection, r: RejectedRecord) -> int:
    cur = conn.execute(
        "INSERT INTO linkage_rejections (received_at, municipality_code, sealed, imported_from) "
        "VALUES (?,?,?,?) ON CONFLICT (imported_from) DO NOTHING",
        (r.received_at, r.municipality_code, r.sealed, r.imported_from),
    )
    return cur.rowcount


def record_rejected(conn: sqlite3.Connection, record: RejectedRecord, kept_since: datetime) -> None:
    _insert_rejected(conn, record)
    _prune_rejected(conn, kept_since)


def _keeps_rejections(conn: sqlite3.Connection) -> bool:
    """Whether the schema has the table (a database opened at an older version on purpose
    has not: start-time upkeep leaves it alone)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'linkage_rejections'"
                        ).fetchone() is not None


def import_rejected(conn: sqlite3.Connection, records: list[RejectedRecord], kept_since: datetime) -> int | None:
    if not _keeps_rejections(conn):
        return None
    added = sum(_insert_rejected(conn, r) for r in records)
    _prune_rejected(conn, kept_since)
    return added


def prune_rejected(conn: sqlite3.Connection, kept_since: datetime) -> int:
    return _prune_rejected(conn, kept_since) if _keeps_rejections(conn) else 0


def list_rejected(conn: sqlite3.Connection, code: str | None) -> list[RejectedRecord]:
    sql = "SELECT received_at, municipality_code, sealed, imported_from FROM linkage_rejections"
    rows = (conn.execute(sql + " ORDER BY id") if code is None
            else conn.execute(sql + " WHERE municipality_code = ? ORDER BY id", (code,)))
    return [RejectedRecord(r[0], r[1], bytes(r[2]), r[3]) for r in rows]


# -- export ---------------------------------------------------------------------------------
_HELD_TABLES = {"residents": ("residents", "resident_code"),
                "seals": ("seals", "resident_code, seal_number"),
                "taxes": ("taxes", "resident_code, fiscal_year")}
_HELD_COLUMNS = {"residents": set(RESIDENT_FIELDS), "seals": set(res_store.SEAL_FIELDS),
                 "taxes": set(res_store.TAX_FIELDS)}


class _Held:
    """``HeldData`` on the reader's connection, inside its read transaction."""

    def __init__(self, conn: sqlite3.Connection, code: str) -> None:
        self._conn = conn
        self._code = code

    def rows(self, kind: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        table, order = _HELD_TABLES[kind]
        unknown = set(columns) - _HELD_COLUMNS[kind]
        if unknown:
            raise ValueError(f"not columns of {table}: {sorted(unknown)}")
        # Table, order and columns are the constants above (checked), never input.
        sql = (f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608
               f"WHERE municipality_code = ? ORDER BY {order}")
        return (tuple(r) for r in self._conn.execute(sql, (self._code,)))

    def impression(self, sha256: str) -> bytes | None:
        return res_store.seal_impression(self._conn, sha256)

    def last_applied_sequence(self) -> int:
        return last_applied_sequence(self._conn, self._code)


def _export_held(conn: sqlite3.Connection, code: str, write: Callable[[HeldData], T]) -> T:
    return write(_Held(conn, code))


class SqliteLinkage:
    """``LinkageStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def municipality_registered(self, code: str) -> bool:
        return await self._db.read(municipality_exists, code)

    async def apply_batch(self, arrival: BatchArrival, load: BatchLoad, problems: Problems) -> BatchOutcome:
        try:
            counts = await self._db.write_bulk(apply_batch, arrival, load, problems)
        except _AlreadyApplied as already:
            return BatchOutcome("already-applied", already.record.counts)
        except _Rejected:
            return BatchOutcome("rejected")
        return BatchOutcome("applied", counts)

    async def restore_batches(self, code: str, steps: Generator[RestoreStep, None, None],
                              problems: Problems, audit: AuditEntry) -> HeldTotals | None:
        try:
            return await self._db.write_bulk(restore_batches, code, steps, problems, audit)
        except _Rejected:
            return None

    async def batches(self, code: str | None, limit: int) -> list[BatchRecord]:
        return await self._db.read(list_batches, code, limit)

    async def backups(self, code: str | None) -> list[BackupRecord]:
        return await self._db.read(list_backups, code)

    async def record_rejected(self, record: RejectedRecord, kept_since: datetime) -> None:
        await self._db.write(record_rejected, record, kept_since)

    async def import_rejected(self, records: list[RejectedRecord], kept_since: datetime) -> int | None:
        return await self._db.write(import_rejected, records, kept_since)

    async def prune_rejected(self, kept_since: datetime) -> int:
        return await self._db.write(prune_rejected, kept_since)

    async def rejected(self, code: str | None) -> list[RejectedRecord]:
        return await self._db.read(list_rejected, code)

    async def export_held(self, code: str, write: Callable[[HeldData], T]) -> T:
        return await self._db.read(_export_held, code, write)
