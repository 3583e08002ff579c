"""The scheduler: its state in the centre's database, a missed run made up at the next start,
each fire time run once across processes, recorded runs."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

from bcl_console.config import Settings, load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from bcl_console.services.platform.scheduler import JobRun
from tests.conftest import execute

OP = Actor("op", "cli")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"


async def make(path: Path, now: str) -> Runtime:
    rt = Runtime(load_settings(str(path)), clock=FixedClock(datetime.fromisoformat(now)))
    await rt.start()
    return rt


async def test_jobs_are_listed_run_by_hand_and_recorded(tmp_path: Path) -> None:
    rt = await make(tmp_path / "d", "2026-04-01T02:00:00+09:00")
    try:
        await rt.municipalities.add(code="131016", name="北山町", kind="town", population=8000,
                                    service_start="2025-10-01", actor=OP)
        await rt.scheduler.start()
        jobs = {j.name: j for j in await rt.scheduler.jobs()}
        assert set(jobs) == {"year-end-settlement", "nightly-backup-check", "documents-sweep", "onboarding-reminders"}
        next_year_end = jobs["year-end-settlement"].next_run
        assert next_year_end is not None and (next_year_end.month, next_year_end.day, next_year_end.hour) == (4, 1, 2)
        outcome, detail = await rt.scheduler.run_now("year-end-settlement")
        assert outcome == "ok" and "fiscal year 2025 closed" in detail
        assert (rt.settings.data_dir / "statements" / "2025" / "summary-2025.csv").exists()
        outcome, detail = await rt.scheduler.run_now("year-end-settlement")
        assert outcome == "ok" and "already closed" in detail  # idempotent
        outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
        assert outcome == "ok" and "0 backup(s)" in detail
        history = await rt.scheduler.history()
        assert [(r.job, r.outcome) for r in history][:3] == [("nightly-backup-check", "ok"), ("year-end-settlement", "ok"),
                                                       ("year-end-settlement", "ok")]
    finally:
        await rt.stop()


#: 11:00 JST: the nightly check's fire time of 02:30 is 8.5 hours ago, within its grace.
MORNING = datetime.fromisoformat("2026-06-17T11:00:00+09:00")


async def wait_for_run(rt: Runtime, job: str) -> list[JobRun]:
    for _ in range(600):  # at most 30 s on a loaded machine
        runs = [r for r in await rt.scheduler.history() if r.job == job]
        if runs and runs[0].outcome != "running":
            return runs
        await asyncio.sleep(0.05)
    raise AssertionError(f"{job} did not run")


async def test_a_missed_run_is_made_up_at_the_next_start(demo_dir: Path) -> None:
    rt = await make(demo_dir, "2026-06-17T10:00:00+09:00")
    await rt.scheduler.start(now=MORNING)  # a centre new to the jobs owes nothing before now
    await asyncio.sleep(0.2)
    assert await rt.scheduler.history() == []
    # The fire time handled last was yesterday's: today's 02:30 came while no process ran.
    await execute(rt, "UPDATE job_schedule SET handled_at = ? WHERE job = 'nightly-backup-check'",
                  "2026-06-15T17:30:00.000000+00:00")
    await rt.stop()
    rt = await make(demo_dir, "2026-06-17T10:00:00+09:00")  # … and comes back within the grace time
    try:
        await rt.scheduler.start(now=MORNING)
        time.sleep(1.5)  # noqa: ASYNC251 - a start that keeps the loop busy (the console's) loses no run
        runs = await wait_for_run(rt, "nightly-backup-check")
        assert [r.outcome for r in runs] == ["ok"]
        handled = await execute(rt, "SELECT handled_at FROM job_schedule WHERE job = 'nightly-backup-check'")
        assert datetime.fromisoformat(str(handled[0][0])) == datetime.fromisoformat("2026-06-17T02:30:00+09:00")
        # A later start the same morning owes nothing more: the fire time is handled.
        await rt.scheduler.stop()
        await rt.scheduler.start(now=MORNING + timedelta(hours=1))
        await asyncio.sleep(0.3)
        assert len([r for r in await rt.scheduler.history() if r.job == "nightly-backup-check"]) == 1
    finally:
        await rt.stop()


async def test_a_run_the_previous_versions_job_store_owed_is_made_up_after_the_upgrade(demo_dir: Path) -> None:
    """The job store file of a version before the scheduler's state was in the database:
    the nightly check's next run time there passed while the upgrade was made."""
    legacy = demo_dir / "scheduler.sqlite3"
    conn = sqlite3.connect(legacy)
    conn.execute("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, next_run_time FLOAT, job_state BLOB)")
    owed = datetime.fromisoformat("2026-06-17T02:30:00+09:00")
    conn.executemany("INSERT INTO apscheduler_jobs VALUES (?, ?, x'00')", [
        ("nightly-backup-check", owed.timestamp()),
        ("onboarding-reminders", (owed + timedelta(days=1, hours=4, minutes=30)).timestamp()),  # not yet due
    ])
    conn.commit()
    conn.close()
    rt = await make(demo_dir, "2026-06-17T10:00:00+09:00")
    try:
        await rt.scheduler.start(now=MORNING)
        runs = await wait_for_run(rt, "nightly-backup-check")
        assert [r.outcome for r in runs] == ["ok"]
        await asyncio.sleep(0.3)
        assert [r.job for r in await rt.scheduler.history()] == ["nightly-backup-check"]
        assert not legacy.exists()
    finally:
        await rt.stop()


async def test_a_fire_time_missed_beyond_its_grace_is_not_run(demo_dir: Path) -> None:
    rt = await make(demo_dir, "2026-06-17T10:00:00+09:00")
    try:
        await rt.scheduler.start(now=MORNING)
        await rt.scheduler.stop()
        await execute(rt, "UPDATE job_schedule SET handled_at = ?", "2026-06-01T00:00:00.000000+00:00")
        await rt.scheduler.start(now=datetime.fromisoformat("2026-06-17T22:00:00+09:00"))  # 19.5 h after 02:30
        await asyncio.sleep(0.3)
        assert [r.job for r in await rt.scheduler.history()] == []
    finally:
        await rt.stop()


async def test_each_fire_time_runs_once_across_processes(settings: Settings) -> None:
    """Two processes of one centre (serve and the console, two workers, two machines on one
    PostgreSQL database) fire the same job at the same time: one runs it, and the year-end
    settlement is closed once."""
    at = "2026-04-01T02:00:05+09:00"
    first = await make(settings.data_dir, at)
    second = await make(settings.data_dir, at)
    try:
        await first.municipalities.add(code="131016", name="北山町", kind="town", population=8000,
                                       service_start="2025-10-01", actor=OP)
        for rt in (first, second):  # both started before the fire time
            await rt.scheduler.start(now=datetime.fromisoformat("2026-04-01T01:59:00+09:00"))
        fire = datetime.fromisoformat(at)
        results = await asyncio.gather(*(rt.scheduler.run_due("year-end-settlement", fire)
                                         for rt in (first, second, first, second)))
        ran = [r for r in results if r is not None]
        assert len(ran) == 1 and ran[0][0] == "ok" and "fiscal year 2025 closed" in ran[0][1], results
        assert [r.job for r in await first.scheduler.history()] == ["year-end-settlement"]
        assert await first.settlement.closed_years() == [2025]
        # The same fire time again (a restart, a late worker): nothing runs.
        assert await second.scheduler.run_due("year-end-settlement", fire + timedelta(hours=1)) is None
        # The nightly check's next fire time is claimed afresh, once.
        night = datetime.fromisoformat("2026-04-01T02:30:01+09:00")
        results = await asyncio.gather(*(rt.scheduler.run_due("nightly-backup-check", night)
                                         for rt in (first, second)))
        assert sorted(r is None for r in results) == [False, True], results
        assert len(await first.scheduler.history()) == 2
    finally:
        await first.stop()
        await second.stop()


async def test_a_damaged_backup_fails_the_nightly_check(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    await rt.linkage.link(FIXTURES / "valid-full")
    await rt.store.files.save((await rt.linkage.backups("993611"))[0].path, b"garbage")
    outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
    assert outcome == "failed" and "993611#2" in detail


async def test_nightly_check_counts_backups_against_the_batches_received(demo_runtime: Runtime) -> None:
    """The demo holds one received batch (東浜市 over HTTP) and three data sets generated in
    place: the check says so instead of '1 backups present' beside 4 applied batches; a
    received batch whose backup file is gone fails it."""
    rt = demo_runtime
    outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
    assert outcome == "ok", detail
    assert "1 backup(s) present and readable: one for each of the 1 batch(es) received" in detail
    assert "3 demo data set(s) were generated here" in detail
    (backup,) = await rt.linkage.backups()
    await rt.store.files.remove(backup.path)
    outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
    assert outcome == "failed" and "992054#2" in detail, detail
