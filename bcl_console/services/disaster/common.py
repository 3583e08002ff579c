"""What the disaster services share: the store, the clock, the bus, and the checks of
free text and dates that every form of the disaster API makes."""

from __future__ import annotations

from datetime import date

from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.wareki import parse_date
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now, today_in_japan
from bcl_console.services.platform.events import EventBus, LedgerChanged
from bcl_console.store.api import AuditEntry, Store

MAX_TEXT = 200


def text(value: str, field: str, limit: int = MAX_TEXT) -> str:
    """Free text with its whitespace collapsed; empty or too long is InvalidInput."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput(f"{field} is empty", field=field)
    if len(cleaned) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    return cleaned


def day(value: str, field: str, today: date) -> date:
    """A date as ISO or 和暦; a bad one is InvalidInput naming the field."""
    try:
        return parse_date(value.strip(), today=today)
    except InvalidInput as exc:
        raise InvalidInput(f"{field} {value!r}: {exc.message}", field=field) from None


class DisasterPart:
    """One sub-area of disaster support: the store's disaster facts, the clock, and the
    LedgerChanged events the console's screen reloads on."""

    def __init__(self, store: Store, clock: Clock, bus: EventBus) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus

    def today(self) -> date:
        return today_in_japan(self._clock)

    def _changed(self, disaster_id: int | None, what: str) -> None:
        self._bus.publish(LedgerChanged(disaster_id, what))

    def _audit(self, actor: Actor, code: str | None, action: str, field: str | None = None,
               old: str | None = None, new: str | None = None) -> AuditEntry:
        """The audit line of a change made now (the fact completes what only it knows)."""
        return AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, action, field, old, new)
