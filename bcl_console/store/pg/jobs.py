"""The scheduler's state in the centre's database (PostgreSQL): the record of every run and
the fire time of each job handled last, as ``store/jobs.py`` on SQLite. A claim is one
conditional UPDATE under the row's lock, exact across workers and machines."""

from __future__ import annotations

from bcl_console.store.api import JobRun
from bcl_console.store.pg.db import Conn, PgDatabase


async def start_job(conn: Conn, job: str, at: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO job_runs (job, started_at, outcome) VALUES ($1, $2, 'running') RETURNING id", job, at))


async def finish_job(conn: Conn, run_id: int, at: str, outcome: str, detail: str) -> None:
    await conn.execute("UPDATE job_runs SET finished_at = $1, outcome = $2, detail = $3 WHERE id = $4",
                       at, outcome, detail, run_id)


async def job_runs(conn: Conn, limit: int = 50) -> list[JobRun]:
    """The latest runs first."""
    return [JobRun(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3]), str(r[4]), str(r[5]))
            for r in await conn.fetch(
                "SELECT id, job, started_at, finished_at, outcome, detail FROM job_runs ORDER BY id DESC LIMIT $1",
                limit)]


async def register_job(conn: Conn, job: str, baseline: str) -> str:
    await conn.execute("INSERT INTO job_schedule (job, handled_at) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING",
                       job, baseline)
    return str(await conn.fetchval("SELECT handled_at FROM job_schedule WHERE job = $1", job))


async def claim_fire(conn: Conn, job: str, fire_at: str) -> bool:
    claimed = await conn.fetchval(
        "UPDATE job_schedule SET handled_at = $2 WHERE job = $1 AND handled_at < $2 RETURNING job", job, fire_at)
    return claimed is not None


class PgScheduler:
    """``SchedulerStore`` on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
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
