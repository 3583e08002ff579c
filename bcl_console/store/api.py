"""The store's boundary: what services may ask of a database, as typed protocols.

Services hold a ``Store`` and call ``store.<area>.<fact>(…)``; each fact is one
transaction inside the store. ``store/sqlite.py`` is the embedded implementation; a
second one (PostgreSQL) satisfies the same protocols. No service sees a connection, a
cursor, SQL or an engine's exceptions: the records below, ``StoreError`` and its
subclasses (``StorageFull``), and the domain's errors are all that cross this line.

One section per area, in the order of ``Store``'s attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from bcl_console.domain.linkage import Manifest, Problem, Problems
from bcl_console.domain.municipality import CertificateType, Municipality, ServiceHours
from bcl_console.domain.onboarding import Outcome, Stage, Template
from bcl_console.domain.resident import Resident

T = TypeVar("T")

# --- audit: written inside the facts it records, read by the console -----------------


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    interface: str
    municipality_code: str | None
    action: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None

    def was(self, old_value: str | None) -> AuditEntry:
        """This entry with the old value a fact read inside its transaction."""
        return replace(self, old_value=old_value)


class AuditStore(Protocol):
    async def audit_trail(self, municipality_code: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest control changes first (of one municipality, or all)."""
        ...


# --- tokens ---------------------------------------------------------------------------


class TokenStore(Protocol):
    async def issue_token(self, kind: str, subject: str, token_sha256: str, audit: AuditEntry, *,
                          must_be_municipality: bool) -> None:
        """Record a token (its hash only) and its audit line; NotFound when the subject
        must be a registered municipality and is not."""
        ...

    async def token_subject(self, kind: str, token_sha256: str) -> str | None: ...

    async def token_subjects(self, kind: str) -> list[str]:
        """Everyone holding a valid token of a kind, in the order first registered."""
        ...


# --- municipalities -------------------------------------------------------------------

Fees = dict[CertificateType, int]


@dataclass(frozen=True)
class HoursControl:
    hours: ServiceHours

    def current(self, m: Municipality, fees: Fees) -> str:
        return f"{m.hours.open}-{m.hours.close}"


@dataclass(frozen=True)
class SuspensionControl:
    suspended: bool
    reason: str | None

    def current(self, m: Municipality, fees: Fees) -> str:
        return f"suspended: {m.suspension_reason}" if m.suspended else "running"


@dataclass(frozen=True)
class FeeControl:
    cert_type: CertificateType
    yen: int

    def current(self, m: Municipality, fees: Fees) -> str:
        return str(fees[self.cert_type])


#: One management-terminal control; ``current`` is how the audit trail writes its value.
Control = HoursControl | SuspensionControl | FeeControl


@dataclass(frozen=True)
class LastLinkage:
    """A municipality's newest applied linkage batch, as the dashboard shows it."""

    sequence: int
    kind: str
    received_at: str


@dataclass(frozen=True)
class OverviewRecords:
    """What the dashboard reads, from one snapshot."""

    municipalities: list[Municipality]
    held: dict[str, HeldCounts]
    last_linkage: dict[str, LastLinkage]


class MunicipalityStore(Protocol):
    async def add_municipality(self, m: Municipality, audit: AuditEntry) -> Fees:
        """Register a municipality (Conflict when its code is taken); its fees."""
        ...

    async def municipalities_with_fees(self) -> list[tuple[Municipality, Fees]]: ...

    async def municipality_with_fees(self, code: str) -> tuple[Municipality, Fees] | None: ...

    async def change_control(self, code: str, control: Control, audit: AuditEntry) -> bool:
        """Apply a control and audit it (the old value read here) unless its value is
        already ``audit.new_value``; whether it changed. NotFound for an unknown code."""
        ...



class OverviewStore(Protocol):
    async def overview(self) -> OverviewRecords: ...


# --- linkage --------------------------------------------------------------------------

#: A validated row of a batch file: (line, change A/U/D or None for a full batch, values).
LinkageRow = tuple[int, str | None, tuple[Any, ...]]


@dataclass
class Chunk:
    """Rows of one file ready to write, and what was found since the previous chunk."""

    file: str
    kind: str  # residents | seals | taxes
    read: int  # data rows read since the previous chunk (for progress)
    rows: list[LinkageRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    omitted: int = 0
    impressions: list[tuple[str, bytes]] = field(default_factory=list)  # (sha256, png), new ones
    records: int | None = None  # on a file's last chunk: its data rows (-1: header unusable)


@dataclass(frozen=True)
class BatchRecord:
    id: int
    municipality_code: str
    sequence: int
    kind: str
    created_at: str | None
    received_at: str
    source: str
    outcome: str
    counts: dict[str, int]
    checksums: dict[str, str]
    problems: list[dict[str, Any]]


@dataclass(frozen=True)
class BackupRecord:
    municipality_code: str
    sequence: int
    kind: str
    path: str  # relative to the data directory
    size: int
    created_at: str


@dataclass(frozen=True)
class BatchArrival:
    """What the record of a batch says besides its rows: the manifest, when and how it
    came, and where its backup is published (relative to the data directory)."""

    manifest: Manifest
    received_at: str
    source: str
    backup_path: str


@dataclass(frozen=True)
class BatchOutcome:
    outcome: str  # applied | already-applied | rejected
    counts: dict[str, int] = field(default_factory=dict)


class BatchLoad(Protocol):
    """The service's side of applying one batch, called inside the store's transaction."""

    def rows(self) -> AbstractContextManager[Iterator[Chunk]]:
        """The batch's validated chunks, asked for only once the sequence rules pass (the
        backup is made beside the load)."""
        ...

    def before_commit(self) -> int:
        """Every row is written and nothing is wrong: publish the backup; its size."""
        ...


#: One backup to replay in a restore: its manifest and its validated chunks.
RestoreStep = tuple[Manifest, Iterator[Chunk]]


@dataclass(frozen=True)
class HeldTotals:
    residents: int
    seals: int
    taxes: int


@dataclass(frozen=True)
class RejectedRecord:
    """A rejected batch's problem list, sealed by the service (AES-GCM, backup key): only
    the time and the municipality code are readable, to prune and to filter by."""

    received_at: str
    municipality_code: str | None
    sealed: bytes
    #: For an entry imported from the journal file of an earlier version: its line's
    #: keyed hash, so that importing the file twice adds it once.
    imported_from: str | None = None


class HeldData(Protocol):
    """A municipality's data as one consistent snapshot, streamed (an export)."""

    def rows(self, kind: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Residents, seals or taxes in key order, values in ``columns`` order."""
        ...

    def impression(self, sha256: str) -> bytes | None: ...

    def last_applied_sequence(self) -> int: ...


class LinkageStore(Protocol):
    async def municipality_registered(self, code: str) -> bool: ...

    async def apply_batch(self, arrival: BatchArrival, load: BatchLoad, problems: Problems) -> BatchOutcome:
        """One batch, all or nothing, in one transaction: the sequence rules, the rows
        (problems only the database can tell are added), the backup's record, the batch's
        record and the evacuation plans it flags. Rejected: nothing is kept."""
        ...

    async def restore_batches(self, code: str, steps: Generator[RestoreStep, None, None],
                              problems: Problems, audit: AuditEntry) -> HeldTotals | None:
        """Replay a full backup and its deltas in one transaction with its audit line;
        None (nothing changed) when any problem is found."""
        ...

    async def batches(self, code: str | None, limit: int) -> list[BatchRecord]:
        """Recorded (applied) batches, newest first."""
        ...

    async def backups(self, code: str | None) -> list[BackupRecord]: ...

    async def record_rejected(self, record: RejectedRecord, kept_since: datetime) -> None:
        """Keep a rejected batch's sealed problem list; drop those received before ``kept_since``."""
        ...

    async def import_rejected(self, records: list[RejectedRecord], kept_since: datetime) -> int | None:
        """Add entries of an earlier version's journal file (each once) and prune; how many
        were new, or None when the database (opened at an older schema) cannot hold them."""
        ...

    async def prune_rejected(self, kept_since: datetime) -> int:
        """Drop the problem lists received before ``kept_since``; how many."""
        ...

    async def rejected(self, code: str | None) -> list[RejectedRecord]:
        """Kept problem lists, oldest first."""
        ...

    async def export_held(self, code: str, write: Callable[[HeldData], T]) -> T:
        """Run ``write`` on one consistent snapshot of a municipality's data (it runs on the
        store's own thread: it may block, it must not touch the event loop)."""
        ...


# --- residents ------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldCounts:
    residents: int
    active: int
    households: int
    seals: int
    taxes: int


class ResidentStore(Protocol):
    async def held_counts(self) -> dict[str, HeldCounts]:
        """What the intermediate DB holds, per municipality."""
        ...

    async def search_residents(self, text: str, municipality_code: str | None = None,
                               limit: int = 20) -> list[Resident]:
        """Residents whose code or household number is ``text``, or whose name or kana
        contains it (spaces ignored)."""
        ...

    async def find_resident(self, resident_code: str) -> Resident | None:
        """A resident by 住民票コード alone (unique nationwide; an active record first)."""
        ...


# --- issuance (issuances, cards, relay sessions) --------------------------------------

# --- onboarding (plans, test stages) --------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    municipality_code: str
    service_start: date
    made_on: date
    offers_seal: bool
    template_version: int
    created_at: str
    created_by: str
    override_reason: str | None
    override_by: str | None
    override_at: str | None


@dataclass(frozen=True)
class StepRow:
    seq: int
    key: str
    phase: str
    title_ja: str
    title_en: str
    starts_on: date
    due_on: date
    stage: Stage | None
    operation_checklist: bool
    fits: bool
    done_on: date | None
    done_by: str | None
    note: str | None
    reminded: str | None


@dataclass(frozen=True)
class StageRun:
    id: int
    municipality_code: str
    stage: Stage
    started_at: str
    finished_at: str | None
    outcome: Outcome
    reason: str
    evidence: dict[str, Any]
    log: str
    run_by: str
    confirmed_by: str | None
    confirmed_at: str | None
    confirm_note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "stage": self.stage.value, "outcome": self.outcome.value, "reason": self.reason,
            "started_at": self.started_at, "finished_at": self.finished_at, "run_by": self.run_by,
            "confirmed_by": self.confirmed_by, "confirmed_at": self.confirmed_at,
            "confirm_note": self.confirm_note, "evidence": self.evidence,
        }


@dataclass(frozen=True)
class PlanRecord:
    """A municipality's plan as one snapshot: its steps and each stage's newest run."""

    municipality: Municipality
    plan: PlanRow
    steps: list[StepRow]
    latest: dict[Stage, StageRun]


@dataclass(frozen=True)
class PlanRequest:
    """A plan to lay back from a service start (``replace``: a re-plan keeps what was done)."""

    code: str
    service_start: date
    made_on: date
    offers_seal: bool
    replace: bool
    template: Template


class Reminder(NamedTuple):
    at: str
    municipality_code: str
    step_key: str
    kind: str  # due, late
    due_on: str
    title: str


class OnboardingStore(Protocol):
    async def make_plan(self, request: PlanRequest, audit: AuditEntry) -> None:
        """Write a plan and move the municipality's service start with it, audited (the
        action becomes "replan" and the old start is read when a plan existed). NotFound
        for an unknown municipality; Conflict for a second plan without ``replace`` or a
        first plan of a municipality already in service."""
        ...

    async def plan_record(self, code: str) -> PlanRecord | None:
        """None when the municipality has no plan; NotFound when it is not registered."""
        ...

    async def plans_of_all(self) -> list[tuple[Municipality, PlanRow | None, list[StepRow]]]:
        """Every municipality with its plan and steps (no stage runs)."""
        ...

    async def tick_step(self, code: str, step: str, template: Template, done_on: date, note: str | None,
                        audit: AuditEntry) -> None:
        """Mark a checklist step done, audited; NotFound without a plan or for a step not
        in it (an unknown key: the template's error, which lists the known ones)."""
        ...

    async def set_override(self, code: str, reason: str | None, audit: AuditEntry) -> None:
        """Set (or, with None, withdraw) the go-live override, audited with the old reason."""
        ...

    async def mark_reminders(self, today: date, at: str) -> list[tuple[str, str, str]]:
        """Mark steps that became due or late since the last reminder: (code, step, kind)."""
        ...

    async def recent_reminders(self, limit: int = 20) -> list[Reminder]:
        """The newest reminders of steps still not done."""
        ...


# --- settlement -----------------------------------------------------------------------

#: Billable issuances grouped: (municipality, operator, type, month, certificates, fees).
Group = tuple[str, str, str, str, int, int]


@dataclass(frozen=True)
class StatementInputs:
    """What a fiscal year's statement is made of, from one snapshot."""

    fiscal_year: int
    municipalities: list[Municipality]
    own: list[Group]  # the year's own billable issuances not yet counted
    late: list[Group]  # of closed earlier years, arrived after they closed
    voided: list[Group]  # counted by an earlier statement and voided since


class SettlementStore(Protocol):
    async def closed_years(self) -> list[int]: ...

    async def closed_document(self, fiscal_year: int) -> str | None:
        """The stored statement (JSON) of a closed year."""
        ...

    async def statement_inputs(self, fiscal_year: int) -> StatementInputs:
        """Grouped in the database in one pass (ten million rows never cross as rows)."""
        ...

    async def close_year(self, fiscal_year: int, compose: Callable[[StatementInputs], str],
                         audit: AuditEntry) -> str:
        """Close a year in one transaction: store the document ``compose`` writes from the
        inputs, mark what it counted, audit it; the stored document (a concurrent close's,
        if one came first)."""
        ...


# --- monitor (the Issuance Monitor's reads) ------------------------------------------


@dataclass(frozen=True)
class FeedRow:
    request_id: str
    at: str
    municipality_code: str
    type: str
    operator: str | None
    channel: str
    state: str
    latency_ms: int | None


@dataclass(frozen=True)
class MonitorRecords:
    feed: list[FeedRow]
    #: (municipality, type, state, channel, n) of requests created since the instant.
    counts: list[tuple[str, str, str, str, int]]
    #: (reason, n) of relay refusals since the instant, most frequent first.
    refusals: list[tuple[str, int]]


class MonitorStore(Protocol):
    async def monitor(self, limit: int, since: str) -> MonitorRecords:
        """The newest ``limit`` requests and what happened since ``since``, one snapshot."""
        ...

# --- disaster (ledger, assessments, support) ------------------------------------------

# --- scheduler: the record of every job run ------------------------------------------


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
from dataclasses import asdict, fields  # noqa: E402 - this section's own
from typing import TYPE_CHECKING, TypeAlias  # noqa: E402

from bcl_console.domain.errors import Conflict, InvalidInput  # noqa: E402

if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable, Mapping
    from datetime import date

    from bcl_console.domain.support import RebuildMethod


@dataclass(frozen=True)
class DisasterRow:
    id: int
    name: str
    kind: str
    occurred_on: date
    declared_at: str
    closed_at: str | None
    municipalities: tuple[str, ...]

    def check_affects(self, code: str, *, must_be_open: bool = False) -> None:
        """The disaster must affect the municipality (and be open, if asked)."""
        if must_be_open and self.closed_at is not None:
            raise Conflict(f"disaster {self.id} is closed", field="disaster")
        if code not in self.municipalities:
            raise InvalidInput(f"municipality {code} is not affected by disaster {self.id}", field="municipality")


@dataclass(frozen=True)
class ShelterRow:
    id: int
    disaster_id: int
    municipality_code: str
    name: str
    capacity: int
    opened_at: str
    closed_at: str | None
    occupancy: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "disaster_id": self.disaster_id, "municipality_code": self.municipality_code,
                "name": self.name, "capacity": self.capacity, "occupancy": self.occupancy,
                "opened_at": self.opened_at, "closed_at": self.closed_at}


@dataclass(frozen=True)
class ShelterPerson:
    """Someone checked in at an evacuation centre now."""

    resident_code: str
    name: str
    checked_in_at: str
    via: str


@dataclass(frozen=True)
class CheckIn:
    stay_id: int
    shelter_id: int
    shelter_name: str
    resident_code: str
    name: str
    occupancy: int
    capacity: int
    disaster_id: int

    def as_dict(self) -> dict[str, Any]:
        return {"stay_id": self.stay_id, "shelter": {"id": self.shelter_id, "name": self.shelter_name},
                "resident_code": self.resident_code, "name": self.name, "occupancy": self.occupancy,
                "capacity": self.capacity, "disaster_id": self.disaster_id}


@dataclass(frozen=True)
class CheckOut:
    shelter_id: int
    shelter_name: str
    resident_code: str
    whereabouts: str
    disaster_id: int

    def as_dict(self) -> dict[str, Any]:
        return {"shelter": {"id": self.shelter_id, "name": self.shelter_name}, "resident_code": self.resident_code,
                "whereabouts": self.whereabouts, "disaster_id": self.disaster_id}


@dataclass(frozen=True)
class AssessmentRevision:
    revision: int
    damage_class: str
    damage_ratio: int | None
    inspector: str
    assessed_on: str
    current: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckedAssessment:
    """An assessment that passed the rules, ready to be recorded."""

    address: str
    damage_class: str
    damage_ratio: int | None
    inspector: str
    assessed_on: str


#: The rules an assessment must pass, given its disaster and the household's address
#: (None: no active household of that number); raises a DomainError when one fails.
AssessmentCheck: TypeAlias = "Callable[[DisasterRow, str | None], CheckedAssessment]"
#: The rules a whole import must pass, given the disaster and the address of every
#: household it names: the rows to record as ((code, household), checked), or a raise.
ImportCheck: TypeAlias = ("Callable[[DisasterRow, Mapping[tuple[str, str], str | None]], "
               "list[tuple[tuple[str, str], CheckedAssessment]]]")


@dataclass(frozen=True)
class Assessment:
    """A household's current assessment, just recorded, with every revision."""

    disaster_id: int
    municipality_code: str
    household_number: str
    address: str
    damage_class: str
    damage_ratio: int | None
    revision: int
    history: tuple[AssessmentRevision, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"disaster_id": self.disaster_id, "municipality_code": self.municipality_code,
                "household_number": self.household_number, "address": self.address,
                "damage_class": self.damage_class, "damage_ratio": self.damage_ratio, "revision": self.revision,
                "history": [h.as_dict() for h in self.history]}


@dataclass(frozen=True)
class LedgerEntry:
    """One person of an assessed household (被災者台帳), with whereabouts and support."""

    municipality_code: str
    household_number: str
    address: str
    damage_class: str
    damage_ratio: int | None
    resident_code: str
    name: str
    name_kana: str
    birth_date: str
    sex: str
    relationship: str
    needs_evacuation_help: int
    whereabouts: str
    injury: str
    shelter: str | None
    support_state: str | None
    support_total: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The ledger's columns: its query's and its CSV export's, in this order.
LEDGER_COLUMNS = tuple(f.name for f in fields(LedgerEntry))


@dataclass(frozen=True)
class SupportApplication:
    """An application for 被災者生活再建支援金."""

    id: int
    disaster_id: int
    municipality_code: str
    household_number: str
    damage_class: str
    members: int
    rebuild_method: str | None
    demolished: int
    long_term: int
    basic: int
    additional: int
    state: str
    applied_at: str
    decided_at: str | None
    decided_by: str | None
    paid_at: str | None
    note: str | None

    @property
    def total(self) -> int:
        return self.basic + self.additional

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"total": self.total}


SUPPORT_COLUMNS = tuple(f.name for f in fields(SupportApplication))


@dataclass(frozen=True)
class DisasterState:
    """What the overview of a disaster is made of, read at one moment."""

    disaster: DisasterRow
    by_class: dict[str, int]
    shelters: list[ShelterRow]
    applications_waiting: int
    support: list[SupportApplication]


@dataclass(frozen=True)
class HelpEntry:
    """Someone on the list of people needing evacuation help (避難行動要支援者名簿), with the plan."""

    resident_code: str
    name: str
    birth_date: str | None
    address: str | None
    household_number: str | None
    status: str
    flagged: int
    supporter: str | None
    destination: str | None
    notes: str | None
    review_reason: str | None
    plan_updated_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OnlineApplication:
    """A resident's request for a disaster certificate (罹災証明書) made from home."""

    id: int
    municipality_code: str
    resident_code: str
    disaster_id: int
    kind: str
    state: str
    applied_at: str
    decided_at: str | None
    decided_by: str | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


APPLICATION_COLUMNS = tuple(f.name for f in fields(OnlineApplication))


class DisasterStore(Protocol):
    """Disasters, assessments, the victim ledger, evacuation centres, support payments,
    evacuation plans and online applications. Every write appends its audit line(s); the
    audit given is the line's template (time, actor, action, field), completed by the fact.
    A missing disaster, shelter or application is NotFound, a state that forbids the
    change Conflict, as the messages of the disaster API say."""

    # disasters
    async def declare(self, name: str, kind: str, occurred_on: date, municipalities: list[str],
                      audit: AuditEntry) -> int:
        """A new disaster; NotFound when a municipality is not registered. One audit line per municipality."""
        ...

    async def close(self, disaster_id: int, audit: AuditEntry) -> None:
        """Conflict when already closed or a centre is still open."""
        ...

    async def disasters(self) -> list[DisasterRow]: ...

    async def state(self, disaster_id: int) -> DisasterState: ...

    # assessments
    async def assess(self, disaster_id: int, code: str, household: str, check: AssessmentCheck,
                     audit: AuditEntry) -> Assessment:
        """A new revision of a household's assessment, if ``check`` passes it."""
        ...

    async def import_assessments(self, disaster_id: int, households: list[tuple[str, str]], check: ImportCheck,
                                 source: str, audit: AuditEntry) -> int:
        """Every row ``check`` returns, or none; how many. One audit line per municipality,
        naming the source (a file) and the count."""
        ...

    async def assessment_history(self, disaster_id: int, code: str, household: str) -> list[AssessmentRevision]: ...

    # the ledger
    async def ledger(self, disaster_id: int, code: str | None) -> list[LedgerEntry]: ...

    async def set_person(self, disaster_id: int, code: str, resident: str, *, whereabouts: str | None,
                         injury: str | None, note: str | None, audit: AuditEntry) -> None: ...

    # evacuation centres
    async def open_shelter(self, disaster_id: int, code: str, name: str, capacity: int, audit: AuditEntry) -> int: ...

    async def shelter(self, shelter_id: int) -> ShelterRow | None: ...

    async def shelters(self, disaster_id: int | None) -> list[ShelterRow]: ...

    async def shelter_people(self, shelter_id: int) -> list[ShelterPerson]: ...

    async def close_shelter(self, shelter_id: int, audit: AuditEntry) -> int:
        """The centre's disaster."""
        ...

    async def check_in(self, shelter_id: int, code: str, resident: str, via: str, audit: AuditEntry) -> CheckIn: ...

    async def check_out(self, code: str, resident: str, whereabouts: str, audit: AuditEntry) -> CheckOut: ...

    # support payments
    async def apply_support(self, disaster_id: int, code: str, household: str, rebuild: RebuildMethod | None, *,
                            demolished: bool, long_term: bool, audit: AuditEntry) -> int: ...

    async def support(self, support_id: int) -> SupportApplication | None: ...

    async def decide_support(self, support_id: int, old: str, new: str, note: str | None,
                             audit: AuditEntry) -> int:
        """Move an application from ``old`` to ``new``; its disaster."""
        ...

    async def support_list(self, disaster_id: int) -> list[SupportApplication]: ...

    # people needing evacuation help
    async def needs_help(self, code: str) -> list[HelpEntry]: ...

    async def set_plan(self, code: str, resident: str, supporter: str, destination: str, notes: str,
                       audit: AuditEntry) -> None: ...

    # online applications
    async def apply_online(self, code: str, resident: str, disaster_id: int, at: str) -> int: ...

    async def application(self, application_id: int) -> OnlineApplication | None: ...

    async def applications(self, state: str | None) -> list[OnlineApplication]: ...

    async def decide_application(self, application_id: int, approve: bool, reason: str | None,
                                 audit: AuditEntry) -> int:
        """Approve (the household must be assessed) or reject a waiting application; its disaster."""
        ...


# --- the store ------------------------------------------------------------------------


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

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        """Open and migrate; the schema versions before and after."""
        ...

    async def close(self) -> None: ...
