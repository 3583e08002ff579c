"""Bearer tokens of the centre's HTTP clients (linkage servers, kiosk operators …).

A token is 32 random bytes, shown once; only its SHA-256 is stored, so a copy of the
data directory does not leak working tokens. Issuing one is audited, never logged.
"""

from __future__ import annotations

import hashlib
import secrets

from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.store.api import AuditEntry, Store

PREFIXES = {"linkage": "bcl_lnk_", "kiosk": "bcl_ksk_", "shelter": "bcl_shl_"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def issue(self, kind: str, subject: str, *, actor: Actor,
                    must_be_municipality: bool = False) -> str:
        token = PREFIXES.get(kind, "bcl_") + secrets.token_urlsafe(32)
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface,
                           subject if must_be_municipality else None, f"{kind}-token", None, None, "issued")
        await self._store.tokens.issue_token(kind, subject, token_hash(token), audit,
                                             must_be_municipality=must_be_municipality)
        return token

    async def subject(self, kind: str, token: str) -> str | None:
        """Whom a presented token belongs to, or None (unknown, revoked, malformed)."""
        if not token or len(token) > 200:
            return None
        return await self._store.tokens.token_subject(kind, token_hash(token))

    async def subjects(self, kind: str) -> list[str]:
        """Everyone holding a valid token of a kind (e.g. the registered kiosk operators)."""
        return await self._store.tokens.token_subjects(kind)
