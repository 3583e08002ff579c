"""The municipalities' terminals, one service per kind (``domain.terminals``): management
terminals (管理端末, contract §13) and counter terminals (らくらく窓口, §14). The centre
registers each for one municipality with its own token (shown once; only its SHA-256 is
kept) and may revoke it at once.

A terminal's token authenticates every request afresh from the database, so a revoked
terminal is refused from its next request on, in every process serving the centre; a token
of one kind never opens the other kind's API.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.terminals import KINDS, TerminalKind
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.events import EventBus, MunicipalityChanged
from bcl_console.services.platform.tokens import token_hash
from bcl_console.store.api import AuditEntry, Store, TerminalRecord

MAX_NAME = 60
#: A presented token longer than this is no token of ours (nothing is looked up).
MAX_TOKEN = 200


def validate_terminal_name(text: str) -> str:
    """A terminal's name: spaces collapsed, 1 to 60 characters, not digits alone (those
    name a terminal by its id in ``terminal revoke`` / ``counter revoke``)."""
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
    """Whom the audit trail names for what a terminal does: its name, through its kind's
    interface (``manage``, ``counter``)."""
    return Actor(t.name, KINDS[t.kind].interface)


class TerminalService:
    """Registering, listing, revoking and authenticating the terminals of one kind."""

    def __init__(self, store: Store, clock: Clock, bus: EventBus, kind: TerminalKind) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus
        self.kind = kind

    async def add(self, code: str, name: str, *, actor: Actor) -> IssuedTerminal:
        clean = validate_terminal_name(name)
        code = code.strip()
        token = self.kind.token_prefix + secrets.token_urlsafe(32)
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, self.kind.add_action,
                           "terminal", None, clean)
        record = await self._store.terminals.add_terminal(self.kind.key, code, clean, token_hash(token), audit)
        self._bus.publish(MunicipalityChanged(code, self.kind.add_action))
        return IssuedTerminal(record, token)

    async def list(self, code: str | None = None) -> list[TerminalRecord]:
        return await self._store.terminals.terminals(self.kind.key, code.strip() if code else None)

    async def revoke(self, code: str, which: str, *, actor: Actor) -> tuple[TerminalRecord, bool]:
        """Revoke a terminal by id or name; whether it was in use until now."""
        code, which = code.strip(), " ".join(which.split())
        if not which:
            raise InvalidInput("name the terminal to revoke (its name or id)", field="terminal")
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, self.kind.revoke_action,
                           "terminal", None, "revoked")
        record, changed = await self._store.terminals.revoke_terminal(self.kind.key, code, which, audit)
        if changed:
            self._bus.publish(MunicipalityChanged(code, self.kind.revoke_action))
        return record, changed

    async def authenticate(self, token: str | None) -> TerminalRecord | None:
        """The terminal in use that presents ``token``, or None (unknown, revoked, malformed,
        or a token of another kind)."""
        if not token or len(token) > MAX_TOKEN or not token.startswith(self.kind.token_prefix):
            return None
        return await self._store.terminals.terminal_by_token(self.kind.key, token_hash(token))
