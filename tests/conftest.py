"""Shared fixtures: a fresh data directory per test, a fixed clock, the demo copied in."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bcl_console.config import Settings, load_settings
from bcl_console.demo.make import make_demo
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime

#: Tests live on a Wednesday in June, 10:00 in Japan: inside service hours.
TEST_NOW = datetime.fromisoformat("2026-06-17T10:00:00+09:00")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config or data directory is ever discovered from the machine."""
    for name in ("BCL_DATA_DIR", "BCL_NOW", "BCL_PORT", "BCL_HOST", "BCL_DEMO_SEED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TEST_NOW)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(str(tmp_path / "data"))


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
def demo_dir(demo_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo-data"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
async def demo_runtime(demo_dir: Path, clock: FixedClock) -> AsyncIterator[Runtime]:
    rt = Runtime(load_settings(str(demo_dir)), clock=clock)
    await rt.start()
    yield rt
    await rt.stop()


def dump(db_path: Path) -> list[str]:
    """Every row of the database as SQL text: equal dumps mean nothing changed."""
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def query(db_path: Path, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    """Rows of a query on a data directory's database, read outside the runtime."""
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
