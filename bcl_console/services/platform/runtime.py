"""The runtime: one object that owns the database, the keys and the services.

The console, ``serve``, every CLI command and the tests build it the same way:
``Runtime(settings)``, ``await start()``, use ``runtime.<service>``, ``await stop()``.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import stat
import time
from types import TracebackType
from typing import Protocol

from bcl_console.config import Settings, prepare_data_dir
from bcl_console.domain.terminals import COUNTER, MANAGE
from bcl_console.services.disaster.service import LedgerService
from bcl_console.services.issuance.monitor import MonitorService
from bcl_console.services.issuance.own_server import OwnServerClient
from bcl_console.services.issuance.pki import PkiService
from bcl_console.services.issuance.relay import RelayService
from bcl_console.services.issuance.residents import ResidentDirectory
from bcl_console.services.issuance.service import IssuanceService
from bcl_console.services.issuance.verification import VerificationService
from bcl_console.services.linkage.service import LinkageService
from bcl_console.services.manage.service import ManageService
from bcl_console.services.onboarding.layouts import LayoutService
from bcl_console.services.onboarding.municipalities import MunicipalityService
from bcl_console.services.onboarding.overview import OverviewService
from bcl_console.services.onboarding.service import OnboardingService
from bcl_console.services.onboarding.teststages import TestStageService
from bcl_console.services.onboarding.teststages.kit import Kit
from bcl_console.services.platform.centres import CentreService
from bcl_console.services.platform.clock import (
    Clock,
    OffsetClock,
    SystemClock,
    training_now,
)
from bcl_console.services.platform.datadir import recover_demo_swap, require_centre, restrict_files
from bcl_console.services.platform.events import EventBus
from bcl_console.services.platform.keys import KeyStore
from bcl_console.services.platform.logs import formatter as log_formatter
from bcl_console.services.platform.metrics import Metrics
from bcl_console.services.platform.scheduler import SchedulerService
from bcl_console.services.platform.terminals import TerminalService
from bcl_console.services.platform.tokens import TokenService
from bcl_console.services.settlement.service import SettlementService
from bcl_console.store import StoreStandby
from bcl_console.store.api import Store
from bcl_console.store.sqlite import SqliteDatabase, SqliteStore

log = logging.getLogger("bcl_console")


class Served(Protocol):
    """What the runtime knows of the HTTP API serving it: its address, and how to stop it."""

    @property
    def url(self) -> str: ...

    async def stop(self) -> None: ...


class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The log file, which never turns a failed write (a full disk) into a traceback on
    the terminal: the one-sentence error the command prints says what happened.

    Every record is written and flushed at once, as by the standard handler; what it
    saves is the standard ``shouldRollover``'s work per record (two ``stat`` calls, a
    second ``format``, a seek and a tell: a third of the cost of a relay request's access
    line). The file's size is kept here as lines are written and read again from the
    file itself at most every ``SIZE_RECHECK`` seconds, since other processes of the
    centre (CLI commands) append to the same file."""

    #: How often the size of the file is read again from the file (other writers).
    SIZE_RECHECK = 1.0

    _size = 0
    _regular = True
    _size_read_at = float("-inf")

    def _read_size(self) -> None:
        assert self.stream is not None
        st = os.fstat(self.stream.fileno())
        self._size = st.st_size
        self._regular = stat.S_ISREG(st.st_mode)  # never rotate anything but a file (bpo-45401)
        self._size_read_at = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            if self.stream is None:
                self.stream = self._open()
                self._read_size()
            elif time.monotonic() - self._size_read_at >= self.SIZE_RECHECK:
                self._read_size()
            length = len(line.encode("utf-8", "replace")) if not line.isascii() else len(line)
            if self.maxBytes > 0 and self._regular and self._size + length >= self.maxBytes and self._size > 0:
                self._read_size()  # another process may have rotated it already
                if self._size + length >= self.maxBytes and self._size > 0:
                    self.doRollover()
                    if self.stream is None:
                        self.stream = self._open()
                    self._read_size()
            self.stream.write(line)
            self.stream.flush()
            self._size += length
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

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
        #: The SQLite database itself (None on PostgreSQL): only the demo data set's bulk
        #: maker (demo/) writes through it; every service goes through ``store``.
        self.db: SqliteDatabase | None = None
        if settings.database_url:
            from bcl_console.store.pg.store import PgStore

            self.store: Store = PgStore(settings.database_url, settings.tmp_dir, peer_url=settings.peer_url)
        else:
            sqlite = SqliteStore(settings.db_path)
            self.store = sqlite
            self.db = sqlite.db
        self.keys = KeyStore(settings.keys_dir)
        #: What /metrics answers (this runtime's registry; every worker's under serve --workers).
        self.metrics = Metrics()
        self.municipalities = MunicipalityService(self.store, self.clock, self.bus)
        self.pki = PkiService(self.store, self.clock, settings.keys_dir)
        self.overview = OverviewService(self.store, self.clock)
        self.residents = ResidentDirectory(self.store)
        self.tokens = TokenService(self.store, self.clock)
        self.linkage = LinkageService(
            self.store, self.clock, self.bus, self.keys, settings, self.tokens, self.metrics
        )
        self.issuance = IssuanceService(
            self.store, self.clock, self.bus, self.keys, settings.data_dir, settings.documents_dir,
            workers=render_workers, metrics=self.metrics
        )
        #: Management terminals (管理端末) and what each may do for its own municipality.
        self.terminals = TerminalService(self.store, self.clock, self.bus, MANAGE)
        #: Counter terminals (らくらく窓口): the town hall counter's card issuance (/counter/v1).
        self.counters = TerminalService(self.store, self.clock, self.bus, COUNTER)
        self.manage = ManageService(self.store, self.clock, self.municipalities, self.linkage)
        self.verification = VerificationService(self.store, public_pem=self.keys.public_pem)
        self.monitor = MonitorService(self.store, self.clock, self.bus)
        self.settlement = SettlementService(self.store, self.clock)
        self.scheduler = SchedulerService(self, self.store)
        self.centres = CentreService(self.store, self.clock)
        self.own_server = OwnServerClient()
        self.relay = RelayService(
            self.store, self.clock, self.bus, self.pki, self.issuance, self.metrics, self.own_server
        )
        self.onboarding = OnboardingService(self.store, self.clock, self.bus)
        self.ledger = LedgerService(self.store, self.clock, self.bus)
        self.teststages = TestStageService(
            self.store, self.clock, self.bus, self.keys, settings.data_dir, settings.tmp_dir, self.pki,
            self.issuance, self.relay,
            self.verification, self.own_server,
        )
        #: Layout versions (法改正対応): staged, re-tested by the centre, activated.
        self.layouts = LayoutService(Kit(
            self.store, self.clock, self.bus, self.keys, settings.data_dir, settings.tmp_dir, self.pki,
            self.issuance, self.relay, self.verification, self.own_server))
        self.http: Served | None = None
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
            require_centre(self.settings.data_dir, self.settings.database_url)
        on_server = bool(self.settings.database_url)
        # What is logged before the log file exists (opening a PostgreSQL centre's database:
        # a centre found fenced, a peer that cannot be asked) is kept, then written to it.
        early = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
        log.addHandler(early)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)
        try:
            if on_server:
                # A PostgreSQL centre's database is reached (and migrated) before anything is
                # made in the data directory: an unreachable server, wrong credentials or a
                # newer schema leave nothing behind, neither directory nor keys (contract §10).
                self.schema_versions = await self.store.open(target_version=target_version)
            # Everything the centre writes is its own: the database, its journal, documents,
            # backups and logs are 0600 in 0700 directories, whoever's umask started us.
            os.umask(0o077)
            prepare_data_dir(self.settings.data_dir)
            self._start_logging()
            early.setTarget(self._log_handler)
            early.flush()
        finally:
            log.removeHandler(early)
            early.close()
        self.keys.ensure()
        self.pki.ensure()
        self.bus.bind(asyncio.get_running_loop())
        if not on_server:
            self.schema_versions = await self.store.open(target_version=target_version)
        if self.store.channel is not None:  # live across processes (contract §10)
            await self.bus.share(self.store.channel)
        before, after = self.schema_versions
        if before != after:
            log.info("database migrated from schema %d to %d", before, after)
        await asyncio.to_thread(restrict_files, self.settings.data_dir)
        await self.linkage.recover_backups()
        try:
            await self.linkage.maintain_journal()
        except StoreStandby:  # the standby centre: its database is the active centre's copy
            log.info("this centre is the standby: start-time upkeep is the active centre's")
        await self.issuance.start()
        self._started = True

    async def stop(self) -> None:
        """Stop serving, close the database; safe to call twice."""
        await self.stop_http()
        await self.scheduler.stop()
        await self.own_server.close()
        await self.issuance.stop()
        await self.bus.unshare()
        await self.store.close()
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
        handler.setFormatter(log_formatter(self.settings.log_format))
        log.addHandler(handler)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)
        self._log_handler = handler

    def serving(self, server: Served) -> None:
        """Record the HTTP API serving this runtime (the http package starts it; the
        console and ``serve`` do so): screens show its address, ``stop`` stops it first."""
        self.http = server
        log.info("HTTP API listening on %s", server.url)

    async def stop_http(self) -> None:
        if self.http is not None:
            server, self.http = self.http, None
            await server.stop()
