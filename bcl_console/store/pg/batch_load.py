"""Writing a linkage batch's validated chunks inside the writer's transaction
(PostgreSQL): the counterpart of ``store/batch_load.py``.

A full batch's chunk goes in with one COPY (``copy_records_to_table``) into its table,
inside a savepoint. When the database refuses it (a seal or tax record twice, a
reference to nothing), the savepoint is rolled back and the chunk is COPYed into a
staging table of the transaction instead, where one query finds every offending row with
its line; the rest is then merged into the table, so that later chunks are judged as the
SQLite store judges them (first occurrence kept, later ones reported). A delta's changes
are made row by row, as on SQLite. Either way a batch with any problem is rolled back
whole by the caller.

The chunks come from a blocking iterator (files read, rows validated, maybe by a child
process): it is driven on worker threads (``off_loop``), never on the event loop — a full
batch's chunks one per hop, a delta's (a row each) many per hop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar, cast

from bcl_console.domain.linkage import Manifest, Problems
from bcl_console.domain.resident import RESIDENT_FIELDS
from bcl_console.store.api import Chunk, LinkageRow
from bcl_console.store.pg import delta
from bcl_console.store.pg.db import Conn, IntegrityError
from bcl_console.store.residents import SEAL_FIELDS, TAX_FIELDS

T = TypeVar("T")

_CHANGE_NAMES = {"A": "added", "U": "updated", "D": "deleted"}
_FIELDS: dict[str, tuple[str, ...]] = {"residents": RESIDENT_FIELDS, "seals": SEAL_FIELDS, "taxes": TAX_FIELDS}
#: Each table's key after the municipality code.
_KEYS: dict[str, tuple[str, ...]] = {"residents": ("resident_code",), "seals": ("resident_code", "seal_number"),
                                     "taxes": ("resident_code", "fiscal_year")}
_UPDATE = {"residents": delta.update_resident, "seals": delta.update_seal, "taxes": delta.update_tax}


def _insert_sql(table: str) -> str:
    columns = ("municipality_code", *_FIELDS[table])
    marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    # Table and columns are the constants above, never input.
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608


_INSERT = {table: _insert_sql(table) for table in _FIELDS}


def _records(kind: str, code: str, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """(municipality, *values) with absent trailing optional values as NULL."""
    n = len(_FIELDS[kind])
    return [(code, *row, *([None] * (n - len(row)))) for row in rows]


async def insert_rows(conn: Conn, kind: str, code: str, rows: Iterable[Sequence[Any]]) -> None:
    """Insert a few rows of residents, seals or taxes (values in their fields' order)."""
    await conn.executemany(_INSERT[kind], _records(kind, code, rows))


async def copy_rows(conn: Conn, kind: str, code: str, rows: Iterable[Sequence[Any]],
                    table: str | None = None) -> None:
    """COPY many rows of residents, seals or taxes into their table (or ``table``, a
    staging table of the same columns)."""
    await conn.copy_records_to_table(table or kind, records=_records(kind, code, rows),
                                     columns=["municipality_code", *_FIELDS[kind]])


async def insert_seal_impressions(conn: Conn, impressions: Sequence[tuple[str, bytes]]) -> None:
    await conn.executemany("INSERT INTO seal_impressions (sha256, png) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           impressions)


async def delete_municipality_residents(conn: Conn, code: str) -> None:
    """Remove everything the intermediate DB holds for one municipality (a full replace)."""
    for table in ("taxes", "seals", "residents"):
        # Table names come from the fixed tuple above, never from input.
        await conn.execute(f"DELETE FROM {table} WHERE municipality_code = $1", code)  # noqa: S608


# -- blocking work off the event loop ------------------------------------------------------
async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a worker thread. A caller cancelled meanwhile still waits for the
    thread to finish, so that one iterator is never driven by two threads at once."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller hears
        raise


_END = object()
#: A delta's chunks (a row each) fetched per worker-thread hop.
DELTA_PULL = 500


async def each(items: Iterator[T]) -> AsyncIterator[T]:
    """The items of a blocking iterator, each fetched on a worker thread."""
    while True:
        item = await off_loop(next, items, _END)
        if item is _END:
            return
        yield cast(T, item)


async def each_of_delta(chunks: Iterator[Chunk]) -> AsyncIterator[Chunk]:
    """A delta's chunks, a row each: fetched many per worker-thread hop."""
    while True:
        pulled = await off_loop(lambda: list(islice(chunks, DELTA_PULL)))
        if not pulled:
            return
        for chunk in pulled:
            yield chunk


# -- the loader ------------------------------------------------------------------------------
class BatchLoader:
    """Writes one batch's chunks on the writer's connection; ``counts`` per file kind."""

    def __init__(self, conn: Conn, manifest: Manifest, problems: Problems) -> None:
        self.conn = conn
        self.m = manifest
        self.code = manifest.municipality_code
        self.problems = problems
        self.counts: dict[str, int] = {}
        self._changes: dict[str, int] = {"A": 0, "U": 0, "D": 0}

    async def run(self, stream: Iterator[Chunk]) -> None:
        if self.m.kind == "full":
            await delete_municipality_residents(self.conn, self.code)
        # A full batch's chunks one per hop: the next is read once this one is written.
        async for chunk in (each(stream) if self.m.kind == "full" else each_of_delta(stream)):
            self.problems.extend(chunk.problems, chunk.omitted)
            if chunk.impressions:
                await insert_seal_impressions(self.conn, chunk.impressions)
            if self.m.kind == "full":
                if chunk.rows:
                    await self._insert(chunk.file, chunk.kind, chunk.rows)
            else:
                for line, change, values in chunk.rows:
                    if change is not None and await self._change(chunk.file, line, chunk.kind, change, values):
                        self._changes[change] += 1
            if chunk.records is not None:
                self._finish(chunk.file, chunk.kind, chunk.records)

    def _finish(self, name: str, kind: str, records: int) -> None:
        declared = self.m.files[name].records
        if records >= 0 and records != declared:
            self.problems.add(name, None, None,
                              f"the file has {records:,} records, the manifest says {declared:,}")
        self.counts[kind] = records
        if self.m.kind == "delta":
            for c, n in self._changes.items():
                self.counts[f"{kind}.{_CHANGE_NAMES[c]}"] = n
            self._changes = {"A": 0, "U": 0, "D": 0}

    async def _insert(self, name: str, kind: str, chunk: list[LinkageRow]) -> None:
        # Rows are written even when the batch is already lost (the transaction rolls
        # back), so that duplicates and dangling references are reported too.
        try:
            async with self.conn.transaction():
                await copy_rows(self.conn, kind, self.code, [v for _, _, v in chunk])
            return
        except IntegrityError:
            pass
        await self._staged(name, kind, chunk)

    async def _staged(self, name: str, kind: str, chunk: list[LinkageRow]) -> None:
        """The chunk through a staging table: every offending row reported with its line,
        the others merged into the table."""
        conn, stage = self.conn, f"bcl_stage_{kind}"
        # The staging table lives as long as the transaction; table names are constants.
        await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} "  # noqa: S608
                           f"(line integer NOT NULL, LIKE {kind}) ON COMMIT DROP")
        await conn.execute(f"TRUNCATE {stage}")
        lines = {line: values for line, _, values in chunk}
        await conn.copy_records_to_table(
            stage, records=[(line, *rec) for (line, _, _), rec in
                            zip(chunk, _records(kind, self.code, [v for _, _, v in chunk]), strict=True)],
            columns=["line", "municipality_code", *_FIELDS[kind]])
        keys = _KEYS[kind]
        same_key = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        partition = ", ".join(keys)
        resident_missing = ("false" if kind == "residents" else
                            "NOT EXISTS (SELECT 1 FROM residents r WHERE r.municipality_code = s.municipality_code "
                            "AND r.resident_code = s.resident_code)")
        impression_missing = ("NOT EXISTS (SELECT 1 FROM seal_impressions i WHERE i.sha256 = s.impression_sha256)"
                              if kind == "seals" else "false")
        # Constants of this module only: every value is in the staging table or a parameter.
        judged = await conn.fetch(
            f"SELECT s.line, "  # noqa: S608
            f"(row_number() OVER (PARTITION BY {partition} ORDER BY s.line) > 1 OR EXISTS ("
            f"  SELECT 1 FROM {kind} t WHERE t.municipality_code = s.municipality_code AND {same_key})), "
            f"{resident_missing}, {impression_missing} "
            f"FROM {stage} s ORDER BY s.line")
        good = []
        for line, twice, no_resident, no_impression in judged:
            values = lines[line]
            if twice:
                self.problems.add(name, line, "resident_code", _duplicate_reason(kind, values))
            elif no_resident:
                self.problems.add(name, line, "resident_code", f"resident {values[0]} is not in residents.csv")
            elif no_impression:
                self.problems.add(name, line, "impression", f"the impression of seal {values[1]} is not held")
            else:
                good.append(line)
        columns = ", ".join(("municipality_code", *_FIELDS[kind]))
        try:
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {kind} ({columns}) SELECT {columns} FROM {stage} "  # noqa: S608
                                   "WHERE line = ANY($1::integer[])", good)
        except IntegrityError as exc:  # a value the reader let through and the schema refuses
            self.problems.add(name, None, None, f"the database refused rows of the file: {exc}")

    async def _change(self, name: str, line: int, kind: str, change: str, values: tuple[Any, ...]) -> bool:
        conn, code = self.conn, self.code
        if kind == "residents":
            exists = await delta.resident_exists(conn, code, values[0])
            what = f"resident {values[0]}"
        elif kind == "seals":
            exists = await delta.seal_exists(conn, code, values[0], values[1])
            what = f"seal {values[1]} of resident {values[0]}"
        else:
            exists = await delta.tax_exists(conn, code, values[0], values[1])
            what = f"the {values[1]} tax record of resident {values[0]}"
        if change == "A" and exists:
            self.problems.add(name, line, "change", f"A of {what}, which is already held")
            return False
        if change in ("U", "D") and not exists:
            self.problems.add(name, line, "change", f"{change} of {what}, which is not held")
            return False
        if kind != "residents" and change != "D" and not await delta.resident_exists(conn, code, values[0]):
            self.problems.add(name, line, "resident_code", f"resident {values[0]} is not held")
            return False
        if change == "D":
            if kind == "residents":
                await delta.delete_resident(conn, code, values[0])
            elif kind == "seals":
                await delta.delete_seal(conn, code, values[0], values[1])
            else:
                await delta.delete_tax(conn, code, values[0], values[1])
        elif change == "A":
            await insert_rows(conn, kind, code, [values])
        else:
            await _UPDATE[kind](conn, code, values)
        return True


def _duplicate_reason(kind: str, values: tuple[Any, ...]) -> str:
    if kind == "residents":
        return f"resident code {values[0]} appears twice"
    if kind == "seals":
        return f"seal {values[1]} of resident {values[0]} appears twice"
    return f"the {values[1]} tax record of resident {values[0]} appears twice"
