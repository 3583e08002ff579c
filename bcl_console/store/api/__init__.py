"""The store's boundary: what services may ask of a database, as typed protocols.

Services hold a ``Store`` and call ``store.<area>.<fact>(…)``; each fact is one
transaction inside the store. ``store/sqlite.py`` is the embedded implementation; a
second one (PostgreSQL) satisfies the same protocols. No service sees a connection, a
cursor, SQL or an engine's exceptions: the records below, ``StoreError`` and its
subclasses (``StorageFull``), and the domain's errors are all that cross this line.

One section per area, in the order of ``Store``'s attributes.
"""

from __future__ import annotations

from typing import Protocol

from bcl_console.store.api.audit import (
    AuditEntry as AuditEntry,
)
from bcl_console.store.api.audit import (
    AuditStore as AuditStore,
)
from bcl_console.store.api.centre import (
    CentreState as CentreState,
)
from bcl_console.store.api.centre import (
    CentreStore as CentreStore,
)
from bcl_console.store.api.centre import (
    ReplicationState as ReplicationState,
)
from bcl_console.store.api.disaster import (
    APPLICATION_COLUMNS as APPLICATION_COLUMNS,
)
from bcl_console.store.api.disaster import (
    LEDGER_COLUMNS as LEDGER_COLUMNS,
)
from bcl_console.store.api.disaster import (
    SUPPORT_COLUMNS as SUPPORT_COLUMNS,
)
from bcl_console.store.api.disaster import (
    Assessment as Assessment,
)
from bcl_console.store.api.disaster import (
    AssessmentCheck as AssessmentCheck,
)
from bcl_console.store.api.disaster import (
    AssessmentRevision as AssessmentRevision,
)
from bcl_console.store.api.disaster import (
    CheckedAssessment as CheckedAssessment,
)
from bcl_console.store.api.disaster import (
    CheckIn as CheckIn,
)
from bcl_console.store.api.disaster import (
    CheckOut as CheckOut,
)
from bcl_console.store.api.disaster import (
    DisasterRow as DisasterRow,
)
from bcl_console.store.api.disaster import (
    DisasterState as DisasterState,
)
from bcl_console.store.api.disaster import (
    DisasterStore as DisasterStore,
)
from bcl_console.store.api.disaster import (
    HelpEntry as HelpEntry,
)
from bcl_console.store.api.disaster import (
    ImportCheck as ImportCheck,
)
from bcl_console.store.api.disaster import (
    LedgerEntry as LedgerEntry,
)
from bcl_console.store.api.disaster import (
    OnlineApplication as OnlineApplication,
)
from bcl_console.store.api.disaster import (
    ReportDate as ReportDate,
)
from bcl_console.store.api.disaster import (
    ShelterPerson as ShelterPerson,
)
from bcl_console.store.api.disaster import (
    ShelterRow as ShelterRow,
)
from bcl_console.store.api.disaster import (
    SupportApplication as SupportApplication,
)
from bcl_console.store.api.disaster import (
    VictimReport as VictimReport,
)
from bcl_console.store.api.events import (
    EventChannel as EventChannel,
)
from bcl_console.store.api.files import (
    FileStore as FileStore,
)
from bcl_console.store.api.issuance import (
    CardRecord as CardRecord,
)
from bcl_console.store.api.issuance import (
    CardStore as CardStore,
)
from bcl_console.store.api.issuance import (
    CertificateSource as CertificateSource,
)
from bcl_console.store.api.issuance import (
    ChallengeRecord as ChallengeRecord,
)
from bcl_console.store.api.issuance import (
    IdempotentRequest as IdempotentRequest,
)
from bcl_console.store.api.issuance import (
    IssuanceRecord as IssuanceRecord,
)
from bcl_console.store.api.issuance import (
    IssuanceStore as IssuanceStore,
)
from bcl_console.store.api.issuance import (
    IssuedDocumentPath as IssuedDocumentPath,
)
from bcl_console.store.api.issuance import (
    RelayStore as RelayStore,
)
from bcl_console.store.api.issuance import (
    Route as Route,
)
from bcl_console.store.api.issuance import (
    SessionRecord as SessionRecord,
)
from bcl_console.store.api.layouts import (
    LayoutRow as LayoutRow,
)
from bcl_console.store.api.layouts import (
    LayoutStore as LayoutStore,
)
from bcl_console.store.api.layouts import (
    RetestRecord as RetestRecord,
)
from bcl_console.store.api.limits import (
    LimitStore as LimitStore,
)
from bcl_console.store.api.linkage import (
    BackupRecord as BackupRecord,
)
from bcl_console.store.api.linkage import (
    BatchArrival as BatchArrival,
)
from bcl_console.store.api.linkage import (
    BatchLoad as BatchLoad,
)
from bcl_console.store.api.linkage import (
    BatchOutcome as BatchOutcome,
)
from bcl_console.store.api.linkage import (
    BatchRecord as BatchRecord,
)
from bcl_console.store.api.linkage import (
    Chunk as Chunk,
)
from bcl_console.store.api.linkage import (
    HeldData as HeldData,
)
from bcl_console.store.api.linkage import (
    HeldTotals as HeldTotals,
)
from bcl_console.store.api.linkage import (
    LinkageRow as LinkageRow,
)
from bcl_console.store.api.linkage import (
    LinkageStore as LinkageStore,
)
from bcl_console.store.api.linkage import (
    RejectedRecord as RejectedRecord,
)
from bcl_console.store.api.linkage import (
    RestoreStep as RestoreStep,
)
from bcl_console.store.api.manage import (
    DayIssuance as DayIssuance,
)
from bcl_console.store.api.manage import (
    DayIssuances as DayIssuances,
)
from bcl_console.store.api.manage import (
    ManageStore as ManageStore,
)
from bcl_console.store.api.monitor import (
    FeedRow as FeedRow,
)
from bcl_console.store.api.monitor import (
    MonitorRecords as MonitorRecords,
)
from bcl_console.store.api.monitor import (
    MonitorStore as MonitorStore,
)
from bcl_console.store.api.municipalities import (
    Control as Control,
)
from bcl_console.store.api.municipalities import (
    FeeControl as FeeControl,
)
from bcl_console.store.api.municipalities import (
    Fees as Fees,
)
from bcl_console.store.api.municipalities import (
    HoursControl as HoursControl,
)
from bcl_console.store.api.municipalities import (
    LastLinkage as LastLinkage,
)
from bcl_console.store.api.municipalities import (
    MunicipalityStore as MunicipalityStore,
)
from bcl_console.store.api.municipalities import (
    OverviewRecords as OverviewRecords,
)
from bcl_console.store.api.municipalities import (
    OverviewStore as OverviewStore,
)
from bcl_console.store.api.municipalities import (
    SuspensionControl as SuspensionControl,
)
from bcl_console.store.api.onboarding import (
    OnboardingStore as OnboardingStore,
)
from bcl_console.store.api.onboarding import (
    PlanRecord as PlanRecord,
)
from bcl_console.store.api.onboarding import (
    PlanRequest as PlanRequest,
)
from bcl_console.store.api.onboarding import (
    PlanRow as PlanRow,
)
from bcl_console.store.api.onboarding import (
    Reminder as Reminder,
)
from bcl_console.store.api.onboarding import (
    StageRun as StageRun,
)
from bcl_console.store.api.onboarding import (
    StepRow as StepRow,
)
from bcl_console.store.api.residents import (
    HeldCounts as HeldCounts,
)
from bcl_console.store.api.residents import (
    ResidentStore as ResidentStore,
)
from bcl_console.store.api.scheduler import (
    JobRun as JobRun,
)
from bcl_console.store.api.scheduler import (
    SchedulerStore as SchedulerStore,
)
from bcl_console.store.api.settlement import (
    Group as Group,
)
from bcl_console.store.api.settlement import (
    SettlementStore as SettlementStore,
)
from bcl_console.store.api.settlement import (
    StatementInputs as StatementInputs,
)
from bcl_console.store.api.terminals import (
    TerminalRecord as TerminalRecord,
)
from bcl_console.store.api.terminals import (
    TerminalStore as TerminalStore,
)
from bcl_console.store.api.teststages import (
    TestStageStore as TestStageStore,
)
from bcl_console.store.api.tokens import (
    TokenStore as TokenStore,
)


class Store(Protocol):
    """One centre's database. Areas are attributes, one per centre function."""

    tokens: TokenStore
    scheduler: SchedulerStore
    disaster: DisasterStore
    audit: AuditStore
    municipalities: MunicipalityStore
    overview: OverviewStore
    residents: ResidentStore
    onboarding: OnboardingStore
    settlement: SettlementStore
    monitor: MonitorStore
    linkage: LinkageStore
    issuances: IssuanceStore
    cards: CardStore
    relay: RelayStore
    teststages: TestStageStore
    manage: ManageStore
    terminals: TerminalStore
    #: Events to and from the other processes on the same database, where the engine can.
    channel: EventChannel | None
    layouts: LayoutStore
    #: The issued documents and the linkage backups.
    files: FileStore
    #: This centre's role among the two (contract §11).
    centre: CentreStore
    #: The per-address limits of the routes anyone may call.
    limits: LimitStore

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        """Open and migrate; the schema versions before and after."""
        ...

    async def close(self) -> None: ...
