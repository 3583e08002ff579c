"""The scheduler's two stores: APScheduler's own job store (the jobs and their next run
times, a SQLite file of its own through SQLAlchemy) and the centre's record of every run
(``job_runs`` in the centre's database)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from bcl_console.store.api import JobRun
from bcl_console.store.db import Database

if TYPE_CHECKING:
    from apscheduler.jobstores.base import BaseJobStore


def job_store(path: Path) -> BaseJobStore:
    """APScheduler's persistent job store in the SQLite file at ``path`` (SQLAlchemy is
    imported here, when the scheduler starts, not by every command)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    return SQLAlchemyJobStore(url=f"sqlite:///{path}")


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
