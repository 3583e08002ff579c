"""Municipalities: what crosses the store boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bcl_console.domain.municipality import CertificateType, Municipality, ServiceHours
from bcl_console.store.api.audit import AuditEntry

if TYPE_CHECKING:
    from bcl_console.store.api.residents import HeldCounts


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
