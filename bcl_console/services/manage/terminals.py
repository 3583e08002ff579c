"""Management terminals (管理端末): registered per municipality by the centre, each with
its own token (shown once; only its SHA-256 is kept), revocable at once.

A terminal's token authenticates every /manage/v1 request afresh from the database, so a
revoked terminal is refused from its next request on, in every process serving the centre.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

from bcl_console.domain.errors import InvalidInput
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.events import EventBus, MunicipalityChanged
from bcl_console.services.platform.tokens import PREFIXES, token_hash
from bcl_console.store.api import AuditEntry, Store, TerminalRecord

#: How a management terminal's token begins (so a leaked one is recognised for what it is).
TOKEN_PREFIX = PREFIXES.get("manage", "bcl_mgt_")
MAX_NAME = 60
#: A presented token longer than this is no token of ours (nothing is looked up).
MAX_TOKEN = 200
#: The interface the audit trail names for changes made through /manage/v1.
INTERFACE = "manage"


def validate_terminal_name(text: str) -> str:
    """A terminal's name: spaces collapsed, 1 to 60 characters, not digits alone (those
    name a terminal by its id in ``terminal revoke``)."""
    name = " ".join(text.split())
    if not name:
        raise InvalidInput("a terminal needs a name", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"the terminal name is longer than {MAX_NAME} characters", field="name")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("the terminal name holds a control character", field="name")
    if name.isdigit():
        raise InvalidInput("a terminal name of digits alone would read as a terminal id", field="name")
    return name


@dataclass(frozen=True)
class IssuedTerminal:
    """A terminal just registered, with its token: the only time the token exists in full."""

    terminal: TerminalRecord
    token: str


def terminal_json(t: TerminalRecord) -> dict[str, object]:
    return {"id": t.id, "municipality_code": t.municipality_code, "name": t.name,
            "state": "active" if t.active else "revoked", "created_at": t.created_at,
            "created_by": t.created_by, "revoked_at": t.revoked_at, "revoked_by": t.revoked_by}


def terminal_actor(t: TerminalRecord) -> Actor:
    """Whom the audit trail names for a terminal's changes: its name, through ``manage``."""
    return Actor(t.name, INTERFACE)


class TerminalService:
    """Registering, listing, revoking and authenticating management terminals."""

    def __init__(self, store: Store, clock: Clock, bus: EventBus) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus

    async def add(self, code: str, name: str, *, actor: Actor) -> IssuedTerminal:
        clean = validate_terminal_name(name)
        code = code.strip()
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, "terminal-add",
                           "terminal", None, clean)
        record = await self._store.manage.add_terminal(code, clean, token_hash(token), audit)
        self._bus.publish(MunicipalityChanged(code, "terminal-add"))
        return IssuedTerminal(record, token)

    async def list(self, code: str | None = None) -> list[TerminalRecord]:
        return await self._store.manage.terminals(code.strip() if code else None)

    async def revoke(self, code: str, which: str, *, actor: Actor) -> tuple[TerminalRecord, bool]:
        """Revoke a terminal by id or name; whether it was in use until now."""
        code, which = code.strip(), " ".join(which.split())
        if not which:
            raise InvalidInput("name the terminal to revoke (its name or id)", field="terminal")
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, "terminal-revoke",
                           "terminal", None, "revoked")
        record, changed = await self._store.manage.revoke_terminal(code, which, audit)
        if changed:
            self._bus.publish(MunicipalityChanged(code, "terminal-revoke"))
        return record, changed

    async def authenticate(self, token: str | None) -> TerminalRecord | None:
        """The terminal in use that presents ``token``, or None (unknown, revoked, malformed)."""
        if not token or len(token) > MAX_TOKEN or not token.startswith(TOKEN_PREFIX):
            return None
        return await self._store.manage.terminal_by_token(token_hash(token))
