"""The test run's own PostgreSQL server, and fresh databases on it.

One cluster per test session (``initdb`` + ``pg_ctl`` from the installed binaries, on a
free loopback port, fsync off: a test server need not survive a power cut), one database
per test, cloned from a migrated template so a test pays for a file copy, not for the
migrations. Where PostgreSQL is not installed, the PostgreSQL half of the suite is
skipped with one line saying why; under CI (``BCL_REQUIRE_POSTGRES=1``, set by
``.ci/run``) it fails instead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import subprocess
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bcl_console.services.platform.postgres_local import LocalCluster, PostgresMissing, find_bindir

T = TypeVar("T")

REQUIRE_ENV = "BCL_REQUIRE_POSTGRES"

_counter = itertools.count(1)
#: The PostgreSQL database behind a test's data directory (its SQLite path as the key),
#: so that ``tests.conftest.query`` and ``dump`` read whichever store the test runs on.
DATABASES: dict[Path, str] = {}


def missing_reason() -> str | None:
    try:
        find_bindir()
    except PostgresMissing as exc:
        return str(exc)
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}, and {REQUIRE_ENV} says the PostgreSQL tests must run")
    pytest.skip(reason)


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a loop of its own in a thread of its own (a test
    may be inside a running loop already)."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]  # type: ignore[no-any-return]


class TestServer:
    """The session's cluster and its template databases."""

    __test__ = False

    def __init__(self, directory: Path) -> None:
        self.cluster = LocalCluster(directory, settings={
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            "max_connections": "300", "shared_buffers": "64MB"})
        self.cluster.init()
        self.cluster.start()
        self.templates: dict[str, str] = {}

    def url(self, database: str) -> str:
        return self.cluster.url(database)

    def create(self, name: str, template: str | None = None) -> str:
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        self.cluster.psql(f"CREATE DATABASE {name}{clause}")
        return self.url(name)

    def fresh(self, template: str | None = None) -> str:
        """A new database: empty, or a copy of a template made by ``template_of``."""
        return self.create(f"t{os.getpid()}_{next(_counter)}", template)

    def template_of(self, name: str, build: Callable[[str], None]) -> str:
        """A template database made once per session by ``build(url)``."""
        if name not in self.templates:
            url = self.create(name)
            try:
                build(url)
            except BaseException:
                self.cluster.psql(f"DROP DATABASE IF EXISTS {name}")  # the next test tries again
                raise
            self.templates[name] = name
        return name

    def stop(self) -> None:
        # The session's databases are gigabytes of template copies: a process of their own
        # removes them, so the run does not wait (10 s and more at the end of a worker).
        self.cluster.stop("immediate")
        subprocess.Popen(["rm", "-rf", "--", str(self.cluster.directory)], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def to_postgres(sql: str) -> str:
    """A test's SQLite-style query (``?`` placeholders) in PostgreSQL's terms."""
    n = itertools.count(1)
    return re.sub(r"\?", lambda _m: f"${next(n)}", sql)


def pg_query(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    import asyncpg

    from bcl_console.store.pg.db import _setup_connection

    async def go() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url, server_settings={"TimeZone": "UTC", "DateStyle": "ISO"})
        try:
            await _setup_connection(conn)
            return [tuple(r) for r in await conn.fetch(to_postgres(sql), *params)]
        finally:
            await conn.close()

    return run_sync(go)


def pg_dump(url: str) -> list[str]:
    """Every row of every table as text, table by table in a fixed order."""
    import asyncpg

    async def go() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            tables = [r[0] for r in await conn.fetch(  # not the limits' counts (UNLOGGED): no data
                "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind = 'r' AND relpersistence = 'p' ORDER BY relname")]
            lines = []
            for table in tables:
                rows = await conn.fetch(f'SELECT t::text FROM "{table}" t ORDER BY 1')  # noqa: S608 - catalogue names
                lines += [f'INSERT INTO "{table}" VALUES{r[0]};' for r in rows]
            return lines
        finally:
            await conn.close()

    return run_sync(go)
