"""Municipalities (団体): kinds, hosting, service hours, fee defaults and their state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from bcl_console.domain.errors import InvalidInput, parse_choice
from bcl_console.domain.fiscal import tokyo


class Kind(StrEnum):
    DESIGNATED_CITY = "designated-city"
    CITY = "city"
    SPECIAL_WARD = "special-ward"
    TOWN = "town"
    VILLAGE = "village"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def mayor_title(self) -> str:
        """The title on certificates: 市長, 区長, 町長, 村長."""
        return _MAYOR_TITLES[self]


_KIND_LABELS = {
    Kind.DESIGNATED_CITY: "政令市",
    Kind.CITY: "市",
    Kind.SPECIAL_WARD: "特別区",
    Kind.TOWN: "町",
    Kind.VILLAGE: "村",
}
_MAYOR_TITLES = {
    Kind.DESIGNATED_CITY: "市長",
    Kind.CITY: "市長",
    Kind.SPECIAL_WARD: "区長",
    Kind.TOWN: "町長",
    Kind.VILLAGE: "村長",
}


class Hosting(StrEnum):
    BCL = "bcl"
    OWN_SERVER = "own-server"


class CertificateType(StrEnum):
    RESIDENCE = "residence"
    SEAL = "seal"
    TAX = "tax"
    DISASTER = "disaster"
    #: 被災証明書: the person reported harm from a disaster (no damage assessment).
    DISASTER_VICTIM = "disaster-victim"

    @property
    def label(self) -> str:
        return _CERT_LABELS[self]

    @property
    def short(self) -> str:
        """The label where a column is narrow (the Monitor, statements): 住民票, 罹災, 被災 …"""
        return _CERT_SHORT[self]


_CERT_LABELS = {
    CertificateType.RESIDENCE: "住民票の写し",
    CertificateType.SEAL: "印鑑登録証明書",
    CertificateType.TAX: "所得・課税証明書",
    CertificateType.DISASTER: "罹災証明書",
    CertificateType.DISASTER_VICTIM: "被災証明書",
}
_CERT_SHORT = {
    CertificateType.RESIDENCE: "住民票",
    CertificateType.SEAL: "印鑑",
    CertificateType.TAX: "税",
    CertificateType.DISASTER: "罹災",
    CertificateType.DISASTER_VICTIM: "被災",
}

#: Issuance fees (交付手数料) a municipality charges until it sets its own, in yen.
DEFAULT_FEES: dict[CertificateType, int] = {
    CertificateType.RESIDENCE: 300,
    CertificateType.SEAL: 300,
    CertificateType.TAX: 300,
    CertificateType.DISASTER: 0,
    CertificateType.DISASTER_VICTIM: 0,
}
MAX_FEE_YEN = 100_000


def parse_kind(text: str) -> Kind:
    return parse_choice(Kind, text, "kind", "kind")


def parse_hosting(text: str) -> Hosting:
    try:
        return Hosting(text)
    except ValueError:
        raise InvalidInput(
            f"unknown hosting {text!r} (bcl or own-server)", field="hosting"
        ) from None


def parse_certificate_type(text: str) -> CertificateType:
    return parse_choice(CertificateType, text, "certificate type", "type")


def validate_population(population: int) -> int:
    if population < 0:
        raise InvalidInput(f"population {population} is negative", field="population")
    if population > 50_000_000:
        raise InvalidInput(f"population {population} is not plausible", field="population")
    return population


def validate_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput("the municipality name is empty", field="name")
    if len(cleaned) > 40:
        raise InvalidInput("the municipality name is longer than 40 characters", field="name")
    return cleaned


def validate_fee(yen: int) -> int:
    if yen < 0 or yen > MAX_FEE_YEN:
        raise InvalidInput(f"fee {yen} yen is outside 0 to {MAX_FEE_YEN:,}", field="yen")
    return yen


def validate_server_url(hosting: Hosting, url: str | None) -> str | None:
    if hosting is Hosting.BCL:
        if url:
            raise InvalidInput(
                "a server URL is only for own-server hosting", field="server-url"
            )
        return None
    if not url or not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        raise InvalidInput(
            "own-server hosting needs --server-url http(s)://host[:port]/path",
            field="server-url",
        )
    return url.rstrip("/")


_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class ServiceHours:
    """Daily store-issuance hours, Japan time. ``close`` may be 24:00 (midnight)."""

    open: str = "06:30"
    close: str = "23:00"

    def minutes(self) -> tuple[int, int]:
        return _minutes(self.open), _minutes(self.close)

    def contains(self, wall: time) -> bool:
        start, end = self.minutes()
        now = wall.hour * 60 + wall.minute
        return start <= now < end


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def parse_hours(open_text: str, close_text: str) -> ServiceHours:
    """Validate HH:MM HH:MM; end must come after start; 24:00 only as the end."""
    parsed = []
    for label, text in (("open", open_text), ("close", close_text)):
        m = _HHMM.match(text.strip())
        if not m:
            raise InvalidInput(f"{label} time {text!r} is not HH:MM", field=label)
        h, mi = int(m[1]), int(m[2])
        if mi > 59 or h > 24 or (h == 24 and (mi != 0 or label == "open")):
            raise InvalidInput(f"{label} time {text!r} is not a time of day", field=label)
        parsed.append(f"{h:02d}:{mi:02d}")
    hours = ServiceHours(parsed[0], parsed[1])
    start, end = hours.minutes()
    if end <= start:
        raise InvalidInput(
            f"closing time {hours.close} is not after opening time {hours.open}", field="close"
        )
    return hours


def in_year_end_closure(day: date) -> bool:
    """Store issuance stops 29 December – 3 January."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


class State(StrEnum):
    ONBOARDING = "onboarding"
    LIVE = "live"
    SUSPENDED = "suspended"


def municipality_state(service_start: date | None, suspended: bool, today: date,
                       awaiting_stages: tuple[str, ...] = ()) -> State:
    """Suspended overrides all; live once the service start has come and no required test
    stage is awaited; else onboarding."""
    if suspended:
        return State.SUSPENDED
    if service_start is not None and service_start <= today and not awaiting_stages:
        return State.LIVE
    return State.ONBOARDING


def closed_reason(
    *,
    service_start: date | None,
    suspended: bool,
    hours: ServiceHours,
    now: datetime,
    awaiting_stages: tuple[str, ...] = (),
    failure_drill: bool = False,
) -> str | None:
    """Why store issuance is closed at ``now``, or None when it is open."""
    wall = tokyo(now)
    if failure_drill:
        return "failure-drill"
    if suspended:
        return "suspended"
    if service_start is None or service_start > wall.date() or awaiting_stages:
        return "not-live"
    if in_year_end_closure(wall.date()):
        return "year-end-closure"
    if not hours.contains(wall.time()):
        return "outside-hours"
    return None


@dataclass(frozen=True)
class Municipality:
    """One municipality as the centre holds it, with its management-terminal controls."""

    code: str
    name: str
    kind: Kind
    population: int
    hosting: Hosting
    server_url: str | None = None
    service_start: date | None = None
    hours: ServiceHours = ServiceHours()
    suspended: bool = False
    suspension_reason: str | None = None
    prefecture: str = ""
    mayor: str = ""
    #: Required test stages not passed yet (only with an onboarding plan and no override).
    awaiting_stages: tuple[str, ...] = ()
    #: A business-operation-test failure drill is running: the relay answers 503.
    failure_drill: bool = False

    def state(self, today: date) -> State:
        return municipality_state(self.service_start, self.suspended, today, self.awaiting_stages)

    def closed_reason(self, now: datetime) -> str | None:
        return closed_reason(
            service_start=self.service_start,
            suspended=self.suspended,
            hours=self.hours,
            now=now,
            awaiting_stages=self.awaiting_stages,
            failure_drill=self.failure_drill,
        )
