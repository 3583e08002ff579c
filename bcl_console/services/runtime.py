"""The runtime: one object that owns the database, the keys and the services.

The console, ``serve``, every CLI command and the tests build it the same way:
``Runtime(settings)``, ``await start()``, use ``runtime.<service>``, ``await stop()``.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
from types import TracebackType

from bcl_console.config import Settings, prepare_data_dir
from bcl_console.services import demo_disaster, demo_onboarding
from bcl_console.services.clock import Clock, OffsetClock, SystemClock
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
from bcl_console.services.scheduler import SchedulerService
from bcl_console.services.settlement import SettlementService
from bcl_console.services.teststages import TestStageService
from bcl_console.services.tokens import TokenService
from bcl_console.services.verification import VerificationService
from bcl_console.services.web import HttpServer
from bcl_console.store import Database

log = logging.getLogger("bcl_console")


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None, *, render_workers: int = 0) -> None:
        self.settings = settings
        if clock is None:
            clock = OffsetClock(settings.now) if settings.now else SystemClock()
        self.clock: Clock = clock
        self.bus = EventBus()
        self.db = Database(settings.db_path)
        self.keys = KeyStore(settings.keys_dir)
        self.municipalities = MunicipalityService(self.db, self.clock, self.bus)
        self.pki = PkiService(self.db, self.clock, settings.keys_dir)
        self.demo = DemoService(self.db, self.clock, self.bus, self.pki, settings.data_dir / "cards")
        self.overview = OverviewService(self.db, self.clock)
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

    async def start(self, *, target_version: int | None = None) -> None:
        """Create the data directory and keys if needed, open and migrate the database."""
        prepare_data_dir(self.settings.data_dir)
        self._start_logging()
        self.keys.ensure()
        self.pki.ensure()
        self.bus.bind(asyncio.get_running_loop())
        self.schema_versions = await self.db.open(target_version=target_version)
        before, after = self.schema_versions
        if before != after:
            log.info("database migrated from schema %d to %d", before, after)
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
        handler = logging.handlers.RotatingFileHandler(
            logs / "bcl-console.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)
        self._log_handler = handler

    async def start_http(self, host: str | None = None, port: int | None = None) -> HttpServer:
        """Serve the HTTP API (healthz, relay, linkage) on this loop."""
        if self.http is None:
            self.http = await HttpServer.start(
                self,
                host or self.settings.host,
                self.settings.port if port is None else port,
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
