"""Scheduler: the record of every job run: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class JobRun:
    """One run of a scheduled job; ``outcome`` is running, ok or failed."""

    id: int
    job: str
    started_at: str
    finished_at: str | None
    outcome: str
    detail: str


class SchedulerStore(Protocol):
    async def start_job(self, job: str, at: str) -> int:
        """Record that a job started (outcome 'running'); the run's id."""
        ...

    async def finish_job(self, run_id: int, at: str, outcome: str, detail: str) -> None: ...

    async def job_runs(self, limit: int) -> list[JobRun]:
        """The latest runs first."""
