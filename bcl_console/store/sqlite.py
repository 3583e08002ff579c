"""The embedded store: SQLite through one writer and a pool of readers (``db.Database``),
with each area's facts as async methods over it."""

from __future__ import annotations

from pathlib import Path

from bcl_console.store.api import (
    AuditStore,
    CardStore,
    CentreStore,
    DisasterStore,
    EventChannel,
    FileStore,
    IssuanceStore,
    LayoutStore,
    LimitStore,
    LinkageStore,
    ManageStore,
    MonitorStore,
    MunicipalityStore,
    OnboardingStore,
    OverviewStore,
    RelayStore,
    ResidentStore,
    SchedulerStore,
    SettlementStore,
    TerminalStore,
    TestStageStore,
    TokenStore,
)
from bcl_console.store.audit import SqliteAudit
from bcl_console.store.cards import SqliteCards
from bcl_console.store.centre import SqliteCentre
from bcl_console.store.db import Database
from bcl_console.store.db import Database as SqliteDatabase  # noqa: F401 - what the runtime names

__all__ = ["SqliteDatabase", "SqliteStore"]
from bcl_console.store.disasters import SqliteDisaster
from bcl_console.store.files import LocalFiles
from bcl_console.store.issuances import SqliteIssuances
from bcl_console.store.jobs import SqliteScheduler
from bcl_console.store.layouts import SqliteLayouts
from bcl_console.store.limits import MemoryLimits
from bcl_console.store.linkage import SqliteLinkage
from bcl_console.store.manage import SqliteManage
from bcl_console.store.monitor import SqliteMonitor
from bcl_console.store.municipalities import SqliteMunicipalities
from bcl_console.store.onboarding import SqliteOnboarding
from bcl_console.store.overview import SqliteOverview
from bcl_console.store.relay import SqliteRelay
from bcl_console.store.residents import SqliteResidents
from bcl_console.store.settlement import SqliteSettlement
from bcl_console.store.terminals import SqliteTerminals
from bcl_console.store.teststages import SqliteTestStages
from bcl_console.store.tokens import SqliteTokens


class SqliteStore:
    """``Store`` on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path)
        self.files: FileStore = LocalFiles(path.parent)
        self.centre: CentreStore = SqliteCentre()
        self.limits: LimitStore = MemoryLimits()  # one process serves a SQLite centre
        self.tokens: TokenStore = SqliteTokens(self.db)
        self.scheduler: SchedulerStore = SqliteScheduler(self.db)
        self.disaster: DisasterStore = SqliteDisaster(self.db)
        self.audit: AuditStore = SqliteAudit(self.db)
        self.municipalities: MunicipalityStore = SqliteMunicipalities(self.db)
        self.overview: OverviewStore = SqliteOverview(self.db)
        self.residents: ResidentStore = SqliteResidents(self.db)
        self.onboarding: OnboardingStore = SqliteOnboarding(self.db)
        self.settlement: SettlementStore = SqliteSettlement(self.db)
        self.monitor: MonitorStore = SqliteMonitor(self.db)
        self.linkage: LinkageStore = SqliteLinkage(self.db)
        self.issuances: IssuanceStore = SqliteIssuances(self.db)
        self.cards: CardStore = SqliteCards(self.db)
        self.relay: RelayStore = SqliteRelay(self.db)
        self.teststages: TestStageStore = SqliteTestStages(self.db)
        self.manage: ManageStore = SqliteManage(self.db)
        self.terminals: TerminalStore = SqliteTerminals(self.db)
        self.layouts: LayoutStore = SqliteLayouts(self.db)
        self.channel: EventChannel | None = None

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        return await self.db.open(target_version=target_version)

    async def close(self) -> None:
        await self.db.close()
