"""What a management terminal may do (contract §13): read and change its own
municipality's store-issuance controls, and read its day's issuances and its linkage
batches — never another municipality's.

The controls are changed by the very functions the console and the CLI use
(``MunicipalityService.set_hours``/``suspend``/``resume``), with the terminal as the actor
and ``manage`` as the interface, so the three interfaces change one set of controls and
the audit trail tells them apart."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bcl_console.domain.errors import Refused
from bcl_console.domain.fiscal import TOKYO, tokyo
from bcl_console.domain.settlement import BILLABLE_CHANNELS, BILLABLE_STATES
from bcl_console.services.linkage.service import BatchView, LinkageService
from bcl_console.services.onboarding.municipalities import MunicipalityService, MunicipalityView
from bcl_console.services.platform.clock import Clock
from bcl_console.services.platform.terminals import terminal_actor
from bcl_console.store.api import DayIssuances, Store, TerminalRecord

#: The most issuances one page of ``issuances`` holds.
MAX_PAGE = 1000
#: The most batches ``batches`` lists.
MAX_BATCHES = 200


@dataclass(frozen=True)
class DayCounts:
    """One municipality's issuances asked for on one day (Japan time)."""

    day: date
    requests: int = 0
    #: Issued or printed, on every channel.
    issued: int = 0
    #: Issued or printed at the stores (what settlement bills and the Monitor counts).
    store_issued: int = 0
    voided: int = 0
    awaiting_payment: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, day: date, found: DayIssuances) -> DayCounts:
        by_type: Counter[str] = Counter()
        by_channel: Counter[str] = Counter()
        states: Counter[str] = Counter()
        store = 0
        for type_, channel, state, n in found.counts:
            states[state] += n
            if state in BILLABLE_STATES:
                by_type[type_] += n
                by_channel[channel] += n
                if channel in BILLABLE_CHANNELS:
                    store += n
        return cls(day, found.total, sum(by_type.values()), store, states["voided"],
                   states["awaiting_payment"], dict(sorted(by_type.items())), dict(sorted(by_channel.items())))


@dataclass(frozen=True)
class TerminalStatus:
    terminal: TerminalRecord
    municipality: MunicipalityView
    today: DayCounts


@dataclass(frozen=True)
class DayListing:
    """A page of a day's issuances with the counts of the whole day."""

    counts: DayCounts
    found: DayIssuances
    limit: int
    offset: int


def day_bounds(day: date) -> tuple[str, str]:
    """The instants (as stored: UTC, microseconds) where a day in Japan begins and ends."""
    start = datetime.combine(day, time(0), TOKYO)
    end = datetime.combine(day + timedelta(days=1), time(0), TOKYO)
    return (start.astimezone(UTC).isoformat(timespec="microseconds"),
            end.astimezone(UTC).isoformat(timespec="microseconds"))


class ManageService:
    """Management-terminal operations, each bound to the terminal's own municipality."""

    def __init__(self, store: Store, clock: Clock, municipalities: MunicipalityService,
                 linkage: LinkageService) -> None:
        self._store = store
        self._clock = clock
        self._municipalities = municipalities
        self._linkage = linkage

    @staticmethod
    def scope(terminal: TerminalRecord, *codes: str | None) -> None:
        """Refused (403) when any municipality a request names is not the terminal's own
        (whether that code is registered or not: a terminal learns nothing of others)."""
        for code in codes:
            if code is not None and code != terminal.municipality_code:
                raise Refused(f"this terminal manages {terminal.municipality_code} only",
                              code="other_municipality")

    def today(self) -> date:
        return tokyo(self._clock.now()).date()

    async def day_counts(self, code: str, day: date) -> DayCounts:
        since, until = day_bounds(day)
        return DayCounts.of(day, await self._store.manage.day_issuances(code, since, until, 0, 0))

    async def status(self, terminal: TerminalRecord) -> TerminalStatus:
        code = terminal.municipality_code
        view = await self._municipalities.get(code)
        return TerminalStatus(terminal, view, await self.day_counts(code, self.today()))

    async def set_hours(self, terminal: TerminalRecord, open_: str, close: str) -> TerminalStatus:
        await self._municipalities.set_hours(terminal.municipality_code, open_, close,
                                             actor=terminal_actor(terminal))
        return await self.status(terminal)

    async def suspend(self, terminal: TerminalRecord, reason: str) -> TerminalStatus:
        await self._municipalities.suspend(terminal.municipality_code, reason, actor=terminal_actor(terminal))
        return await self.status(terminal)

    async def resume(self, terminal: TerminalRecord) -> TerminalStatus:
        await self._municipalities.resume(terminal.municipality_code, actor=terminal_actor(terminal))
        return await self.status(terminal)

    async def issuances(self, terminal: TerminalRecord, day: date, *, limit: int = 200,
                        offset: int = 0) -> DayListing:
        since, until = day_bounds(day)
        found = await self._store.manage.day_issuances(terminal.municipality_code, since, until,
                                                       min(max(limit, 0), MAX_PAGE), max(offset, 0))
        return DayListing(DayCounts.of(day, found), found, limit, offset)

    async def batches(self, terminal: TerminalRecord, *, limit: int = 50) -> list[BatchView]:
        return await self._linkage.batches(terminal.municipality_code, min(max(limit, 1), MAX_BATCHES))
