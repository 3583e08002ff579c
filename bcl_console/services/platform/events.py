"""The in-process event bus: services publish small typed facts, screens subscribe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every event."""


@dataclass(frozen=True)
class MunicipalityChanged(Event):
    code: str
    action: str


@dataclass(frozen=True)
class DemoProgress(Event):
    step: str
    done: int
    total: int


@dataclass(frozen=True)
class DemoCompleted(Event):
    seed: int
    residents: int


@dataclass(frozen=True)
class BatchApplied(Event):
    municipality_code: str
    sequence: int
    kind: str


@dataclass(frozen=True)
class BatchRejected(Event):
    municipality_code: str | None
    sequence: int | None
    problems: int


@dataclass(frozen=True)
class LinkageProgress(Event):
    batch: str
    done: int
    total: int


@dataclass(frozen=True)
class CertificateIssued(Event):
    municipality_code: str
    type: str
    channel: str


@dataclass(frozen=True)
class IssuanceChanged(Event):
    """A store request moved: created (awaiting_payment), issued, printed or voided."""

    request_id: str
    municipality_code: str
    type: str
    state: str
    operator: str | None
    latency_ms: int | None


@dataclass(frozen=True)
class OnboardingChanged(Event):
    """A plan was made or changed, a step ticked, an override set, reminders given."""

    municipality_code: str | None
    action: str


@dataclass(frozen=True)
class StageProgress(Event):
    """One line of a running test stage's log."""

    municipality_code: str
    stage: str
    message: str


@dataclass(frozen=True)
class StageFinished(Event):
    municipality_code: str
    stage: str
    outcome: str


@dataclass(frozen=True)
class LedgerChanged(Event):
    """Disaster support changed: a disaster, assessment, check-in, payment, plan, application."""

    disaster_id: int | None
    what: str


@dataclass(frozen=True)
class RelayRefused(Event):
    reason: str
    municipality_code: str | None


Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out on the event loop; a subscriber must only hand the event on."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s", type(event).__name__)

    def publish_threadsafe(self, event: Event) -> None:
        """Publish from a worker thread: the event is delivered on the loop."""
        if self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self.publish, event)


@dataclass(frozen=True)
class LayoutChanged(Event):
    """A layout version was staged, re-tested for a municipality, or activated."""

    type: str
    version: int
    action: str
