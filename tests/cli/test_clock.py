"""One centre, one timeline: a training clock set by `demo --now` (or the console, or
`clock set`) is the data directory's, so every later command runs on it until cleared."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bcl_console.cli import main
from bcl_console.domain.fiscal import tokyo_at


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*args, "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def test_the_training_clock_belongs_to_the_data_directory(capsys: pytest.CaptureFixture[str], demo_dir: Path,
                                                          tmp_path: Path) -> None:
    data = str(demo_dir)
    code, doc = run_json(capsys, "clock", "--data-dir", data)
    assert code == 0 and doc["training"] is False  # the test template was made without one
    code, doc = run_json(capsys, "clock", "set", "2026-12-01T10:00+09:00", "--data-dir", data)
    assert code == 0 and doc["training"] is True and doc["now"].startswith("2026-12-01T10:0")
    # a command without --now runs on it: a counter certificate dated that day
    resident = sqlite3.connect(demo_dir / "bcl.sqlite3").execute(
        "SELECT resident_code FROM residents WHERE municipality_code='993611' AND status='active' AND "
        "restricted=0 LIMIT 1").fetchone()[0]
    code, issued = run_json(capsys, "issue", "--resident", resident, "--type", "residence", "--out",
                            str(tmp_path / "c.pdf"), "--data-dir", data)
    assert code == 0
    (at,) = sqlite3.connect(demo_dir / "bcl.sqlite3").execute(
        "SELECT issued_at FROM issuances WHERE request_id = ?", (issued["request_id"],)).fetchone()
    assert tokyo_at(at).date().isoformat() == "2026-12-01"
    # an explicit --now still wins for one command, and does not move the directory's clock
    code, doc = run_json(capsys, "clock", "--data-dir", data, "--now", "2027-01-05T09:00+09:00")
    assert doc["now"].startswith("2026-12-01")
    code, doc = run_json(capsys, "clock", "clear", "--data-dir", data)
    assert code == 0 and doc["training"] is False
    assert abs(datetime.fromisoformat(doc["now"]) - datetime.now().astimezone()) < timedelta(minutes=1)
    code, _ = run_json(capsys, "clock", "set", "yesterday", "--data-dir", data)
    assert code == 2


def test_demo_now_sets_the_directory_clock(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    code, _ = run_json(capsys, "demo", "--data-dir", data, "--now", "2027-03-31T23:50+09:00", "--residents", "300")
    assert code == 0
    code, doc = run_json(capsys, "clock", "--data-dir", data)
    assert doc["training"] is True and doc["now"].startswith("2027-03-31T23:5")
    # the scheduled jobs' next runs are told on the centre's timeline, not the real one
    import asyncio

    from bcl_console.config import load_settings
    from bcl_console.services.platform.runtime import Runtime

    async def next_runs() -> dict[str, datetime | None]:
        rt = Runtime(load_settings(data))
        await rt.start(create=False)
        try:
            assert rt.training
            await rt.scheduler.start()
            return {j.name: j.next_run for j in await rt.scheduler.jobs()}
        finally:
            await rt.stop()

    runs = asyncio.run(next_runs())
    nightly = runs["nightly-backup-check"]
    assert nightly is not None and nightly.isoformat().startswith("2027-04-01T02:30")
