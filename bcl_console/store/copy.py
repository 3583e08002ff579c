"""``database copy``: a SQLite centre's whole database into an empty PostgreSQL one.

Table by table in the order of their foreign keys, with COPY (asyncpg's binary
``copy_records_to_table``), in one transaction: the target holds all of it or nothing.
Values are converted to the PostgreSQL column's own type (ISO text to ``timestamptz`` and
``date``, blobs to ``bytea``); a value that does not convert stops the copy with a
sentence naming the table, the row and the column. Identity sequences continue after the
highest copied id. Then each table is read back and compared with what was read from
SQLite: the row count and a SHA-256 over the rows in key order, both sides through the
same normalisation (an instant as UTC ISO text, a day as ISO text, bytes as hex), so a
copy that lost or changed anything is reported, and refused (rolled back).

The issued documents and the linkage backups, files in a SQLite centre's data directory,
become rows of ``files`` in the same transaction (every file an issuance or a backup row
names), compared the same way afterwards; a file a row names that is not in the directory
(lost before the copy) is counted and named in the result, not invented.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bcl_console.store.db import LATEST_VERSION as SQLITE_LATEST
from bcl_console.store.errors import StoreCannotOpen, StoreError
from bcl_console.store.files import checked_name
from bcl_console.store.pg.db import ENGINE_ERRORS, PgDatabase, engine_error, masked

#: Tables a SQLite centre has no counterpart of, kept as the target's migrations made them
#: (the two centres' epochs: a copied centre starts at epoch 1).
POSTGRESQL_ONLY = frozenset({"centre_epochs", "centre_sync"})

#: Rows per COPY call (and per fetch from SQLite).
CHUNK = 20_000


@dataclass(frozen=True)
class TableCopy:
    table: str
    sqlite_rows: int
    postgresql_rows: int
    sha256: str
    matches: bool
    #: Of ``files``: the names a row records whose file was not in the data directory.
    missing: tuple[str, ...] = ()


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _converter(pg_type: str) -> Callable[[Any], Any]:
    if pg_type == "timestamp with time zone":
        return _instant
    if pg_type == "date":
        return _day
    if pg_type == "bytea":
        return bytes
    if pg_type in ("integer", "bigint", "smallint"):
        return int
    return str


def _normal(value: Any) -> str:
    """One value as both sides are compared."""
    if value is None:
        return "\x00"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _feed(h: Any, row: Sequence[Any]) -> None:
    h.update("\x1f".join(_normal(v) for v in row).encode())
    h.update(b"\x1e")


#: The intermediate DB's references that PostgreSQL checks once per statement, by triggers
#: (migration 0006_bulk_references.sql), where a foreign key would check every row.
REFERENCES_BY_TRIGGER: dict[str, set[str]] = {
    "residents": {"municipalities"}, "seals": {"residents", "seal_impressions"}, "taxes": {"residents"}}


async def _tables_in_order(conn: asyncpg.Connection) -> list[str]:
    """The schema's tables, each after every table it refers to (and issuances after
    settlements)."""
    # an UNLOGGED table holds no centre's data (the limits' counts of the last minute)
    tables = [r[0] for r in await conn.fetch(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' "
        "AND relpersistence = 'p' AND relname <> 'bcl_schema' ORDER BY relname")]
    refs: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in await conn.fetch(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
            "WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"):
        if child in refs and parent != child:
            refs[child].add(parent)
    # not a foreign key, but issuances' trigger looks a row's year up in settlements (a row
    # of a closed year is late or counted, not its year's): the closed years come first
    if "issuances" in refs and "settlements" in refs:
        refs["issuances"].add("settlements")
    # references checked per statement by triggers, not by foreign keys (PostgreSQL migration 6)
    for child, parents in REFERENCES_BY_TRIGGER.items():
        if child in refs:
            refs[child] |= parents & set(tables)
    ordered: list[str] = []
    while refs:
        ready = sorted(t for t, parents in refs.items() if not parents - set(ordered))
        if not ready:
            raise StoreError(f"the schema's foreign keys form a cycle among {sorted(refs)}")
        for t in ready:
            ordered.append(t)
            del refs[t]
    return ordered


async def _columns(conn: asyncpg.Connection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = $1 ORDER BY ordinal_position", table)]


async def _key(conn: asyncpg.Connection, table: str, columns: list[str]) -> list[str]:
    """The primary key's columns (else every column): the order both sides are read in."""
    rows = await conn.fetch(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey, a.attnum)", table)
    return [r[0] for r in rows] or columns


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


async def copy_sqlite_to_postgres(
    sqlite_path: Path, url: str, progress: Callable[[str, int, int], None] | None = None,
) -> list[TableCopy]:
    """Copy the SQLite database at ``sqlite_path`` into the empty database at ``url``
    (module doc); the per-table result. StoreError, with nothing left in the target,
    when the target is not empty, a value does not convert, or a table does not match."""
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        version = int(source.execute("PRAGMA user_version").fetchone()[0])
        if version != SQLITE_LATEST:
            raise StoreError(f"{sqlite_path} is at schema version {version}, not {SQLITE_LATEST}: "
                             "open it once with this version of bcl-console first")
        target = PgDatabase(url, pool_size=1)
        await target.open()  # creates or checks the schema
        await target.close()
        try:
            conn = await asyncpg.connect(url, server_settings={"TimeZone": "UTC"})
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot connect to {masked(url)}: {exc}") from exc
        try:
            return await _copy(source, conn, progress, sqlite_path.parent)
        except ENGINE_ERRORS as exc:
            err = engine_error(exc, url)
            raise (err if isinstance(err, StoreError) else StoreError(str(err))) from exc
        finally:
            await conn.close()
    finally:
        source.close()


async def _copy(source: sqlite3.Connection, conn: asyncpg.Connection,
                progress: Callable[[str, int, int], None] | None, data_dir: Path) -> list[TableCopy]:
    results: list[TableCopy] = []
    async with conn.transaction(isolation="read_committed"):
        tables = [t for t in await _tables_in_order(conn) if t not in POSTGRESQL_ONLY]
        for table in tables:
            if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):  # noqa: S608 - catalogue name
                raise StoreCannotOpen(f"the target database is not empty (table {table} has rows); "
                                 "database copy needs an empty database")
        sqlite_tables = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in tables:
            if table == "files":
                results.append(await _copy_files(source, conn, data_dir, progress))
                continue
            if table not in sqlite_tables:
                raise StoreError(f"table {table} is missing in the SQLite database")
            columns = await _columns(conn, table)
            names = [c for c, _ in columns]
            key = await _key(conn, table, names)
            convert = [_converter(t) for _, t in columns]
            total = int(source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
            cursor = source.execute(f'SELECT {_quoted(names)} FROM "{table}" ORDER BY {_quoted(key)}')  # noqa: S608
            src_hash = hashlib.sha256()
            done = 0
            while True:
                chunk = cursor.fetchmany(CHUNK)
                if not chunk:
                    break
                records = []
                for n, row in enumerate(chunk, start=done + 1):
                    try:
                        record = tuple(None if v is None else f(v) for f, v in zip(convert, row, strict=True))
                    except (ValueError, TypeError) as exc:
                        bad = next(c for c, f, v in zip(names, convert, row, strict=True)
                                   if v is not None and not _converts(f, v))
                        raise StoreError(f"table {table}, row {n} (in key order), column {bad}: "
                                         f"cannot be copied ({exc})") from exc
                    _feed(src_hash, record)
                    records.append(record)
                await conn.copy_records_to_table(table, records=records, columns=names)
                done += len(chunk)
                if progress is not None:
                    progress(table, done, total)
            if "id" in names:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - catalogue name
                    f'coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false)')
            types = dict(columns)
            order = ", ".join(f'"{k}" COLLATE "C"' if types[k] == "text" else f'"{k}"' for k in key)
            pg_hash = hashlib.sha256()
            pg_rows = 0
            async for record in conn.cursor(f'SELECT {_quoted(names)} FROM "{table}" ORDER BY {order}',  # noqa: S608
                                            prefetch=CHUNK):
                _feed(pg_hash, tuple(record))
                pg_rows += 1
            matches = pg_rows == total and pg_hash.digest() == src_hash.digest()
            results.append(TableCopy(table, total, pg_rows, pg_hash.hexdigest(), matches))
            if not matches:
                raise StoreError(f"table {table} does not match after the copy: {total} row(s) in SQLite, "
                                 f"{pg_rows} in PostgreSQL, or different contents; nothing was copied")
    return results


#: Every file a SQLite centre's rows name, relative to its data directory.
FILE_NAMES = ("SELECT document_path FROM issuances WHERE document_path IS NOT NULL "
              "UNION SELECT path FROM linkage_backups ORDER BY 1")


async def _copy_files(source: sqlite3.Connection, conn: asyncpg.Connection, data_dir: Path,
                      progress: Callable[[str, int, int], None] | None) -> TableCopy:
    names = [str(r[0]) for r in source.execute(FILE_NAMES)]
    src_hash = hashlib.sha256()
    missing: list[str] = []
    batch: list[tuple[str, bytes, int, str]] = []
    copied = 0

    async def flush() -> None:
        if batch:
            await conn.copy_records_to_table("files", records=batch, columns=["name", "body", "size", "sha256"])
            batch.clear()

    for n, name in enumerate(names, start=1):
        body = await asyncio.to_thread(_read_named, data_dir, name)
        if body is None:
            missing.append(name)
            continue
        digest = hashlib.sha256(body).hexdigest()
        _feed(src_hash, (name, digest))
        batch.append((name, body, len(body), digest))
        copied += 1
        if sum(len(b[1]) for b in batch) > 64 << 20 or len(batch) >= 1000:
            await flush()
        if progress is not None:
            progress("files", n, len(names))
    await flush()
    pg_hash = hashlib.sha256()
    pg_rows = 0
    async for record in conn.cursor('SELECT name, encode(sha256(body), \'hex\') FROM files ORDER BY name COLLATE "C"',
                                    prefetch=CHUNK):
        _feed(pg_hash, tuple(record))
        pg_rows += 1
    matches = pg_rows == copied and pg_hash.digest() == src_hash.digest()
    if not matches:
        raise StoreError(f"the documents and backups do not match after the copy: {copied} file(s) read, "
                         f"{pg_rows} in PostgreSQL, or different contents; nothing was copied")
    return TableCopy("files", copied, pg_rows, pg_hash.hexdigest(), matches, tuple(missing))


def _read_named(data_dir: Path, name: str) -> bytes | None:
    """The file a row names, if it is in the data directory (None when it is not there);
    a name that is not one inside the directory is refused."""
    try:
        path = data_dir / checked_name(name)
    except ValueError as exc:
        raise StoreError(f"a document or backup row names {name!r}, which is not a file of the data directory; "
                         "nothing was copied") from exc
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _converts(f: Callable[[Any], Any], v: Any) -> bool:
    try:
        f(v)
    except (ValueError, TypeError):
        return False
    return True
