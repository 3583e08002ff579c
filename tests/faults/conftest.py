"""Real processes, killed the way a power failure kills them, and a disk that fills up.

Every test here is marked ``fault``: CI runs them all; a developer in a hurry can leave
them out with ``./dev test -m 'not fault'``.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcl_console.services.platform.faults import ENV
from tests.conftest import query as rows  # noqa: F401 - the fault tests import it from here

NOW = "2026-06-17T10:00:00+09:00"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.fault)


def cli(*args: str, data: Path | None = None, fault: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`bcl-console ARGS` as its own process (with ``fault``: it kills itself there)."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if fault:
        env[ENV] = fault
    argv = [sys.executable, "-m", "bcl_console", *args]
    if data is not None:
        argv += ["--data-dir", str(data), "--now", NOW]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)


class Serve:
    """`bcl-console serve` as a real process on a free port."""

    def __init__(self, data: Path, fault: str | None = None, workers: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if k != ENV}
        if fault:
            env[ENV] = fault
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bcl_console", "serve", "--port", "0", "--data-dir", str(data), "--now", NOW],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not match:
            self.proc.kill()
            raise AssertionError(line + (self.proc.stderr.read() if self.proc.stderr else ""))
        self.url = match.group(1)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serving() -> Iterator[list[Serve]]:
    """Servers a test starts; whatever is left is killed at the end."""
    started: list[Serve] = []
    yield started
    for server in started:
        server.kill()


def integrity_ok(db: Path) -> bool:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok" and \
            not conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()


def children_of(pid: int) -> set[int]:
    """Every living descendant of a process (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def wait_until(condition: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False
