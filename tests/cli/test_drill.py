"""`drill two-centres` (contract §11) as a trainer runs it: a real process that starts two
PostgreSQL clusters and two `serve`s, kills East with SIGKILL under traffic, promotes
West, checks every accepted step at West and rejoins East by pg_rewind; and everything it
started is gone afterwards. Also `centre init-standby`, which gives West East's keys."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import missing_reason, skip_or_fail


def bcl(data: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bcl_console", "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def processes_under(directory: Path) -> list[str]:
    # -ww: whole command lines (without it ps cuts them at the terminal's or $COLUMNS' width,
    # and a deep test directory was never seen at all)
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(directory) in line and "ps -ww" not in line]


@pytest.mark.slow
def test_the_drill_passes_and_leaves_nothing_running(demo_template: Path, tmp_path: Path) -> None:
    reason = missing_reason()
    if reason:
        skip_or_fail(reason)
    data = tmp_path / "trainer"
    shutil.copytree(demo_template, data)
    done = bcl(data, "drill", "two-centres", "--seconds", "8", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    doc = json.loads(done.stdout)
    # the contract's figures
    assert doc["verdict"] == "pass", doc["problems"]
    assert (doc["lost"], doc["duplicated"], doc["wrong_person"]) == (0, 0, 0)
    assert doc["accepted"] >= 20, doc
    assert doc["rto_seconds"] is not None and 0 < doc["rto_seconds"] < 10
    assert doc["east_rejoined"] is True and doc["east_fenced"] is True
    assert doc["rejoin_method"] == "rewind"
    # East died in the middle of the traffic, and West was promoted after it
    assert doc["east_killed_at"] < doc["west_promoted_at"]
    assert doc["kiosks"]["outcomes"].get("printed", 0) >= 10, doc["kiosks"]
    assert doc["batches"]["delivered"] >= 1 and doc["batches"]["rejected"] == 0
    # everything it started is stopped; the clusters are removed; the report and logs kept
    root = Path(doc["directory"])
    assert processes_under(root) == []
    assert not (root / "east-pg").exists() and not (root / "west-pg").exists()
    assert json.loads((root / "report.json").read_text())["verdict"] == "pass"
    assert {p.name for p in root.iterdir()} >= {"east-serve.log", "west-serve.log", "east-pg.log", "west-pg.log"}
    # the trainer's own centre is untouched by the drill
    status = bcl(data, "centre", "status", "--json")
    assert json.loads(status.stdout)["role"] == "single"


def test_the_drill_without_postgresql_says_so_and_makes_nothing(demo_template: Path, tmp_path: Path) -> None:
    data = tmp_path / "trainer"
    shutil.copytree(demo_template, data)
    empty = tmp_path / "no-postgresql"
    empty.mkdir()
    done = bcl(data, "drill", "two-centres", "--seconds", "8", env={"BCL_PG_BINDIR": str(empty)}, timeout=120)
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip().splitlines()
    assert len(message) == 1 and "needs PostgreSQL" in message[0] and "not installed" in message[0], message
    assert not (data / "drills").exists() or not any((data / "drills").iterdir())


def test_init_standby_gives_the_standby_the_active_centres_keys(demo_template: Path, tmp_path: Path) -> None:
    east = tmp_path / "east"
    shutil.copytree(demo_template, east)
    west = tmp_path / "west"
    done = bcl(west, "centre", "init-standby", "--keys-from", str(east), "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    copied = json.loads(done.stdout)["copied"]
    assert {"backup.key", "document-signing.key", "centre-ca.crt", "jpki-ca.pem", "jpki-ca-key.pem"} <= set(copied)
    for name in copied:
        assert (west / "keys" / name).read_bytes() == (east / "keys" / name).read_bytes()
        assert (west / "keys" / name).stat().st_mode & 0o077 == 0
    # once more: nothing to do
    again = bcl(west, "centre", "init-standby", "--keys-from", str(east / "keys"), "--json", timeout=60)
    assert again.returncode == 0 and json.loads(again.stdout)["copied"] == []
    # a data directory with keys of its own is refused, and keeps them
    other = tmp_path / "other"
    assert bcl(other, "init", timeout=120).returncode == 0
    before = (other / "keys" / "backup.key").read_bytes()
    refused = bcl(other, "centre", "init-standby", "--keys-from", str(east), timeout=60)
    assert refused.returncode == 3 and "differ" in refused.stderr and "nothing changed" in refused.stderr
    assert (other / "keys" / "backup.key").read_bytes() == before
    missing = bcl(other, "centre", "init-standby", "--keys-from", str(tmp_path / "nowhere"), timeout=60)
    assert missing.returncode == 2 and "holds no centre's keys" in missing.stderr


@pytest.mark.slow
def test_a_drill_that_fails_half_way_stops_everything_it_started(demo_template: Path, tmp_path: Path) -> None:
    """PostgreSQL installed without pg_basebackup: East's cluster runs and holds the copy of
    the centre when West cannot be made. The drill says why in one sentence (exit 1), its
    report says it failed, and nothing it started is left running or on disk."""
    reason = missing_reason()
    if reason:
        skip_or_fail(reason)
    from bcl_console.services.platform.postgres_local import find_bindir

    real = find_bindir()
    partial = tmp_path / "bin"
    partial.mkdir()
    partial.chmod(0o755)  # the server's own user runs them
    for tool in ("initdb", "pg_ctl", "postgres", "psql", "pg_isready"):
        (partial / tool).symlink_to(real / tool)
    data = tmp_path / "trainer"
    shutil.copytree(demo_template, data)
    done = bcl(data, "drill", "two-centres", "--seconds", "8", env={"BCL_PG_BINDIR": str(partial)})
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "could not be run" in lines[-1] and "pg_basebackup" in lines[-1], lines
    (root,) = (data / "drills").iterdir()
    report = json.loads((root / "report.json").read_text())
    assert report["verdict"] == "fail" and "pg_basebackup" in report["problems"][0]
    assert processes_under(root) == []
    assert not (root / "east-pg").exists() and not (root / "west-pg").exists() and not (root / "east").exists()
    assert (root / "east-pg.log").exists()  # the log of the cluster that ran is kept


@pytest.mark.parametrize("hour", range(24))
def test_the_drills_clock_is_in_service_hours_and_never_before_the_centres(hour: int) -> None:
    """The drill's centres run at the trainer's centre's now, or at the next 10:00 in
    Tokyo when kiosks are closed then: never earlier, or the test cards the demo made just
    before are not yet valid and every kiosk is refused (an evening drill did that)."""
    from datetime import datetime, timedelta

    from bcl_console.demo.drill import drill_now
    from bcl_console.domain.fiscal import TOKYO

    source = datetime(2026, 12, 3, hour, 59, tzinfo=TOKYO)
    moved = drill_now(source)
    assert source <= moved < source + timedelta(hours=15)
    assert 8 <= moved.astimezone(TOKYO).hour < 20
    if 8 <= hour < 20:
        assert moved == source


@pytest.mark.slow
def test_a_drill_stopped_by_sigterm_stops_everything_it_started(demo_template: Path, tmp_path: Path) -> None:
    """A job system stops the drill with SIGTERM once East's cluster runs: the drill ends as
    on Ctrl-C (one sentence, exit 1, its report says why), and no server or serve is left."""
    reason = missing_reason()
    if reason:
        skip_or_fail(reason)
    import signal
    import time

    data = tmp_path / "trainer"
    shutil.copytree(demo_template, data)
    proc = subprocess.Popen([sys.executable, "-m", "bcl_console", "--data-dir", str(data), "drill", "two-centres",
                             "--seconds", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # the drill's log: wait until East's server runs
            seen.append(line)
            if "copying this centre into East" in line:
                break
        else:
            raise AssertionError("".join(seen))
        (root,) = (data / "drills").iterdir()
        assert processes_under(root)  # East's server runs (the check sees it: it would see one left)
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(120) == 1, rest
    finally:
        if proc.poll() is None:  # a failed check above: stopped the way under test, then harder
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert "stopped (SIGTERM)" in rest.strip().splitlines()[-1], rest
    deadline = time.monotonic() + 10
    while processes_under(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_under(root) == []
    report = json.loads((root / "report.json").read_text())
    assert report["verdict"] == "fail" and "stopped before its end" in report["problems"][0]
    assert not (root / "east-pg").exists()
