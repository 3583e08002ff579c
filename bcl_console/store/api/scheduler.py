"""Scheduler: the record of every job run, and which fire time of each job has been
claimed (so a job runs once per fire time, whichever process or machine claims it): what
crosses the store boundary."""

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
        ...

    async def register_job(self, job: str, baseline: str) -> str:
        """Record a job once: ``baseline`` (a UTC ISO instant) as the fire time already
        handled (a fire time before the centre knew the job is not owed). The fire time
        handled last, the recorded one when the job was known already."""
        ...

    async def claim_fire(self, job: str, fire_at: str) -> bool:
        """Claim a fire time of a registered job: True for exactly one caller, and only when
        it is later than the fire time handled last (a second worker, a second machine or a
        restart claiming the same fire time gets False)."""
