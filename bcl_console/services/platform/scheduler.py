"""Scheduled jobs (APScheduler 3.x) whose state is in the centre's database: the year-end
settlement after 31 March, a nightly check of the backups, a nightly sweep of documents
no issuance records, the onboarding reminders.

Every process that runs a scheduler (the console, `serve` worker 0, a second machine on the
same PostgreSQL database) fires each job at its trigger's times, and each fire time is
claimed in the database first (``job_schedule``: the fire time handled last, moved on by one
conditional update), so exactly one process runs it; the others note that it ran elsewhere.
A fire time missed while no process ran is claimed and run at the next start, within the
job's grace time; every run is recorded with its outcome; jobs can be triggered by hand
(console, CLI), which claims nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bcl_console.domain.errors import NotFound
from bcl_console.domain.fiscal import TOKYO
from bcl_console.services.issuance.service import SWEEP_WINDOW
from bcl_console.services.linkage.backup_crypto import BackupCorrupt, verify_backup
from bcl_console.services.platform.actor import SYSTEM
from bcl_console.services.platform.clock import SystemClock, iso_now
from bcl_console.store import StoreError, StoreStandby
from bcl_console.store.api import JobRun as JobRun
from bcl_console.store.api import Store
from bcl_console.store.jobs import legacy_next_runs

if TYPE_CHECKING:
    from bcl_console.config import Settings
    from bcl_console.services.issuance.service import IssuanceService
    from bcl_console.services.linkage.service import LinkageService
    from bcl_console.services.onboarding.service import OnboardingService
    from bcl_console.services.platform.clock import Clock
    from bcl_console.services.platform.keys import KeyStore
    from bcl_console.services.platform.metrics import Metrics
    from bcl_console.services.settlement.service import SettlementService


class Runtime(Protocol):
    """What the jobs use of the runtime that owns this scheduler (platform.runtime.Runtime
    satisfies it; naming it here keeps runtime → scheduler the only direction)."""

    settings: Settings
    clock: Clock
    keys: KeyStore
    store: Store
    linkage: LinkageService
    issuance: IssuanceService
    onboarding: OnboardingService
    settlement: SettlementService
    scheduler: SchedulerService
    metrics: Metrics

log = logging.getLogger(__name__)

#: Runtimes by data directory: a cron job is a plain function with plain arguments, and
#: finds its runtime through this registry.
_RUNTIMES: dict[str, Runtime] = {}


#: How often the sweep looks for fire times no process claimed.
SWEEP_SECONDS = 600


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    trigger: CronTrigger
    grace_seconds: int


JOBS = (
    JobSpec("year-end-settlement", "settle and close the fiscal year that ended (1 April 02:00 JST)",
            CronTrigger(month=4, day=1, hour=2, minute=0, timezone=TOKYO), 30 * 24 * 3600),
    JobSpec("nightly-backup-check", "check that every linkage backup is present and readable (02:30 JST)",
            CronTrigger(hour=2, minute=30, timezone=TOKYO), 12 * 3600),
    JobSpec("documents-sweep", "remove kept documents that no issuance records (03:15 JST)", CronTrigger(hour=3, minute=15, timezone=TOKYO), 12 * 3600),
    JobSpec("onboarding-reminders", "mark onboarding steps that became due or late (07:00 JST)",
            CronTrigger(hour=7, minute=0, timezone=TOKYO), 12 * 3600),
)


@dataclass(frozen=True)
class JobView:
    name: str
    description: str
    next_run: datetime | None
    last_outcome: str | None
    last_detail: str
    last_run: str | None


async def year_end_settlement(runtime: Runtime) -> str:
    fiscal_year = runtime.settlement.current_fiscal_year() - 1
    if fiscal_year in await runtime.settlement.closed_years():
        return f"fiscal year {fiscal_year} was already closed"
    out = runtime.settings.statements_dir / str(fiscal_year)
    doc = await runtime.settlement.settle(fiscal_year, close=True, out=out, actor=SYSTEM)
    return f"fiscal year {fiscal_year} closed: {doc['totals']['billable']} billable; statements in {out}"


async def nightly_backup_check(runtime: Runtime) -> str:
    backups = await runtime.linkage.backups()
    key = runtime.keys.backup_key
    files = runtime.store.files
    bad = []
    for b in backups:
        try:  # whole and as recorded: its size, then every chunk decrypts (AES-GCM tags)
            async with files.local(b.path) as kept:
                ok = await asyncio.to_thread(_whole, key, kept, b.size)
        except (OSError, BackupCorrupt):
            ok = False
        if not ok:
            bad.append(f"{b.municipality_code}#{b.sequence}")
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(backups)} backups missing or damaged: {', '.join(bad[:10])}")
    # Every batch received (by link or over HTTP) must have its backup; the demo's data sets
    # were generated in place, not received, so they have none, and the result says so.
    have = {(b.municipality_code, b.sequence) for b in backups}
    applied = [b for b in await runtime.linkage.batches(limit=1_000_000) if b.outcome == "applied"]
    without = [b for b in applied if (b.municipality_code, b.sequence) not in have]
    received = [b for b in without if b.source != "demo"]
    if received:
        raise RuntimeError(f"{len(received)} applied batch(es) have no backup: "
                           + ", ".join(f"{b.municipality_code}#{b.sequence}" for b in received[:10]))
    generated = len(without)
    return (f"{len(backups)} backup(s) present and readable: one for each of the {len(applied) - generated} "
            f"batch(es) received" + (f"; {generated} demo data set(s) were generated here, not received, "
                                     "and have none" if generated else ""))


def _whole(key: bytes, backup: Path, size: int) -> bool:
    """A backup of the size recorded whose every chunk decrypts (BackupCorrupt otherwise)."""
    if backup.stat().st_size != size:
        return False
    verify_backup(key, backup)
    return True


async def documents_sweep(runtime: Runtime) -> str:
    swept = await runtime.issuance.sweep_documents()
    return (f"{swept.checked} document(s) kept in the last {SWEEP_WINDOW.days} days (and over an hour ago) "
            f"checked; {len(swept.removed)} removed that no issuance records")


async def onboarding_reminders(runtime: Runtime) -> str:
    given = await runtime.onboarding.remind()
    late = sum(1 for _, _, kind in given if kind == "late")
    return f"{len(given)} reminder(s): {len(given) - late} step(s) due, {late} late"


_FUNCTIONS: dict[str, Callable[[Runtime], Awaitable[str]]] = {
    "onboarding-reminders": onboarding_reminders,
    "year-end-settlement": year_end_settlement,
    "nightly-backup-check": nightly_backup_check,
    "documents-sweep": documents_sweep,
}


async def run_job(data_dir: str, name: str) -> None:
    """The entry point APScheduler calls for every job."""
    runtime = _RUNTIMES.get(data_dir)
    if runtime is None:
        log.warning("job %s for %s skipped: no runtime", name, data_dir)
        return
    try:
        await runtime.scheduler.run_due(name)
    except StoreStandby:
        log.info("job %s not run: this centre is the standby", name)


def _spec(name: str) -> JobSpec:
    return next(spec for spec in JOBS if spec.name == name)


def last_fire(trigger: CronTrigger, now: datetime, within: timedelta) -> datetime | None:
    """The trigger's latest fire time at or before ``now`` and not older than ``within``."""
    fire = trigger.get_next_fire_time(None, (now - within).astimezone(TOKYO))
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return latest


def _stamp(at: datetime) -> str:
    """A fire time as ``job_schedule`` holds it: UTC ISO text of one form (text order is
    time order on SQLite)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class SchedulerService:
    def __init__(self, runtime: Runtime, store: Store) -> None:
        self._runtime = runtime
        self._store = store
        self._scheduler: AsyncIOScheduler | None = None
        self._elsewhere = False

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def run_elsewhere(self) -> None:
        """Another process of this centre runs the jobs (a console attached to `bcl-console
        web`): this one starts none, and tells their next runs from their triggers."""
        self._elsewhere = True

    async def start(self, now: datetime | None = None) -> None:
        """Start firing the jobs; a fire time missed before ``now`` (the real time unless a
        test names one), within its grace time, runs at once if no process claimed it."""
        settings = self._runtime.settings
        _RUNTIMES[str(settings.data_dir)] = self._runtime
        # An earlier version kept the next run times in a job store file of its own: a run
        # it still owed (its next run time passed while the upgrade was made) is owed here.
        legacy = await asyncio.to_thread(legacy_next_runs, settings.scheduler_path)
        scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1}, timezone=TOKYO)
        now = now or datetime.now(UTC)
        for spec in JOBS:
            # A job new to this centre owes nothing before now: its last fire time (or now)
            # is recorded as handled. A known job whose latest fire time within its grace is
            # after the one handled last missed it while no process ran: the sweep below
            # claims and runs it.
            due = last_fire(spec.trigger, now, timedelta(seconds=spec.grace_seconds))
            baseline = due or now
            if spec.name in legacy:
                baseline = min(baseline, legacy[spec.name] - timedelta(microseconds=1))
            try:
                await self._store.scheduler.register_job(spec.name, _stamp(baseline))
            except StoreStandby:  # the standby centre: the active centre's rows are replicated here
                pass
            scheduler.add_job(run_job, spec.trigger, args=[str(settings.data_dir), spec.name], id=spec.name,
                              name=spec.description, misfire_grace_time=spec.grace_seconds)
        # The sweep claims every job's latest fire time within its grace that no process
        # handled: at once (a run missed while no process ran), then every few minutes (a
        # fire whose claim met an unreachable database, a process that was busy).
        scheduler.add_job(self.sweep, args=[now], id="sweep:start", name="runs missed while no process ran",
                          misfire_grace_time=None)
        scheduler.add_job(self.sweep, IntervalTrigger(seconds=SWEEP_SECONDS), id="sweep",
                          name="runs whose fire went unclaimed", misfire_grace_time=None)
        scheduler.start()
        self._scheduler = scheduler
        settings.scheduler_path.unlink(missing_ok=True)

    async def stop(self) -> None:
        if self._scheduler is not None:
            scheduler, self._scheduler = self._scheduler, None
            scheduler.shutdown(wait=False)
        _RUNTIMES.pop(str(self._runtime.settings.data_dir), None)

    async def sweep(self, now: datetime | None = None) -> None:
        """Claim and run every job's latest fire time within its grace that no process of
        this centre handled (``now``: the real time unless a test or the start names one)."""
        for spec in JOBS:
            try:
                await self.run_due(spec.name, now)
            except StoreStandby:
                return  # the standby centre runs no jobs until it is promoted
            except StoreError as exc:
                log.warning("job %s not claimed now (%s): the next sweep tries again", spec.name, exc)

    async def run_due(self, name: str, now: datetime | None = None) -> tuple[str, str] | None:
        """Run a job's latest fire time (within its grace time) if this process claims it
        first: (outcome, detail), or None when another process (or an earlier run here)
        handled that fire time."""
        spec = _spec(name)
        due = last_fire(spec.trigger, now or datetime.now(UTC), timedelta(seconds=spec.grace_seconds))
        if due is None:
            return None
        if not await self._store.scheduler.claim_fire(name, _stamp(due)):
            log.debug("job %s of %s: handled already (here, or by another process of this centre)", name, due)
            return None
        return await self.run_now(name)

    async def run_now(self, name: str) -> tuple[str, str]:
        """Run a job at once and record it: (outcome, detail)."""
        if name not in _FUNCTIONS:
            raise NotFound(f"unknown job {name!r} (one of {', '.join(_FUNCTIONS)})", field="job")
        clock = self._runtime.clock
        run_id = await self._store.scheduler.start_job(name, iso_now(clock))
        try:
            detail = await _FUNCTIONS[name](self._runtime)
            outcome = "ok"
        except asyncio.CancelledError:
            # Stopped during the run (a shutdown): recorded as such, never left "running".
            await self._store.scheduler.finish_job(run_id, iso_now(clock), "failed",
                                                   "cancelled: the process stopped during the run")
            self._runtime.metrics.job_ran(name, "failed")
            raise
        except Exception as exc:
            log.exception("job %s failed", name)
            outcome, detail = "failed", str(exc) or exc.__class__.__name__
        await self._store.scheduler.finish_job(run_id, iso_now(clock), outcome, detail)
        self._runtime.metrics.job_ran(name, outcome)
        return outcome, detail

    async def jobs(self) -> list[JobView]:
        last: dict[str, JobRun] = {}
        for past in await self._store.scheduler.job_runs(200):
            last.setdefault(past.job, past)
        out = []
        for spec in JOBS:
            job = self._scheduler.get_job(spec.name) if self._scheduler else None
            latest = last.get(spec.name)
            next_run = job.next_run_time if job else None
            if (job is not None or self._elsewhere) and not isinstance(self._runtime.clock, SystemClock):
                # On a training clock the next run is told on the centre's timeline (the
                # scheduler itself counts real time).
                next_run = spec.trigger.get_next_fire_time(None, self._runtime.clock.now().astimezone(TOKYO))
            elif job is None and self._elsewhere:
                next_run = spec.trigger.get_next_fire_time(None, datetime.now(TOKYO))
            out.append(JobView(spec.name, spec.description, next_run,
                               latest.outcome if latest else None, latest.detail if latest else "",
                               latest.started_at if latest else None))
        return out

    async def history(self, limit: int = 50) -> list[JobRun]:
        """Past runs, the latest first."""
        return await self._store.scheduler.job_runs(limit)
