"""The scheduler's state in the centre's database: the record of every run (``job_runs``)
and the fire time of each job handled last (``job_schedule``), claimed by one conditional
update so a fire time runs once whichever process claims it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bcl_console.store.api import JobRun
from bcl_console.store.db import Database


def legacy_next_runs(path: Path) -> dict[str, datetime]:
    """The next run time of each job in the job store file an earlier version kept
    (APScheduler's SQLAlchemy store: ``apscheduler_jobs``, epoch seconds); {} without one."""
    if not path.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT id, next_run_time FROM apscheduler_jobs "
                                "WHERE next_run_time IS NOT NULL").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}  # not a job store this version can read: nothing is known to be owed
    return {str(job): datetime.fromtimestamp(float(at), UTC) for job, at in rows}


def start_job(conn: sqlite3.Connection, job: str, at: str) -> int:
    cur = conn.execute("INSERT INTO job_runs (job, started_at, outcome) VALUES (?, ?, 'running')", (job, at))
    return int(cur.lastrowid or 0)


def finish_job(conn: sqlite3.Connection, run_id: int, at: str, outcome: str, detail: str) -> None:
    conn.execute("UPDATE job_runs SET finished_at = ?, outcome = ?, detail = ? WHERE id = ?",
                 (at, outcome, detail, run_id))


def job_runs(conn: sqlite3.Connection, limit: int = 50) -> list[JobRun]:
    """The latest runs first."""
    return [JobRun(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3]), str(r[4]), str(r[5]))
            for r in conn.execute(
                "SELECT id, job, started_at, finished_at, outcome, detail FROM job_runs ORDER BY id DESC LIMIT ?",
                (limit,))]


def register_job(conn: sqlite3.Connection, job: str, baseline: str) -> str:
    conn.execute("INSERT INTO job_schedule (job, handled_at) VALUES (?, ?) ON CONFLICT (job) DO NOTHING",
                 (job, baseline))
    return str(conn.execute("SELECT handled_at FROM job_schedule WHERE job = ?", (job,)).fetchone()[0])


def claim_fire(conn: sqlite3.Connection, job: str, fire_at: str) -> bool:
    cur = conn.execute("UPDATE job_schedule SET handled_at = ? WHERE job = ? AND handled_at < ?",
                       (fire_at, job, fire_at))
    return cur.rowcount == 1


class SqliteScheduler:
    """``SchedulerStore`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def start_job(self, job: str, at: str) -> int:
        return await self._db.write(start_job, job, at)

    async def finish_job(self, run_id: int, at: str, outcome: str, detail: str) -> None:
        await self._db.write(finish_job, run_id, at, outcome, detail)

    async def job_runs(self, limit: int) -> list[JobRun]:
        return await self._db.read(job_runs, limit)

    async def register_job(self, job: str, baseline: str) -> str:
        return await self._db.write(register_job, job, baseline)

    async def claim_fire(self, job: str, fire_at: str) -> bool:
        return await self._db.write(claim_fire, job, fire_at)
