"""The database of one centre: a writer and a reader connection, migrations at open.

Every query is a plain function ``fn(conn, ...)`` in a module of this package. A write
runs whole on the writer connection's thread inside a ``BEGIN IMMEDIATE`` transaction, so
a business fact is committed completely or not at all and the event loop never waits
on SQLite; reads run on a second connection and, thanks to WAL, never wait for writes.

Writes that arrive while the writer is busy are committed together (group commit): the
next transaction runs each of them in a savepoint of its own, so one that fails is rolled
back alone and its caller gets its error, and one COMMIT (one fsync with synchronous=FULL)
makes them all durable. No caller hears of its write before that COMMIT succeeded; when
it fails, every write of the transaction fails. This is what lets the relay's many small
writes (six a flow) share fsyncs and hops to the writer thread.

A *lookup* (``Database.lookup``) is the exception: a read of a few rows by an index (a
token, a request, a session), the relay's every step makes several. It runs on a third
connection, on the event loop's own thread, because handing it to the reader thread and
back costs several times the query (~50 µs of CPU and a GIL hand-over against 3-20 µs).
That connection never waits for a lock (busy timeout 0): when SQLite answers busy, the
same lookup goes to the reader thread, which waits as every read does.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from bcl_console.config import DB_FILENAME as DB_FILENAME
from bcl_console.store.errors import StorageFull as StorageFull
from bcl_console.store.errors import StoreBusy as StoreBusy
from bcl_console.store.errors import StoreError as StoreError
from bcl_console.store.errors import disk_full as disk_full

T = TypeVar("T")


#: The connection type that query functions receive (services name it, never import sqlite3).
Conn = sqlite3.Connection
#: A constraint failed (a duplicate key, a row that refers to nothing).
IntegrityError = sqlite3.IntegrityError


#: SQLite's primary result codes that mean "no space left" (SQLITE_FULL) and the I/O
#: error a full disk gives on some writes (SQLITE_IOERR with ENOSPC underneath).
_SQLITE_FULL = 13


#: SQLITE_IOERR and SQLITE_CANTOPEN: what opening a database gives when its journal files
#: cannot be created or grown, a full disk among the causes.
_SQLITE_IOERR, _SQLITE_CANTOPEN = 10, 14
#: Less free space than this on the database's disk counts as full.
_FULL_BELOW = 256 * 1024


#: SQLITE_BUSY and SQLITE_LOCKED: another connection holds the lock past the busy timeout.
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _engine_error(exc: sqlite3.Error, path: Path | None) -> StoreError:
    """What an SQLite error is to the rest of the program."""
    if _is_full(exc, path):
        return StorageFull()
    code = getattr(exc, "sqlite_errorcode", None)
    if (code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)) or "database is locked" in str(exc):
        return StoreBusy()
    return StoreError(f"the database refused a statement: {exc}")


def _is_full(exc: sqlite3.Error, path: Path | None = None) -> bool:
    """Whether an SQLite error means the disk is full: SQLITE_FULL itself, or an I/O error
    on a disk that has (next to) no space left."""
    code = getattr(exc, "sqlite_errorcode", None)
    if (code is not None and code & 0xFF == _SQLITE_FULL) or "disk is full" in str(exc):
        return True
    if path is None or code is None or code & 0xFF not in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
        return False
    try:
        return shutil.disk_usage(path.parent).free < _FULL_BELOW
    except OSError:
        return False


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every numbered migration, in order."""
    found = []
    for entry in resources.files("bcl_console.store.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations are not numbered 1..n without gaps: {versions}")
    return found


LATEST_VERSION = len(migration_files())


def _configure(conn: sqlite3.Connection, *, writer: bool) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if writer:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a lost commit could lose money or an idempotency record.
        conn.execute("PRAGMA synchronous = FULL")
        # 64 MiB of page cache: a city's batch inserts into large B-trees and indexes.
        conn.execute("PRAGMA cache_size = -65536")
    else:
        conn.execute("PRAGMA query_only = ON")


def migrate(conn: sqlite3.Connection, target: int | None = None) -> tuple[int, int]:
    """Apply the numbered migrations above the file's version; return (before, after)."""
    before = int(conn.execute("PRAGMA user_version").fetchone()[0])
    goal = LATEST_VERSION if target is None else target
    if before > LATEST_VERSION:
        raise StoreError(
            f"the database is at schema version {before}, newer than this program "
            f"({LATEST_VERSION}); upgrade bcl-console"
        )
    # Foreign keys are off while a migration runs (a table may be rebuilt: created,
    # copied, dropped and renamed) and are checked as a whole before it commits.
    enforce = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for version, name, sql in migration_files():
            if before < version <= goal:
                _apply_migration(conn, version, name, sql)
    finally:
        if enforce:
            conn.execute("PRAGMA foreign_keys = ON")
    after = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return before, after


def _broken_references(conn: sqlite3.Connection) -> Counter[tuple[str, str]]:
    """Rows whose foreign key points nowhere, counted by (table, referenced table)."""
    return Counter((str(r[0]), str(r[2])) for r in conn.execute("PRAGMA foreign_key_check"))


def _apply_migration(conn: sqlite3.Connection, version: int, name: str, sql: str) -> None:
    # A migration that rebuilds a table (drops it) is checked for references it broke;
    # references already broken before it (an old database's own) do not block it.
    rebuilds = "DROP TABLE" in sql.upper()
    before = _broken_references(conn) if rebuilds else Counter()
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};")
        if rebuilds:
            worse = _broken_references(conn) - before
            if worse:
                (table, parent), n = worse.most_common(1)[0]
                raise StoreError(f"migration {name} failed: it would leave {n} row(s) of {table} "
                                 f"pointing at missing {parent} rows")
        conn.execute("COMMIT")
    except (sqlite3.Error, StoreError) as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, StoreError):
            raise
        if _is_full(exc, _path_of(conn)):
            raise StorageFull(f"migration {name} could not be written") from exc
        raise StoreError(f"migration {name} failed: {exc}") from exc


def _run_in_transaction(
    conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, *args, **kwargs)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise _engine_error(exc, _path_of(conn)) from exc
    return result


#: Most writes one group-committed transaction holds.
MAX_GROUP = 64

#: A write waiting for its transaction: fn, args, kwargs and its caller's future.
_Pending = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]
#: What became of one write of a group: (True, result) or (False, exception).
_Outcome = tuple[bool, Any]


def _store_error(exc: BaseException, conn: sqlite3.Connection) -> BaseException:
    """An exception of a write as its caller gets it: an engine error as the store's own
    (with the engine's as cause), any other as it is."""
    if isinstance(exc, sqlite3.Error):
        err = _engine_error(exc, _path_of(conn))
        err.__cause__ = exc
        return err
    return exc


def _run_group(conn: sqlite3.Connection,
               items: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]) -> list[_Outcome]:
    """Run writes in as few transactions as possible, each in a savepoint (module doc).
    A transaction ends early when SQLite rolled it back itself (a full disk, an I/O
    error: the writes already in it fail too) or a write deferred foreign-key checks
    to the commit (``wipe``): its violations must not fail the writes after it."""
    outcomes: list[_Outcome] = []
    i = 0
    while i < len(items):
        first = len(outcomes)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return outcomes + [(False, _store_error(exc, conn)) for _ in items[i:]]
        lost: BaseException | None = None
        while i < len(items) and lost is None:
            fn, args, kwargs = items[i]
            i += 1
            conn.execute("SAVEPOINT group_write")
            try:
                result = fn(conn, *args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the write's caller
                outcomes.append((False, _store_error(exc, conn)))
                try:
                    if not conn.in_transaction:
                        raise sqlite3.OperationalError("the transaction was rolled back")
                    conn.execute("ROLLBACK TO group_write")
                    conn.execute("RELEASE group_write")
                except sqlite3.Error:
                    lost = exc
                continue
            conn.execute("RELEASE group_write")
            outcomes.append((True, result))
            if conn.execute("PRAGMA defer_foreign_keys").fetchone()[0]:
                break
        if lost is not None:  # SQLite undid the whole transaction: nothing of it stays
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for j in range(first, len(outcomes) - 1):
                if outcomes[j][0]:
                    outcomes[j] = (False, _store_error(lost, conn) if isinstance(lost, sqlite3.Error)
                                   else StoreError("the write's transaction was rolled back by the engine"))
            continue
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for j in range(first, len(outcomes)):
                outcomes[j] = (False, _store_error(exc, conn))
    return outcomes


def _path_of(conn: sqlite3.Connection) -> Path | None:
    try:
        row = conn.execute("PRAGMA database_list").fetchone()
        return Path(row[2]) if row and row[2] else None
    except sqlite3.Error:
        return None


class Database:
    """One SQLite file with a writer and a reader connection (aiosqlite threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._pending: list[_Pending] = []
        self._committer: asyncio.Task[None] | None = None

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        """Open both connections and migrate; returns the schema version before and after."""
        try:
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        try:
            versions = await self._call(self._writer, self._setup_writer, target_version)
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._call(self._reader, _configure, writer=False)
            self._inline = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            _configure(self._inline, writer=False)
            self._inline.execute("PRAGMA busy_timeout = 0")  # busy: the reader thread waits instead
        except BaseException as exc:
            # Each connection owns a thread: one left open keeps the process alive.
            await self.close()
            if isinstance(exc, sqlite3.Error):
                if _is_full(exc, self.path):
                    raise StorageFull() from exc
                raise StoreError(f"cannot open database {self.path}: {exc}") from exc
            raise
        return versions

    @staticmethod
    def _setup_writer(conn: sqlite3.Connection, target: int | None) -> tuple[int, int]:
        _configure(conn, writer=True)
        return migrate(conn, target)

    async def close(self) -> None:
        while self._committer is not None:  # writes already accepted are committed first
            await asyncio.shield(self._committer)
        if self._inline is not None:
            inline, self._inline = self._inline, None
            inline.close()
        for attr in ("_reader", "_writer"):
            conn = getattr(self, attr)
            if conn is not None:
                setattr(self, attr, None)
                try:
                    if attr == "_writer":
                        await self._call(conn, _checkpoint)
                except sqlite3.Error:
                    pass  # a checkpoint is an optimisation: the WAL is replayed at the next open
                finally:
                    await conn.close()

    @staticmethod
    async def _call(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # aiosqlite runs every call of a connection on that connection's own thread;
        # _execute hands it a whole function, so a transaction is one hop, not one per row.
        def bound() -> T:
            return fn(conn._conn, *args, **kwargs)

        return cast(T, await conn._execute(bound))  # type: ignore[no-untyped-call]

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, *args)`` in a BEGIN IMMEDIATE transaction on the writer, in a
        savepoint of its own, committed with the writes queued beside it (module doc).
        Its result comes once the transaction has committed; a cancelled caller's write
        is still made (as a write already handed to the writer thread always was)."""
        if self._writer is None:
            raise StoreError("the database is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((fn, args, kwargs, future))
        if self._committer is None:
            self._committer = loop.create_task(self._commit_pending())
        return await future

    async def _commit_pending(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                try:
                    if self._writer is None:
                        raise StoreError("the database is not open")
                    outcomes = await self._call(self._writer, _run_group, [(f, a, k) for f, a, k, _ in group])
                except asyncio.CancelledError:
                    for *_, future in group + self._pending:
                        future.cancel()
                    self._pending = []
                    raise
                except Exception as exc:  # noqa: BLE001 - the hop itself failed: every write hears of it
                    outcomes = [(False, exc)] * len(group)
                for (*_, future), (ok, value) in zip(group, outcomes, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._committer = None

    async def write_bulk(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like ``write``, with SQLite's per-row foreign-key checks off for this transaction.

        For bulk loads whose caller checks every reference itself (a linkage batch keeps
        the set of its residents): the per-row checks cost a third of the load time.
        """
        if self._writer is None:
            raise StoreError("the database is not open")
        return await self._call(self._writer, _run_without_fk_checks, fn, args, kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, *args)`` on the read-only connection (one consistent snapshot)."""
        if self._reader is None:
            raise StoreError("the database is not open")
        return await self._call(self._reader, _run_read, fn, args, kwargs)

    async def lookup(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like ``read``, for a read of a few rows by an index: run on the event loop's own
        connection (module doc), or on the reader thread when SQLite answers busy."""
        if self._inline is None:
            return await self.read(fn, *args, **kwargs)
        try:
            return _run_read(self._inline, fn, args, kwargs)
        except StoreBusy:
            return await self.read(fn, *args, **kwargs)


def _run_read(
    conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    try:
        conn.execute("BEGIN")
        try:
            return fn(conn, *args, **kwargs)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _engine_error(exc, _path_of(conn)) from exc


def _run_without_fk_checks(
    conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    conn.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction does this take effect
    try:
        return _run_in_transaction(conn, fn, args, kwargs)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
