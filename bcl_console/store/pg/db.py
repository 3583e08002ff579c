"""The PostgreSQL database of one centre: an asyncpg pool, migrations at open.

Every query is an async function ``fn(conn, ...)`` in a module of this package, the
counterpart of the SQLite store's ``fn(conn, ...)`` of the same name. A write runs whole
in one SERIALIZABLE transaction: PostgreSQL then guarantees what SQLite's single writer
gives by construction (every fact as if the facts ran one after another), across every
connection of every worker. When it cannot (a serialization failure, a deadlock), nothing
of the transaction stays and it is run again, a few times, before the caller hears
``StoreBusy``. A query function must therefore do nothing but database work: it may run
more than once.

Reads run in a REPEATABLE READ, READ ONLY transaction (one snapshot, as a read on
SQLite's WAL sees); a ``lookup`` (a function of one statement) runs with no transaction
around it, since one statement is its own snapshot: two round trips fewer (BEGIN,
COMMIT) on every point read of a kiosk's flow. Inside a transaction an error aborts it:
a function that expects a statement to fail (a duplicate key it tolerates) wraps it in
``conn.transaction()``, which asyncpg makes a savepoint.

Instants are ``timestamptz`` and days ``date`` in the schema, but the rest of the
program speaks ISO text (``clock.iso_now``): the connection's codecs turn an instant into
UTC ISO 8601 with microseconds, exactly as ``iso_now`` writes it, and a day into
``YYYY-MM-DD``, both ways.

Engine exceptions never leave this module's callers' hands as they are: they become
``StoreError`` and its subclasses (``store.errors``) with the engine's as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from importlib import resources
from typing import Concatenate, ParamSpec, TypeAlias, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bcl_console.domain.errors import InvalidInput
from bcl_console.store.errors import (
    StorageFull,
    StoreBusy,
    StoreCannotOpen,
    StoreError,
    StoreStandby,
    StoreUnavailable,
)

T = TypeVar("T")
P = ParamSpec("P")

#: The connection type that query functions receive.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
#: A constraint failed (a duplicate key, a row that refers to nothing).
IntegrityError = asyncpg.IntegrityConstraintViolationError
UniqueViolation = asyncpg.UniqueViolationError

#: How often a write is tried when PostgreSQL could not serialize it.
WRITE_ATTEMPTS = 12
#: Connections per process (each worker has its own pool): ``$BCL_PG_POOL`` overrides.
DEFAULT_POOL = 8
#: The advisory lock that one migrating process holds (``hashtext('bcl-console migrate')``).
_MIGRATE_LOCK = 0x6263_6C6D


log = logging.getLogger(__name__)


class _PoolWarnings(logging.Filter):
    """asyncpg's pool logs each failed attempt to reconnect its floor of connections (the
    server restarting: refused, reset) as a warning with the whole traceback, on a logger
    no handler of ours hears, so it reached serve's terminal as a traceback. Such a record
    is said again here in one line, in the centre's log; the original is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        cause = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        log.log(record.levelno, "PostgreSQL connection pool: %s%s", record.getMessage(), cause)
        return False


logging.getLogger("asyncpg.pool").addFilter(_PoolWarnings())


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgres")  # type: ignore[union-attr]


def masked(url: str) -> str:
    """A database URL as it may be printed: any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def check_url(url: str) -> None:
    """Refuse a URL that is not a PostgreSQL one, in one sentence."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise StoreCannotOpen(f"the database URL {masked(url)} is not valid: {exc}") from exc
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreCannotOpen(f"the database URL {masked(url)} is not postgresql://USER@HOST:PORT/DBNAME")
    if not parts.path.strip("/"):
        raise StoreCannotOpen(f"the database URL {masked(url)} names no database (…/DBNAME)")


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every numbered PostgreSQL migration, in order."""
    found = []
    for entry in resources.files("bcl_console.store.pg.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"PostgreSQL migrations are not numbered 1..n without gaps: {versions}")
    return found


LATEST_VERSION = len(migration_files())


def _instant_in(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("an instant without a time zone cannot be stored")
        return value.isoformat()
    return str(value)


def _instant_out(text: str) -> str:
    if text in ("infinity", "-infinity"):
        return text
    return datetime.fromisoformat(text).astimezone(UTC).isoformat(timespec="microseconds")


def _day_in(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool. asyncpg has already rolled
    back any transaction left open; its default reset query (``pg_advisory_unlock_all()``,
    ``CLOSE ALL``, ``UNLISTEN *``, ``RESET ALL``) would be one more round trip per use, for
    session state this program never leaves on a pooled connection: no session-level
    advisory lock (only ``pg_advisory_xact_lock``), no cursor outside a transaction, no
    LISTEN (the events listener has its own connection), no session ``SET``."""


async def _setup_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("timestamptz", schema="pg_catalog", encoder=_instant_in,
                              decoder=_instant_out, format="text")
    await conn.set_type_codec("date", schema="pg_catalog", encoder=_day_in, decoder=str, format="text")


#: SQLSTATEs of a transaction PostgreSQL undid so that it may be run again.
_RETRY = ("40001", "40P01")
#: SQLSTATE classes that mean the server is going or gone (admin shutdown, crash, cannot
#: connect now) or refuses this connection's work for a while.
_UNAVAILABLE_CLASSES = ("08", "57")


def engine_error(exc: BaseException, url: str = "") -> BaseException:
    """What an asyncpg (or socket) error is to the rest of the program."""
    if isinstance(exc, StoreError):
        return exc
    where = f" ({masked(url)})" if url else ""
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        if state == "53100":
            return StorageFull("the PostgreSQL server's disk is full")
        if state == "25006":  # read_only_sql_transaction: a hot standby refused a write
            return StoreStandby()
        if state in _RETRY:
            return StoreBusy("PostgreSQL could not serialize the transaction")
        if state[:2] in _UNAVAILABLE_CLASSES:
            return StoreUnavailable(f"{exc}{where}")
        if state == "28P01" or state == "28000":
            return StoreError(f"PostgreSQL refused the credentials{where}: {exc}")
        if state == "3D000":
            return StoreError(f"the PostgreSQL database does not exist{where}: {exc}")
        if state == "22021":  # character_not_in_repertoire: a NUL, which no text column keeps
            return InvalidInput("a text holds a NUL character, which the database cannot keep")
        if state == "22P05":  # untranslatable_character: one the database's encoding lacks
            return InvalidInput("a text holds a character the database's encoding cannot keep")
        return StoreError(f"the database refused a statement: {exc}")
    if isinstance(exc, (OSError, asyncpg.InterfaceError, asyncio.TimeoutError, asyncpg.InternalClientError)):
        # InternalClientError: a connection the server closed under a statement (a fast
        # shutdown) that asyncpg found in the middle of another operation
        return StoreUnavailable(f"{exc or type(exc).__name__}{where}")
    return exc


#: What asyncpg and the socket raise; ``engine_error`` says what each is to the program.
ENGINE_ERRORS = (TimeoutError, asyncpg.PostgresError, OSError, asyncpg.InterfaceError, asyncpg.InternalClientError)


class PgDatabase:
    """One PostgreSQL database, reached through a pool of asyncpg connections."""

    def __init__(self, url: str, *, pool_size: int | None = None) -> None:
        check_url(url)
        self.url = url
        self.pool_size = pool_size or int(os.environ.get("BCL_PG_POOL", DEFAULT_POOL))
        self._pool: asyncpg.Pool | None = None
        #: A hot standby (in recovery): reads only; set at ``open``.
        self.standby = False
        #: Why this centre refuses writes although its server is a primary: another centre
        #: was promoted over it (contract §11); None while it may write.
        self.fenced: str | None = None

    def fence(self, reason: str) -> None:
        self.fenced = reason
        log.error("%s", reason)

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        """Connect, then migrate; the schema versions before and after. Refuses (one
        sentence, nothing created) an unreachable server, wrong credentials, a missing
        database and one whose schema is newer than this program."""
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self.pool_size, init=_setup_connection, reset=_keep_session, timeout=10,
                command_timeout=300,
                server_settings={"TimeZone": "UTC", "DateStyle": "ISO", "application_name": "bcl-console",
                                 # what a statement with no transaction around it runs in
                                 # (``lookup``, ``write_committed``), whatever the server's default
                                 "default_transaction_isolation": "read committed"})
        except BaseException as exc:
            err = engine_error(exc)
            if isinstance(err, StoreUnavailable):
                raise StoreCannotOpen(f"cannot reach the PostgreSQL server of {masked(self.url)}: {exc}") from exc
            if isinstance(err, StoreError):
                raise StoreCannotOpen(f"cannot open {masked(self.url)}: {err}") from exc
            raise
        try:
            async with self._pool.acquire() as conn:
                self.standby = bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
            if self.standby:  # a hot standby: its schema is the primary's, migrated there
                version = await self._standby_version()
                return version, version
            return await self._migrate(target_version)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, ENGINE_ERRORS):
                raise engine_error(exc, self.url) from exc
            raise

    async def _still_standby(self, pool: asyncpg.Pool) -> None:
        """StoreStandby while the server is in recovery; once it has been promoted (``centre
        promote``, here or by another process) writes go ahead, with no restart."""
        try:
            async with pool.acquire() as conn:
                in_recovery = bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
        except ENGINE_ERRORS as exc:
            raise engine_error(exc, self.url) from exc
        if in_recovery:
            raise StoreStandby()
        self.standby = False
        log.warning("the database of %s is no longer a standby: this centre is active", masked(self.url))

    async def _still_fenced(self, pool: asyncpg.Pool) -> None:
        """StoreStandby with the reason it was fenced; once this centre's server has rejoined
        as the other centre's standby (``centre rejoin``), it is a standby like any other."""
        try:
            async with pool.acquire() as conn:
                in_recovery = bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
        except ENGINE_ERRORS as exc:
            raise engine_error(exc, self.url) from exc
        if not in_recovery and self.fenced is not None:
            raise StoreStandby(self.fenced)
        self.fenced, self.standby = None, True
        log.warning("the database of %s has rejoined as the other centre's standby", masked(self.url))

    async def _standby_version(self) -> int:
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            exists = await conn.fetchval("SELECT to_regclass('bcl_schema') IS NOT NULL")
            version = int(await conn.fetchval("SELECT version FROM bcl_schema WHERE id = 1") or 0) if exists else 0
        if version > LATEST_VERSION:
            raise StoreCannotOpen(f"the standby's database is at schema version {version}, newer than this "
                                  f"program ({LATEST_VERSION}); upgrade bcl-console")
        if version < LATEST_VERSION:
            raise StoreCannotOpen(f"the standby's database is at schema version {version}, older than this program "
                                  f"({LATEST_VERSION}): the active centre migrates it; start the active centre "
                                  "with this version first")
        return version

    async def _migrate(self, target: int | None) -> tuple[int, int]:
        goal = LATEST_VERSION if target is None else target
        assert self._pool is not None
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATE_LOCK)
                await conn.execute("CREATE TABLE IF NOT EXISTS bcl_schema ("
                                   "id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)")
                before = await conn.fetchval("SELECT version FROM bcl_schema WHERE id = 1")
                if before is None:
                    tables = await conn.fetchval(
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
                        "AND table_name <> 'bcl_schema'")
                    if tables:
                        raise StoreCannotOpen(f"the database {masked(self.url)} holds {tables} table(s) that are "
                                         "not a bcl-console centre's; use an empty database")
                    before = 0
                    await conn.execute("INSERT INTO bcl_schema (id, version) VALUES (1, 0)")
                if before > LATEST_VERSION:
                    raise StoreCannotOpen(
                        f"the database is at schema version {before}, newer than this program "
                        f"({LATEST_VERSION}); upgrade bcl-console")
                for version, name, sql in migration_files():
                    if before < version <= goal:
                        try:
                            async with conn.transaction():
                                await conn.execute(sql)
                                await conn.execute("UPDATE bcl_schema SET version = $1 WHERE id = 1", version)
                        except asyncpg.PostgresError as exc:
                            raise StoreError(f"migration {name} failed: {exc}") from exc
                after = await conn.fetchval("SELECT version FROM bcl_schema WHERE id = 1")
        except BaseException as exc:
            raise engine_error(exc, self.url) from exc
        return int(before), int(after)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except ENGINE_ERRORS:
                pool.terminate()

    def _require(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the database is not open")
        return self._pool

    async def write(self, fn: Callable[Concatenate[Conn, P], Awaitable[T]], *args: P.args,
                    **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in one SERIALIZABLE transaction; run again when
        PostgreSQL could not serialize it (module doc); its result once committed."""
        return await self._write("serializable", fn, *args, **kwargs)

    async def write_committed(self, fn: Callable[Concatenate[Conn, P], Awaitable[T]], *args: P.args,
                              **kwargs: P.kwargs) -> T:
        """Like ``write``, for a fact of ONE statement that is exact by itself under any
        concurrency (one DELETE … RETURNING that takes a single-use row, one INSERT … ON
        CONFLICT DO UPDATE … RETURNING on a counter row that its lock serializes): run
        with no transaction around it (READ COMMITTED, committed when it returns; two
        round trips fewer), where SERIALIZABLE would only make a burst of callers undo and
        run again."""
        return await self._write(None, fn, *args, **kwargs)

    async def _write(self, isolation: str | None, fn: Callable[Concatenate[Conn, P], Awaitable[T]],
                     *args: P.args, **kwargs: P.kwargs) -> T:
        pool = self._require()
        if self.fenced is not None:
            await self._still_fenced(pool)
        if self.standby:
            await self._still_standby(pool)
        for attempt in range(WRITE_ATTEMPTS):
            try:
                async with pool.acquire() as conn:
                    if isolation is None:  # one statement: its own transaction
                        return await fn(conn, *args, **kwargs)
                    async with conn.transaction(isolation=isolation):
                        return await fn(conn, *args, **kwargs)
            except asyncpg.PostgresError as exc:
                if exc.sqlstate not in _RETRY or attempt == WRITE_ATTEMPTS - 1:
                    raise engine_error(exc, self.url) from exc
            except (TimeoutError, OSError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
                raise engine_error(exc, self.url) from exc
            await asyncio.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))
        raise AssertionError("unreachable")

    write_bulk = write

    async def read(self, fn: Callable[Concatenate[Conn, P], Awaitable[T]], *args: P.args,
                   **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in one read-only snapshot."""
        pool = self._require()
        try:
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                return await fn(conn, *args, **kwargs)
        except ENGINE_ERRORS as exc:
            raise engine_error(exc, self.url) from exc

    async def lookup(self, fn: Callable[Concatenate[Conn, P], Awaitable[T]], *args: P.args,
                     **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)``, a read of ONE statement, with no transaction around it
        (that statement is its own snapshot). A function of several statements that must
        agree with one another is a ``read``."""
        pool = self._require()
        try:
            async with pool.acquire() as conn:
                return await fn(conn, *args, **kwargs)
        except ENGINE_ERRORS as exc:
            raise engine_error(exc, self.url) from exc

    #: Server administration (``ALTER SYSTEM`` refuses to run inside a transaction) runs
    #: the same way: on a connection of its own with no transaction around it.
    outside_transaction = lookup


_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def identifier(name: str) -> str:
    """A table or column name from our own code (never input) checked before it is
    put into SQL text."""
    if not _IDENT.match(name):
        raise StoreError(f"not an identifier: {name!r}")
    return name
