"""Shared fixtures: a fresh data directory per test, a fixed clock, the demo copied in."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bcl_console.config import DB_FILENAME, Settings, load_settings
from bcl_console.demo.make import make_demo
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.pg import (
    DATABASES,
    TestServer,
    missing_reason,
    pg_dump,
    pg_query,
    run_sync,
    skip_or_fail,
)

#: Tests live on a Wednesday in June, 10:00 in Japan: inside service hours.
TEST_NOW = datetime.fromisoformat("2026-06-17T10:00:00+09:00")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config or data directory is ever discovered from the machine."""
    for name in ("BCL_DATA_DIR", "BCL_NOW", "BCL_PORT", "BCL_HOST", "BCL_DEMO_SEED", "BCL_DATABASE_URL",
                 "BCL_LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TEST_NOW)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    """The session's own PostgreSQL server (tests/pg.py), started on first use."""
    reason = missing_reason()
    if reason:
        skip_or_fail(reason)
    server = TestServer(tmp_path_factory.mktemp("postgres") / "cluster")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def backend() -> str:
    """The store a test runs on. "sqlite" here; tests/services and tests/store run each
    test on both (their conftest.py parametrizes this)."""
    return "sqlite"


def _on_postgres(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, data_dir: Path,
                 template: str) -> str:
    """Point this test's centre (every load_settings, every child process) at a fresh
    PostgreSQL database cloned from ``template``."""
    server: TestServer = request.getfixturevalue("pg_server")
    url = server.fresh(template)
    monkeypatch.setenv("BCL_DATABASE_URL", url)
    DATABASES[data_dir / DB_FILENAME] = url
    return url


def _migrated(url: str) -> None:
    from bcl_console.store.pg.db import PgDatabase

    async def go() -> None:
        db = PgDatabase(url)
        await db.open()
        await db.close()

    run_sync(go)


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    data_dir = tmp_path / "data"
    if backend == "postgresql":
        server: TestServer = request.getfixturevalue("pg_server")
        _on_postgres(request, monkeypatch, data_dir, server.template_of("bcl_empty", _migrated))
    return load_settings(str(data_dir))


@pytest.fixture
async def runtime(settings: Settings, clock: FixedClock) -> AsyncIterator[Runtime]:
    rt = Runtime(settings, clock=clock)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data set, made once per session (seed 7) and copied into each test."""
    directory = tmp_path_factory.mktemp("demo-template") / "data"

    async def make() -> None:
        rt = Runtime(load_settings(str(directory)), clock=FixedClock(TEST_NOW))
        await rt.start()
        try:
            await make_demo(rt, 7)
        finally:  # a runtime left running keeps its threads, and pytest never exits
            await rt.stop()

    asyncio.run(make())
    return directory


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest,
             monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "demo-data"
    shutil.copytree(demo_template, target)
    if backend == "postgresql":
        server: TestServer = request.getfixturevalue("pg_server")

        def copied(url: str) -> None:
            from bcl_console.store.copy import copy_sqlite_to_postgres

            run_sync(lambda: copy_sqlite_to_postgres(demo_template / DB_FILENAME, url))

        _on_postgres(request, monkeypatch, target, server.template_of("bcl_demo", copied))
        (target / DB_FILENAME).unlink()  # nothing may read the SQLite copy by mistake
    return target


@pytest.fixture
async def demo_runtime(demo_dir: Path, clock: FixedClock) -> AsyncIterator[Runtime]:
    rt = Runtime(load_settings(str(demo_dir)), clock=clock)
    await rt.start()
    yield rt
    await rt.stop()


def dump(db_path: Path) -> list[str]:
    """Every row of the database as SQL text: equal dumps mean nothing changed."""
    if db_path in DATABASES:
        return pg_dump(DATABASES[db_path])
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def query(db_path: Path, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    """Rows of a query on a data directory's database, read outside the runtime (on
    PostgreSQL when the test runs there: ``?`` placeholders either way)."""
    if db_path in DATABASES:
        return pg_query(DATABASES[db_path], sql, *params)
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def db_dump() -> Iterator[object]:
    yield dump


def free_port() -> int:
    """A loopback port free right now, for a server that must be started on a known port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_pdftoppm() -> None:
    """Tests that render pages with poppler's pdftoppm: skipped where it is missing (a
    developer's machine; `./dev test` installs it where it can, as root with apt), and
    failed under CI, which must render, never skip."""
    import os
    import shutil

    if shutil.which("pdftoppm") is None:
        reason = "poppler-utils (pdftoppm) is not installed"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> str:
    """One line on which stores this run tests (and why not PostgreSQL, when it cannot)."""
    reason = missing_reason()
    if reason is None:
        return "stores: SQLite and PostgreSQL (a server of the run's own)"
    return f"stores: SQLite only: {reason}, so the PostgreSQL half of the suite does not run"


async def kept_names(rt: Runtime, folder: str) -> set[str]:
    """The names of the documents or backups (``folder``: documents, backups) the runtime's
    store keeps: the files under the data directory on SQLite (temporary ones included),
    the rows of ``files`` on PostgreSQL."""
    if rt.settings.database_url:
        return {str(r[0]) for r in await execute(rt, "SELECT name FROM files WHERE name LIKE ?", f"{folder}/%")}
    return {p.relative_to(rt.settings.data_dir).as_posix()
            for p in (rt.settings.data_dir / folder).rglob("*") if p.is_file()}


async def age_kept(rt: Runtime, names: Iterable[str], by: timedelta) -> None:
    """Make kept documents or backups look stored ``by`` longer ago, by the clock that
    stamped them: a file's mtime on SQLite, ``files.stored_at`` (the server's clock) on
    PostgreSQL."""
    for name in names:
        if rt.settings.database_url:
            await execute(rt, "UPDATE files SET stored_at = stored_at - make_interval(secs => ?) WHERE name = ?",
                          by.total_seconds(), name)
        else:
            path = rt.settings.data_dir / name
            then = path.stat().st_mtime - by.total_seconds()
            os.utime(path, (then, then))


async def execute(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    """A statement of a test's own on the runtime's database, whichever store it is (a
    test that changes data behind the services' back); ``?`` placeholders either way."""
    if rt.settings.database_url:
        import asyncpg

        from bcl_console.store.pg.db import _setup_connection
        from tests.pg import to_postgres

        conn = await asyncpg.connect(rt.settings.database_url)
        try:
            await _setup_connection(conn)
            return [tuple(r) for r in await conn.fetch(to_postgres(sql), *params)]
        finally:
            await conn.close()
    assert rt.db is not None
    return await rt.db.write(lambda c: [tuple(r) for r in c.execute(sql, params).fetchall()])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``sqlite_only`` test (about SQLite itself: its files, its locks, its migrations)
    runs once, on SQLite: its PostgreSQL instance is not collected."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("backend") == "postgresql"
        (drop if on_pg and item.get_closest_marker("sqlite_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def stop_gracefully(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    """SIGTERM a process the test started (a `serve`), killed if it does not stop in
    ``timeout`` seconds; its exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
