"""The in-process event bus: services publish small typed facts, screens subscribe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from bcl_console.store.api import EventChannel

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


@dataclass(frozen=True)
class Resynced(Event):
    """Events from other processes may have been missed (the database connection that
    carries them was lost and is back): whoever shows live data reloads it whole."""


Subscriber = Callable[[Event], None]

#: The events that other processes on the same database hear of (``serve --workers``,
#: a console attached to a centre that workers serve): facts about the centre's data,
#: never progress lines of this process's own long work.
SHARED: dict[str, type[Event]] = {cls.__name__: cls for cls in (
    MunicipalityChanged, BatchApplied, BatchRejected, CertificateIssued, IssuanceChanged, OnboardingChanged,
    StageFinished, LedgerChanged, RelayRefused)}


def encode(event: Event, origin: str) -> str:
    return json.dumps({"o": origin, "t": type(event).__name__, "f": asdict(event)}, ensure_ascii=False,
                      separators=(",", ":"))


def decode(payload: str, origin: str) -> Event | None:
    """The event of another process's payload; None for our own, or one we cannot read."""
    try:
        doc = json.loads(payload)
        if doc.get("o") == origin:
            return None
        cls = SHARED.get(str(doc.get("t")))
        if cls is None:
            return None
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in dict(doc.get("f") or {}).items() if k in names}
        return cls(**values)
    except (ValueError, TypeError, AttributeError):
        log.warning("an unreadable event from another process was ignored")
        return None


class EventBus:
    """Synchronous fan-out on the event loop; a subscriber must only hand the event on."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channel: EventChannel | None = None
        self._listener: asyncio.Task[None] | None = None
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def share(self, channel: EventChannel) -> None:
        """Send the shared events of this process through ``channel`` and publish here
        those of every other process on the same database."""
        self._channel = channel

        def arrived(payload: str) -> None:
            event = decode(payload, self.origin)
            if event is not None:
                self._deliver(event)

        self._listener = asyncio.get_running_loop().create_task(
            channel.listen(arrived, lambda: self._deliver(Resynced())))

    async def unshare(self) -> None:
        self._channel = None
        if self._listener is not None:
            listener, self._listener = self._listener, None
            while not listener.done():  # a cancellation lost in a race is asked for again
                listener.cancel()
                await asyncio.wait({listener}, timeout=1)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                listener.result()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        if self._channel is not None and type(event).__name__ in SHARED:
            self._channel.send(encode(event, self.origin))
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
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
