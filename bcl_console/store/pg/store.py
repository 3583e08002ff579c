"""``Store`` on PostgreSQL: the same areas as ``store/sqlite.py``, over one asyncpg pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
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
from bcl_console.store.pg.audit import PgAudit
from bcl_console.store.pg.cards import PgCards
from bcl_console.store.pg.centre import PgCentre, fence_against
from bcl_console.store.pg.db import PgDatabase
from bcl_console.store.pg.disasters import PgDisaster
from bcl_console.store.pg.files import PgFiles
from bcl_console.store.pg.issuances import PgIssuances
from bcl_console.store.pg.jobs import PgScheduler
from bcl_console.store.pg.layouts import PgLayouts
from bcl_console.store.pg.limits import PgLimits
from bcl_console.store.pg.linkage import PgLinkage
from bcl_console.store.pg.manage import PgManage
from bcl_console.store.pg.monitor import PgMonitor
from bcl_console.store.pg.municipalities import PgMunicipalities
from bcl_console.store.pg.notify import PgChannel
from bcl_console.store.pg.onboarding import PgOnboarding
from bcl_console.store.pg.overview import PgOverview
from bcl_console.store.pg.relay import PgRelay
from bcl_console.store.pg.residents import PgResidents
from bcl_console.store.pg.settlement import PgSettlement
from bcl_console.store.pg.terminals import PgTerminals
from bcl_console.store.pg.teststages import PgTestStages
from bcl_console.store.pg.tokens import PgTokens

log = logging.getLogger(__name__)

#: How often a centre that knows the other's database asks it whether it was promoted.
PEER_CHECK_SECONDS = 5.0

class PgStore:
    """``Store`` on one PostgreSQL database (contract §10); ``tmp_dir`` is where a backup
    read back is spilled while it is decrypted (the data directory's tmp/)."""

    def __init__(self, url: str, tmp_dir: Path | None = None, *, peer_url: str | None = None) -> None:
        self.db = PgDatabase(url)
        self._peer_url = peer_url
        self._watch: asyncio.Task[None] | None = None
        self.files: FileStore = PgFiles(self.db, tmp_dir or Path(tempfile.gettempdir()))
        self.centre: CentreStore = PgCentre(self.db)
        self.limits: LimitStore = PgLimits(self.db)
        self.tokens: TokenStore = PgTokens(self.db)
        self.scheduler: SchedulerStore = PgScheduler(self.db)
        self.disaster: DisasterStore = PgDisaster(self.db)
        self.audit: AuditStore = PgAudit(self.db)
        self.municipalities: MunicipalityStore = PgMunicipalities(self.db)
        self.overview: OverviewStore = PgOverview(self.db)
        self.residents: ResidentStore = PgResidents(self.db)
        self.onboarding: OnboardingStore = PgOnboarding(self.db)
        self.settlement: SettlementStore = PgSettlement(self.db)
        self.monitor: MonitorStore = PgMonitor(self.db)
        self.linkage: LinkageStore = PgLinkage(self.db)
        self.issuances: IssuanceStore = PgIssuances(self.db)
        self.cards: CardStore = PgCards(self.db)
        self.relay: RelayStore = PgRelay(self.db)
        self.teststages: TestStageStore = PgTestStages(self.db)
        self.manage: ManageStore = PgManage(self.db)
        self.terminals: TerminalStore = PgTerminals(self.db)
        self.layouts: LayoutStore = PgLayouts(self.db)
        self.channel: EventChannel | None = PgChannel(url)

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        versions = await self.db.open(target_version=target_version)
        if self._peer_url and not self.db.standby:
            await fence_against(self.db, self._peer_url)
        if self._peer_url:
            self._watch = asyncio.create_task(self._watch_peer(self._peer_url), name="bcl-peer-watch")
        return versions

    async def _watch_peer(self, peer_url: str) -> None:
        """Ask the other centre again every ``PEER_CHECK_SECONDS`` while this one may
        write: a centre that ran on through a promotion of the other (a network cut
        between them, a server that came back under a running serve) is fenced within
        seconds instead of at its next start."""
        while True:
            await asyncio.sleep(PEER_CHECK_SECONDS)
            if self.db.fenced is None and not self.db.standby:
                try:
                    await fence_against(self.db, peer_url, quiet=True)
                except Exception:  # noqa: BLE001 - a failed check is tried again; it must not end the loop
                    log.warning("the check of the other centre failed", exc_info=True)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self.channel is not None:
            await self.channel.close()
        await self.db.close()
