"""Linkage batches (PostgreSQL): the counterpart of ``store/linkage.py`` — batches'
records, backups, rejected batches' sealed problem lists, and the facts that apply and
restore them.

A write may be run again when PostgreSQL could not serialize it (``pg/db.py``). Applying
a batch can be: each run starts again from the problems the caller handed in and asks the
load for its rows again. A restore cannot (its backups' chunks are a generator, read
once): a second run refuses with ``StoreBusy`` and nothing changed, and the operator
restores again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Generator, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from bcl_console.domain.linkage import Problem, Problems
from bcl_console.domain.resident import RESIDENT_FIELDS
from bcl_console.store import residents as res_store
from bcl_console.store.api import (
    AuditEntry,
    BackupRecord,
    BatchArrival,
    BatchLoad,
    BatchOutcome,
    BatchRecord,
    HeldData,
    HeldTotals,
    RejectedRecord,
    RestoreStep,
)
from bcl_console.store.errors import StoreBusy
from bcl_console.store.pg import ledger as ledger_store
from bcl_console.store.pg.audit import append_audit
from bcl_console.store.pg.batch_load import BatchLoader, each, off_loop
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.files import save_file
from bcl_console.store.pg.tokens import municipality_exists

T = TypeVar("T")


def _affected(status: str) -> int:
    """The row count of a command's status ("INSERT 0 1", "DELETE 3")."""
    return int(status.rsplit(" ", 1)[-1])


async def record_batch(
    conn: Conn,
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
    value = await conn.fetchval(
        "INSERT INTO linkage_batches (municipality_code, sequence, kind, created_at, "
        "received_at, source, outcome, counts, checksums, problems) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id",
        municipality_code, sequence, kind, created_at, received_at, source, outcome,
        json.dumps(counts, sort_keys=True), json.dumps(checksums, sort_keys=True),
        json.dumps(problems or [], ensure_ascii=False))
    return int(value)


def _record(row: Any) -> BatchRecord:
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


async def last_applied_batches(conn: Conn) -> dict[str, BatchRecord]:
    """The newest applied batch of each municipality."""
    rows = await conn.fetch(
        "SELECT b.* FROM linkage_batches b JOIN ("
        "  SELECT municipality_code, max(id) AS id FROM linkage_batches"
        "  WHERE outcome = 'applied' GROUP BY municipality_code"
        ") last ON last.id = b.id ORDER BY b.id")
    return {r["municipality_code"]: _record(r) for r in rows}


async def last_applied_sequence(conn: Conn, municipality_code: str) -> int:
    value = await conn.fetchval(
        "SELECT max(sequence) FROM linkage_batches WHERE municipality_code = $1 AND outcome = 'applied'",
        municipality_code)
    return int(value or 0)


async def applied_batch(conn: Conn, municipality_code: str, sequence: int) -> BatchRecord | None:
    row = await conn.fetchrow(
        "SELECT * FROM linkage_batches WHERE municipality_code = $1 AND sequence = $2 AND outcome = 'applied'",
        municipality_code, sequence)
    return _record(row) if row else None


async def list_batches(conn: Conn, municipality_code: str | None = None, limit: int = 200) -> list[BatchRecord]:
    if municipality_code is None:
        rows = await conn.fetch("SELECT * FROM linkage_batches ORDER BY id DESC LIMIT $1", limit)
    else:
        rows = await conn.fetch(
            "SELECT * FROM linkage_batches WHERE municipality_code = $1 ORDER BY id DESC LIMIT $2",
            municipality_code, limit)
    return [_record(r) for r in rows]


async def insert_backup(conn: Conn, b: BackupRecord) -> None:
    await conn.execute(
        "INSERT INTO linkage_backups (municipality_code, sequence, kind, path, size, created_at) "
        "VALUES ($1,$2,$3,$4,$5,$6)",
        b.municipality_code, b.sequence, b.kind, b.path, b.size, b.created_at)


async def list_backups(conn: Conn, municipality_code: str | None = None) -> list[BackupRecord]:
    if municipality_code is None:
        rows = await conn.fetch(
            'SELECT * FROM linkage_backups ORDER BY municipality_code COLLATE "C", sequence')
    else:
        rows = await conn.fetch(
            "SELECT * FROM linkage_backups WHERE municipality_code = $1 ORDER BY sequence", municipality_code)
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


class _Attempts:
    """What a write that may run more than once starts from: the caller's problems."""

    def __init__(self, problems: Problems) -> None:
        self._items: list[Problem] = list(problems.items)
        self._omitted = problems.omitted
        self.runs = 0

    def begin(self, problems: Problems) -> None:
        problems.items[:] = self._items
        problems.omitted = self._omitted
        self.runs += 1


async def _check_sequence(conn: Conn, arrival: BatchArrival, problems: Problems) -> None:
    m = arrival.manifest
    code = m.municipality_code
    if not await municipality_exists(conn, code):
        problems.add("manifest.json", None, "municipality_code", f"municipality {code} is not registered")
        raise _Rejected
    same = await applied_batch(conn, code, m.sequence)
    if same is not None:
        if same.checksums == m.checksums() and same.kind == m.kind and not problems:
            raise _AlreadyApplied(same)
        problems.add("manifest.json", None, "sequence",
                     f"sequence {m.sequence} was already applied with other content (conflict)")
        raise _Rejected
    last = await last_applied_sequence(conn, code)
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


async def apply_batch(conn: Conn, arrival: BatchArrival, load: BatchLoad, problems: Problems,
                      attempts: _Attempts | None = None) -> dict[str, int]:
    """The fact of an applied batch (the loader checks references); the load's blocking
    work (reading, validating, publishing the backup) runs on worker threads."""
    (attempts or _Attempts(problems)).begin(problems)
    await _check_sequence(conn, arrival, problems)
    m = arrival.manifest
    loader = BatchLoader(conn, m, problems)
    rows = load.rows()
    stream = await off_loop(rows.__enter__)
    try:
        await loader.run(stream)
    except BaseException as exc:
        if not await off_loop(rows.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await off_loop(rows.__exit__, None, None, None)
    if problems:
        raise _Rejected
    # The backup is a row of the batch's own transaction: an applied batch always has it,
    # on every machine of this database (nothing is published in the data directory).
    backup = await off_loop(load.backup_bytes)
    size = len(backup)
    await save_file(conn, arrival.backup_path, backup)
    await record_batch(
        conn, municipality_code=m.municipality_code, sequence=m.sequence, kind=m.kind,
        created_at=m.created_at, received_at=arrival.received_at, source=arrival.source,
        outcome="applied", counts=loader.counts, checksums=m.checksums(),
    )
    await insert_backup(conn, BackupRecord(m.municipality_code, m.sequence, m.kind, arrival.backup_path,
                                           size, arrival.received_at))
    # Evacuation plans of people the batch moved, removed or changed: flagged for review in
    # the same transaction, never dropped.
    flagged = await ledger_store.flag_plans(conn, m.municipality_code, arrival.received_at)
    return {**loader.counts, "plans_flagged": flagged} if flagged else loader.counts


async def restore_batches(conn: Conn, code: str, steps: Generator[RestoreStep, None, None],
                          problems: Problems, audit: AuditEntry, attempts: _Attempts | None = None) -> HeldTotals:
    attempts = attempts or _Attempts(problems)
    if attempts.runs:
        raise StoreBusy("the restore met a concurrent write and was undone; nothing changed, restore again")
    attempts.begin(problems)
    try:
        async for manifest, stream in each(steps):
            await BatchLoader(conn, manifest, problems).run(stream)
            if problems:
                raise _Rejected
    finally:
        await off_loop(steps.close)
    if problems:  # a backup that did not open or does not hold this municipality's batch
        raise _Rejected
    await append_audit(conn, audit)
    return await held_totals(conn, code)


async def held_totals(conn: Conn, code: str) -> HeldTotals:
    async def count(table: str) -> int:
        value = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE municipality_code = $1",  # noqa: S608
                                    code)
        return int(value)

    return HeldTotals(await count("residents"), await count("seals"), await count("taxes"))


# -- rejected batches' problem lists ------------------------------------------------------
async def _prune_rejected(conn: Conn, kept_since: datetime) -> int:
    """Drop problem lists received before ``kept_since``."""
    return _affected(await conn.execute("DELETE FROM linkage_rejections WHERE received_at::timestamptz < $1::timestamptz", kept_since))


async def _insert_rejected(conn: Conn, r: RejectedRecord) -> int:
    return _affected(await conn.execute(
        "INSERT INTO linkage_rejections (received_at, municipality_code, sealed, imported_from) "
        "VALUES ($1,$2,$3,$4) ON CONFLICT (imported_from) DO NOTHING",
        r.received_at, r.municipality_code, r.sealed, r.imported_from))


async def record_rejected(conn: Conn, record: RejectedRecord, kept_since: datetime) -> None:
    await _insert_rejected(conn, record)
    await _prune_rejected(conn, kept_since)


async def _keeps_rejections(conn: Conn) -> bool:
    """Whether the schema has the table (it always has on PostgreSQL, whose first
    migration is the whole schema; asked all the same, as on SQLite)."""
    return await conn.fetchval("SELECT to_regclass('linkage_rejections') IS NOT NULL") is True


async def import_rejected(conn: Conn, records: list[RejectedRecord], kept_since: datetime) -> int | None:
    if not await _keeps_rejections(conn):
        return None
    added = 0
    for r in records:
        added += await _insert_rejected(conn, r)
    await _prune_rejected(conn, kept_since)
    return added


async def prune_rejected(conn: Conn, kept_since: datetime) -> int:
    return await _prune_rejected(conn, kept_since) if await _keeps_rejections(conn) else 0


async def list_rejected(conn: Conn, code: str | None) -> list[RejectedRecord]:
    sql = "SELECT received_at, municipality_code, sealed, imported_from FROM linkage_rejections"
    rows = (await conn.fetch(sql + " ORDER BY id") if code is None
            else await conn.fetch(sql + " WHERE municipality_code = $1 ORDER BY id", code))
    return [RejectedRecord(r[0], r[1], bytes(r[2]), r[3]) for r in rows]


# -- export ---------------------------------------------------------------------------------
_HELD_TABLES = {"residents": ("residents", 'resident_code COLLATE "C"'),
                "seals": ("seals", 'resident_code COLLATE "C", seal_number COLLATE "C"'),
                "taxes": ("taxes", 'resident_code COLLATE "C", fiscal_year')}
_HELD_COLUMNS = {"residents": set(RESIDENT_FIELDS), "seals": set(res_store.SEAL_FIELDS),
                 "taxes": set(res_store.TAX_FIELDS)}
#: Rows fetched from the export's cursor at a time.
_FETCH = 2_000


class _Held:
    """``HeldData`` on the reader's connection, inside its read transaction, for a writer
    running on a worker thread: each query is handed to the event loop and waited for."""

    def __init__(self, conn: Conn, code: str, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._code = code
        self._loop = loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def rows(self, kind: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        table, order = _HELD_TABLES[kind]
        unknown = set(columns) - _HELD_COLUMNS[kind]
        if unknown:
            raise ValueError(f"not columns of {table}: {sorted(unknown)}")
        # Table, order and columns are the constants above (checked), never input.
        sql = (f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608
               f"WHERE municipality_code = $1 ORDER BY {order}")
        return self._stream(sql)

    def _stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        async def opened() -> Any:
            return await self._conn.cursor(sql, self._code)

        cursor = self._run(opened())
        while True:
            batch = self._run(cursor.fetch(_FETCH))
            if not batch:
                return
            yield from (tuple(r) for r in batch)

    def impression(self, sha256: str) -> bytes | None:
        async def png() -> bytes | None:
            value = await self._conn.fetchval("SELECT png FROM seal_impressions WHERE sha256 = $1", sha256)
            return None if value is None else bytes(value)

        return self._run(png())

    def last_applied_sequence(self) -> int:
        return self._run(last_applied_sequence(self._conn, self._code))


async def _export_held(conn: Conn, code: str, write: Callable[[HeldData], T]) -> T:
    return await off_loop(write, _Held(conn, code, asyncio.get_running_loop()))


class PgLinkage:
    """``LinkageStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def municipality_registered(self, code: str) -> bool:
        return await self._db.read(municipality_exists, code)

    async def apply_batch(self, arrival: BatchArrival, load: BatchLoad, problems: Problems) -> BatchOutcome:
        try:
            counts = await self._db.write_bulk(apply_batch, arrival, load, problems, _Attempts(problems))
        except _AlreadyApplied as already:
            return BatchOutcome("already-applied", already.record.counts)
        except _Rejected:
            return BatchOutcome("rejected")
        await off_loop(load.drop_local)
        return BatchOutcome("applied", counts)

    async def restore_batches(self, code: str, steps: Generator[RestoreStep, None, None],
                              problems: Problems, audit: AuditEntry) -> HeldTotals | None:
        try:
            return await self._db.write_bulk(restore_batches, code, steps, problems, audit, _Attempts(problems))
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
