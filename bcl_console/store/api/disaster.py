"""Disaster (ledger, assessments, support): what crosses the store boundary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from bcl_console.domain.errors import Conflict, InvalidInput
from bcl_console.store.api.audit import AuditEntry

if TYPE_CHECKING:
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
    #: For a flood (浸水区分): 床上浸水 or 床下浸水, and the depth above ground in cm.
    flood_level: str | None = None
    flood_depth_cm: int | None = None


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
    flood_level: str | None = None
    flood_depth_cm: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"disaster_id": self.disaster_id, "municipality_code": self.municipality_code,
                "household_number": self.household_number, "address": self.address,
                "damage_class": self.damage_class, "damage_ratio": self.damage_ratio, "revision": self.revision,
                "flood_level": self.flood_level, "flood_depth_cm": self.flood_depth_cm,
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


@dataclass(frozen=True)
class VictimReport:
    """A person's report of harm from a disaster (被災届出): what the 被災証明書 certifies."""

    id: int
    disaster_id: int
    municipality_code: str
    resident_code: str
    name: str
    address: str
    harm: str
    reported_on: str
    recorded_at: str
    recorded_by: str
    revision: int
    amended_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The rules of a report's date, given its disaster: the 届出日 (ISO) to record, or a raise.
ReportDate: TypeAlias = "Callable[[DisasterRow], str]"


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

    # reports of harm (被災届出), certified by the 被災証明書
    async def report_harm(self, disaster_id: int, code: str, resident: str, harm: str, reported_on: ReportDate, *,
                          amend: bool, audit: AuditEntry) -> VictimReport:
        """A person's report: the disaster must be open and affect ``code``, the person an
        active resident of it. A second report of the same person and disaster is Conflict
        unless ``amend`` (then the text and 届出日 are replaced, a revision counted, and the
        audit line keeps the earlier text); ``amend`` without a report is InvalidInput."""
        ...

    async def victim_reports(self, disaster_id: int, code: str | None) -> list[VictimReport]:
        """The disaster's reports (NotFound for no such disaster), newest 届出日 first."""
        ...

    # online applications
    async def apply_online(self, code: str, resident: str, disaster_id: int, at: str) -> int: ...

    async def application(self, application_id: int) -> OnlineApplication | None: ...

    async def applications(self, state: str | None) -> list[OnlineApplication]: ...

    async def decide_application(self, application_id: int, approve: bool, reason: str | None,
                                 audit: AuditEntry) -> int:
        """Approve (the household must be assessed) or reject a waiting application; its disaster."""
        ...
