"""The scheduler: persistent jobs, a missed run made up at the next start, recorded runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bcl_console.config import load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime

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
        assert set(jobs) == {"year-end-settlement", "nightly-backup-check", "onboarding-reminders"}
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


async def test_a_missed_run_is_made_up_at_the_next_start(demo_dir: Path) -> None:
    rt = await make(demo_dir, "2026-06-17T10:00:00+09:00")
    await rt.scheduler.start()
    scheduler = rt.scheduler._scheduler
    assert scheduler is not None
    scheduler.pause()  # the run comes due while the process is down: it was due 10 minutes ago
    scheduler.get_job("nightly-backup-check").modify(next_run_time=datetime.now(UTC) - timedelta(minutes=10))
    await rt.stop()
    rt = await make(demo_dir, "2026-06-17T10:00:00+09:00")  # … and comes back within the grace time
    try:
        await rt.scheduler.start()
        for _ in range(600):  # at most 30 s on a loaded machine
            runs = await rt.scheduler.history()
            if runs and runs[0].outcome != "running":
                break
            await asyncio.sleep(0.05)
        assert runs[0].job == "nightly-backup-check" and runs[0].outcome == "ok", runs
    finally:
        await rt.stop()


async def test_a_damaged_backup_fails_the_nightly_check(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    await rt.linkage.link(FIXTURES / "valid-full")
    backup = rt.settings.data_dir / (await rt.linkage.backups("993611"))[0].path
    backup.write_bytes(b"garbage")
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
    (rt.settings.data_dir / backup.path).unlink()
    outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
    assert outcome == "failed" and "992054#2" in detail, detail
