"""The runtime: one object that owns the database, the keys and the services.

The console, ``serve``, every CLI command and the tests build it the same way:
``Runtime(settings)``, ``await start()``, use ``runtime.<service>``, ``await stop()``.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import shutil
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from bcl_console.config import ConfigError, Settings, prepare_data_dir
from bcl_console.services import demo_disaster, demo_onboarding
from bcl_console.services.clock import (
    Clock,
    OffsetClock,
    SystemClock,
    set_training_clock,
    training_now,
)
from bcl_console.services.demo import DemoService, DemoSummary, ProgressFn
from bcl_console.services.events import EventBus
from bcl_console.services.issuance import IssuanceService
from bcl_console.services.keys import KeyStore
from bcl_console.services.ledger import LedgerService
from bcl_console.services.linkage import LinkageService
from bcl_console.services.metrics import Metrics
from bcl_console.services.monitor import MonitorService
from bcl_console.services.municipalities import MunicipalityService
from bcl_console.services.onboarding import OnboardingService
from bcl_console.services.overview import OverviewService
from bcl_console.services.own_server import OwnServerClient
from bcl_console.services.pki import PkiService
from bcl_console.services.relay import RelayService
from bcl_console.services.residents import ResidentDirectory
from bcl_console.services.scheduler import SchedulerService
from bcl_console.services.settlement import SettlementService
from bcl_console.services.teststages import TestStageService
from bcl_console.services.tokens import TokenService
from bcl_console.services.verification import VerificationService
from bcl_console.services.web import IDLE_TIMEOUT, HttpServer
from bcl_console.store import Database
from bcl_console.store.db import DB_FILENAME

log = logging.getLogger("bcl_console")


def holds_centre(data_dir: Path) -> bool:
    """Whether a data directory holds a centre: a database file that is not empty."""
    db = data_dir / DB_FILENAME
    try:
        return db.is_file() and db.stat().st_size > 0
    except OSError:
        return False


def require_centre(data_dir: Path) -> None:
    """A ConfigError naming the directory when it holds no centre (contract §1)."""
    if not holds_centre(data_dir):
        raise ConfigError(f"data directory {data_dir} holds no centre; make one with "
                          f"`bcl-console init --data-dir {data_dir}` (or `bcl-console demo`)")


def restrict_files(data_dir: Path) -> None:
    """Make every file of the data directory 0600 and every directory 0700 (a directory
    made by an older version, or files copied in, may be readable by others). Done once
    per directory: a marker file records it, later starts touch only the database files."""
    marker = data_dir / ".private"
    for name in (DB_FILENAME, f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm"):
        _chmod(data_dir / name, 0o600)
    if marker.exists():
        return
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _chmod(Path(root) / name, 0o700)
        for name in files:
            _chmod(Path(root) / name, 0o600)
    try:
        marker.touch(mode=0o600)
    except OSError:
        pass  # a full disk: done again at the next start


def _chmod(path: Path, mode: int) -> None:
    try:
        if not path.is_symlink() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError:
        pass  # vanished meanwhile, or not ours: nothing to tighten


class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The log file, which never turns a failed write (a full disk) into a traceback on
    the terminal: the one-sentence error the command prints says what happened."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        return None


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None, *, render_workers: int = 0) -> None:
        self.settings = settings
        #: Whether the centre runs on a training clock (--now, or the directory's own).
        self.training = clock is None and settings.now is not None
        if clock is None:
            directory_now = None if settings.now else training_now(settings.data_dir)
            self.training = self.training or directory_now is not None
            start = settings.now or directory_now
            clock = OffsetClock(start) if start else SystemClock()
        self.clock: Clock = clock
        self.bus = EventBus()
        self.db = Database(settings.db_path)
        self.keys = KeyStore(settings.keys_dir)
        self.municipalities = MunicipalityService(self.db, self.clock, self.bus)
        self.pki = PkiService(self.db, self.clock, settings.keys_dir)
        self.demo = DemoService(self.db, self.clock, self.bus, self.pki, settings.data_dir / "cards")
        self.overview = OverviewService(self.db, self.clock)
        self.residents = ResidentDirectory(self.db)
        self.tokens = TokenService(self.db, self.clock)
        self.linkage = LinkageService(
            self.db, self.clock, self.bus, self.keys, settings.data_dir, self.tokens
        )
        self.issuance = IssuanceService(
            self.db, self.clock, self.bus, self.keys, settings.data_dir, workers=render_workers
        )
        self.verification = VerificationService(self.db, self.keys)
        self.metrics = Metrics()
        self.monitor = MonitorService(self.db, self.clock, self.bus)
        self.settlement = SettlementService(self.db, self.clock)
        self.scheduler = SchedulerService(self)
        self.own_server = OwnServerClient()
        self.relay = RelayService(
            self.db, self.clock, self.bus, self.pki, self.issuance, self.metrics, self.own_server
        )
        self.onboarding = OnboardingService(self.db, self.clock, self.bus)
        self.ledger = LedgerService(self.db, self.clock, self.bus)
        self.teststages = TestStageService(
            self.db, self.clock, self.bus, self.keys, settings.data_dir, self.pki, self.issuance, self.relay,
            self.verification, self.own_server,
        )
        self.http: HttpServer | None = None
        self.schema_versions: tuple[int, int] = (0, 0)
        self._log_handler: logging.Handler | None = None
        self._started = False

    async def start(self, *, target_version: int | None = None, create: bool = True) -> None:
        """Open and migrate the centre's database. With ``create`` (the console, ``demo``,
        ``init``, tests) a missing centre is made: the directory, keys and database; without
        it a directory that holds no centre is a ConfigError naming it (contract §1)."""
        try:
            await self._start(target_version, create)
        except BaseException:
            # A half-started runtime holds threads (the database's) that keep the process
            # alive for ever: whatever failed, what was started is stopped.
            await self.stop()
            raise

    async def _start(self, target_version: int | None, create: bool) -> None:
        await asyncio.to_thread(recover_demo_swap, self.settings.data_dir)
        if not create:
            require_centre(self.settings.data_dir)
        # Everything the centre writes is its own: the database, its journal, documents,
        # backups and logs are 0600 in 0700 directories, whoever's umask started us.
        os.umask(0o077)
        prepare_data_dir(self.settings.data_dir)
        self._start_logging()
        self.keys.ensure()
        self.pki.ensure()
        self.bus.bind(asyncio.get_running_loop())
        self.schema_versions = await self.db.open(target_version=target_version)
        before, after = self.schema_versions
        if before != after:
            log.info("database migrated from schema %d to %d", before, after)
        await asyncio.to_thread(restrict_files, self.settings.data_dir)
        await self.linkage.recover_backups()
        await self.linkage.maintain_journal()
        await self.issuance.start()
        self._started = True

    async def stop(self) -> None:
        """Stop serving, close the database; safe to call twice."""
        await self.stop_http()
        await self.scheduler.stop()
        await self.own_server.close()
        await self.issuance.stop()
        await self.db.close()
        if self._started:
            log.info("stopped: HTTP API, scheduler and database closed")
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        self._started = False

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _start_logging(self) -> None:
        logs = self.settings.logs_dir
        logs.mkdir(parents=True, exist_ok=True)
        handler = QuietRotatingFileHandler(
            logs / "bcl-console.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)
        self._log_handler = handler

    async def start_http(self, host: str | None = None, port: int | None = None, *,
                         idle_timeout: float = IDLE_TIMEOUT) -> HttpServer:
        """Serve the HTTP API (healthz, relay, linkage) on this loop."""
        if self.http is None:
            self.http = await HttpServer.start(
                self,
                host or self.settings.host,
                self.settings.port if port is None else port,
                idle_timeout=idle_timeout,
            )
            log.info("HTTP API listening on %s", self.http.url)
        return self.http

    async def stop_http(self) -> None:
        if self.http is not None:
            server, self.http = self.http, None
            await server.stop()

    async def make_demo(self, seed: int, *, residents: int | None = None,
                        progress: ProgressFn | None = None) -> DemoSummary:
        """The demo data set, then its onboarding story played through the real services."""
        summary = await self.demo.create(seed, residents=residents, progress=progress)
        if progress is not None:
            progress("onboarding", 0, 1)
        await demo_onboarding.play(self)
        await demo_disaster.play(self, seed)
        if progress is not None:
            progress("onboarding", 1, 1)
        return summary

    async def ensure_demo(self) -> DemoSummary | None:
        """Make the demo data set if the database holds no municipality yet."""
        if await self.demo.is_empty():
            return await self.make_demo(self.settings.demo_seed)
        return None


#: What a demo data set consists of in a data directory, besides its keys; the log and
#: the temporary files stay where they are.
_DEMO_ENTRIES = (DB_FILENAME, "cards", "documents", "backups", "linkage", "statements", "scheduler.sqlite3")


async def remake_demo(settings: Settings, seed: int, *, residents: int | None = None,
                      progress: ProgressFn | None = None, clock: Clock | None = None) -> DemoSummary:
    """`bcl-console demo`: the new data set is made whole in a staging directory inside the
    data directory (with the centre's own keys), then swapped in by renames. If anything
    fails on the way — a full disk above all — the staging directory is removed and the
    previous centre is left exactly as it was."""
    data_dir = settings.data_dir
    os.umask(0o077)
    prepare_data_dir(data_dir)
    if settings.now is None and clock is None:  # the directory's training clock, if it has one
        directory_now = training_now(data_dir)
        if directory_now is not None:
            settings = replace(settings, now=directory_now)
    staging = data_dir / ".demo-staging"
    await asyncio.to_thread(shutil.rmtree, staging, True)
    try:
        staging.mkdir(mode=0o700)
        if settings.keys_dir.is_dir():
            await asyncio.to_thread(shutil.copytree, settings.keys_dir, staging / "keys")
        runtime = Runtime(replace(settings, data_dir=staging), clock=clock)
        await runtime.start()
        try:
            summary = await runtime.make_demo(seed, residents=residents, progress=progress)
        finally:
            await runtime.stop()
        await asyncio.to_thread(_swap_in, staging, data_dir)
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)
    if settings.now is not None:  # `demo --now`: the whole directory lives at that time from now on
        set_training_clock(data_dir, settings.now)
    return summary


def recover_demo_swap(data_dir: Path) -> None:
    """A `demo` cut off between moving the previous set aside and moving the new one in
    leaves the directory without a database: the previous set is moved back (the
    half-made new one is dropped), so the centre is as it was before that `demo`."""
    old = data_dir / ".demo-previous"
    if not (old / DB_FILENAME).is_file() or (data_dir / DB_FILENAME).exists():
        return
    for name in [f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm", *_DEMO_ENTRIES]:
        if (old / name).exists() and not (data_dir / name).exists():
            os.replace(old / name, data_dir / name)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(data_dir / ".demo-staging", ignore_errors=True)
    log.warning("an interrupted demo was undone: the previous data set of %s is back", data_dir)


def _swap_in(staging: Path, data_dir: Path) -> None:
    """Move the previous data set aside, the new one in, then drop the previous one. The
    database goes first with its journal files, so the new database never meets the old
    one's write-ahead log."""
    old = data_dir / ".demo-previous"
    shutil.rmtree(old, ignore_errors=True)
    old.mkdir(mode=0o700)
    names = [f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm", *_DEMO_ENTRIES]
    for name in names:
        if (data_dir / name).exists():
            os.replace(data_dir / name, old / name)
    for name in names:
        if (staging / name).exists():
            os.replace(staging / name, data_dir / name)
    if not (data_dir / "keys").exists():
        os.replace(staging / "keys", data_dir / "keys")
    shutil.rmtree(old, ignore_errors=True)
