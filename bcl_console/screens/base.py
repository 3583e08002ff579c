"""What every live screen shares: the runtime, and refreshes driven by service events."""

from __future__ import annotations

from typing import ClassVar, Protocol, cast

from textual.screen import Screen
from textual.signal import Signal

from bcl_console.services.platform.events import Event
from bcl_console.services.platform.runtime import Runtime


class Console(Protocol):
    """What a screen needs of the app hosting it (app.BclApp): the runtime it shows, and
    the service events relayed onto the UI's loop."""

    runtime: Runtime
    service_events: Signal[Event]
    #: Read the screen again this often (a console attached to a centre other processes
    #: change too: `bcl-console web`), or None.
    poll_seconds: float | None

#: Bursts of events are folded into one refresh per this many seconds.
REFRESH_DELAY = 0.3


class LiveScreen(Screen[None]):
    """A screen that reloads its read model when a service event it cares about arrives."""

    EVENT_TYPES: tuple[type[Event], ...] = ()
    #: Events arriving within this many seconds are folded into one reload.
    REFRESH_DELAY: ClassVar[float] = REFRESH_DELAY

    @property
    def runtime(self) -> Runtime:
        return cast(Console, self.app).runtime

    def on_mount(self) -> None:
        self._refresh_pending = False
        console = cast(Console, self.app)
        console.service_events.subscribe(self, self._on_service_event)
        poll = getattr(console, "poll_seconds", None)
        if poll:
            self.set_interval(max(poll, self.REFRESH_DELAY), self._poll)
        self.reload_now()

    def _poll(self) -> None:
        """What other processes changed, shown on the screen in view (not behind a form)."""
        if self.is_current:
            self.schedule_reload()

    def _on_service_event(self, event: Event) -> None:
        if isinstance(event, self.EVENT_TYPES):
            self.handle_event(event)
            self.schedule_reload()

    def handle_event(self, event: Event) -> None:
        """React at once to an event (e.g. progress); the reload follows, folded."""

    def schedule_reload(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            self.set_timer(self.REFRESH_DELAY, self._run_reload)

    def _run_reload(self) -> None:
        self._refresh_pending = False
        self.reload_now()

    def reload_now(self) -> None:
        """Reload in a worker; a newer reload cancels one still running (exclusive)."""
        self.run_worker(self.reload, group="reload", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]

    async def reload(self) -> None:
        """Read from the services and update the widgets in place."""
