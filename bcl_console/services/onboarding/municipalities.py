"""Municipalities: onboarding them and the management-terminal controls (管理端末)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bcl_console.domain.codes import validate_municipality_code
from bcl_console.domain.contribution import ContributionClass, contribution_class
from bcl_console.domain.costs import estimate
from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.municipality import (
    CertificateType,
    Municipality,
    State,
    parse_certificate_type,
    parse_hosting,
    parse_hours,
    parse_kind,
    validate_fee,
    validate_name,
    validate_population,
    validate_server_url,
)
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.events import EventBus, MunicipalityChanged
from bcl_console.store.api import (
    AuditEntry,
    Control,
    FeeControl,
    HeldCounts,
    HoursControl,
    Store,
    SuspensionControl,
)

MAX_REASON = 200


@dataclass(frozen=True)
class MunicipalityView:
    """A municipality with what the operator needs to see beside it."""

    municipality: Municipality
    state: State
    contribution_class: ContributionClass
    closed_reason: str | None
    fees: dict[CertificateType, int]

    @property
    def code(self) -> str:
        return self.municipality.code

    def summary(self) -> dict[str, object]:
        m = self.municipality
        return {
            "code": m.code,
            "name": m.name,
            "kind": m.kind.value,
            "population": m.population,
            "hosting": m.hosting.value,
            "service_start": m.service_start.isoformat() if m.service_start else None,
            "state": self.state.value,
        }

    def detail(self) -> dict[str, object]:
        m = self.municipality
        return {
            **self.summary(),
            "server_url": m.server_url,
            "prefecture": m.prefecture,
            "mayor": m.mayor,
            "contribution_class": self.contribution_class.value,
            "hours": {"open": m.hours.open, "close": m.hours.close},
            "suspended": m.suspended,
            "suspension_reason": m.suspension_reason,
            "open_now": self.closed_reason is None,
            "closed_reason": self.closed_reason,
            "fees": {t.value: yen for t, yen in self.fees.items()},
            "cost_estimate": estimate(m.kind, m.population).as_dict(),
        }


def parse_service_start(text: str | None) -> date | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"service start {text!r} is not a date (YYYY-MM-DD)", field="service-start"
        ) from None


class MunicipalityService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus

    def _view(self, m: Municipality, fees: dict[CertificateType, int], now: datetime) -> MunicipalityView:
        return MunicipalityView(
            municipality=m,
            state=m.state(tokyo(now).date()),
            contribution_class=contribution_class(m.kind, m.population),
            closed_reason=m.closed_reason(now),
            fees=fees,
        )

    async def add(
        self,
        *,
        code: str,
        name: str,
        kind: str,
        population: int,
        hosting: str = "bcl",
        server_url: str | None = None,
        service_start: str | None = None,
        prefecture: str = "",
        mayor: str = "",
        actor: Actor,
    ) -> MunicipalityView:
        """Register a municipality; every field is checked before anything is written."""
        host = parse_hosting(hosting)
        m = Municipality(
            code=validate_municipality_code(code.strip()),
            name=validate_name(name),
            kind=parse_kind(kind),
            population=validate_population(population),
            hosting=host,
            server_url=validate_server_url(host, server_url),
            service_start=parse_service_start(service_start),
            prefecture=prefecture.strip(),
            mayor=mayor.strip(),
        )
        at = iso_now(self._clock)
        fees = await self._store.municipalities.add_municipality(
            m, AuditEntry(at, actor.name, actor.interface, m.code, "add", None, None, m.name))
        self._bus.publish(MunicipalityChanged(m.code, "add"))
        return self._view(m, fees, self._clock.now())

    async def all(self) -> list[MunicipalityView]:
        now = self._clock.now()
        return [self._view(m, fees, now) for m, fees in await self._store.municipalities.municipalities_with_fees()]

    async def get(self, code: str) -> MunicipalityView:
        found = await self._store.municipalities.municipality_with_fees(code)
        if found is None:
            raise NotFound(f"municipality {code} is not registered", field="code")
        return self._view(found[0], found[1], self._clock.now())

    async def _change(self, code: str, action: str, field: str, control: Control, new_value: str,
                      actor: Actor) -> MunicipalityView:
        """One control change: checked, applied and audited in one transaction."""
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, action, field, None, new_value)
        if await self._store.municipalities.change_control(code, control, audit):
            self._bus.publish(MunicipalityChanged(code, action))
        return await self.get(code)

    async def set_hours(self, code: str, open_: str, close: str, *, actor: Actor) -> MunicipalityView:
        hours = parse_hours(open_, close)
        return await self._change(code, "hours", "hours", HoursControl(hours), f"{hours.open}-{hours.close}", actor)

    async def suspend(self, code: str, reason: str, *, actor: Actor) -> MunicipalityView:
        text = " ".join(reason.split())
        if not text:
            raise InvalidInput("a suspension needs a reason", field="reason")
        if len(text) > MAX_REASON:
            raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", field="reason")
        return await self._change(code, "suspend", "suspended", SuspensionControl(True, text),
                                  f"suspended: {text}", actor)

    async def resume(self, code: str, *, actor: Actor) -> MunicipalityView:
        return await self._change(code, "resume", "suspended", SuspensionControl(False, None), "running", actor)

    async def set_fee(self, code: str, cert_type: str, yen: int, *, actor: Actor) -> MunicipalityView:
        ctype = parse_certificate_type(cert_type)
        amount = validate_fee(yen)
        return await self._change(code, "fee", f"fee.{ctype.value}", FeeControl(ctype, amount), str(amount), actor)

    async def audit_trail(self, code: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return await self._store.audit.audit_trail(code, limit)

    async def held_counts(self) -> dict[str, HeldCounts]:
        return await self._store.residents.held_counts()
