"""Tokens: what crosses the store boundary."""

from __future__ import annotations

from typing import Protocol

from bcl_console.store.api.audit import AuditEntry


class TokenStore(Protocol):
    async def issue_token(self, kind: str, subject: str, token_sha256: str, audit: AuditEntry, *,
                          must_be_municipality: bool) -> None:
        """Record a token (its hash only) and its audit line; NotFound when the subject
        must be a registered municipality and is not."""
        ...

    async def token_subject(self, kind: str, token_sha256: str) -> str | None: ...

    async def token_subjects(self, kind: str) -> list[str]:
        """Everyone holding a valid token of a kind, in the order first registered."""
        ...
