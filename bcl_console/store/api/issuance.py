"""Issuance (issuances, cards, relay sessions): what crosses the store boundary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bcl_console.domain.certificate import DisasterRecord, SealRecord, TaxRecord, VictimRecord
from bcl_console.domain.municipality import CertificateType, Municipality
from bcl_console.domain.resident import Resident
from bcl_console.store.api.audit import AuditEntry


@dataclass(frozen=True)
class IssuanceRecord:
    request_id: str
    type: str
    options: dict[str, Any]
    municipality_code: str
    resident_code: str
    channel: str
    operator: str | None
    fee: int
    state: str
    verification_code: str | None
    content_sha256: str | None
    pages: int | None
    document_path: str | None
    created_at: str
    issued_at: str | None
    voided_at: str | None
    #: The signed JSON of each front page as issued (what its 2-D code carries).
    signed_pages: tuple[str, ...] | None = None
    #: 証明番号 as printed.
    certificate_number: str | None = None
    #: The layout version (様式の版) the document is made with.
    layout_version: int = 1


@dataclass(frozen=True)
class CertificateSource:
    """What a certificate of one resident is made from, read in one snapshot."""

    municipality: Municipality
    resident: Resident
    members: list[Resident]
    seal: SealRecord | None = None
    tax: TaxRecord | None = None
    latest_tax_year: int | None = None
    disaster: DisasterRecord | None = None
    victim: VictimRecord | None = None


@dataclass(frozen=True)
class IssuedDocumentPath:
    """A paid request's document: where it was written, its hash, code and pages."""

    request_id: str
    verification_code: str
    content_sha256: str
    pages: int
    document_path: str
    at: str
    latency_ms: int
    signed_pages: tuple[str, ...] = ()
    certificate_number: str | None = None
    layout_version: int = 1


@dataclass(frozen=True)
class IdempotentRequest:
    """A store request found by its operator and Idempotency-Key, with its body's hash."""

    record: IssuanceRecord
    body_sha256: str
    copies: int


@dataclass(frozen=True)
class CardRecord:
    serial: str
    municipality_code: str
    resident_code: str
    not_before: str
    not_after: str
    issued_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class ChallengeRecord:
    """A challenge a relay client asked for: single use, until ``expires_at`` (UTC ISO)."""

    challenge_id: str
    operator: str
    nonce: bytes
    expires_at: str


@dataclass(frozen=True)
class SessionRecord:
    """An authenticated card at a relay client, until ``expires_at`` (UTC ISO)."""

    session_id: str
    operator: str
    municipality_code: str
    resident_code: str
    card_serial: str
    expires_at: str
    channel: str = "store"


@dataclass(frozen=True)
class Route:
    """Where the relay sends a card's requests: its municipality and the fees it charges."""

    municipality: Municipality
    fees: dict[CertificateType, int]


class IssuanceStore(Protocol):
    async def certificate_source(self, resident_code: str, ctype: CertificateType, options: dict[str, Any],
                                 municipality_code: str | None) -> CertificateSource:
        """Everything a certificate needs; NotFound when the resident is not known."""
        ...

    async def record_issued(self, record: IssuanceRecord) -> None:
        """A document issued now (counter issuance, test stages): one row, state issued."""
        ...

    async def next_number(self, municipality_code: str, year: int) -> int:
        """The next 証明番号 of a municipality in a calendar year (never given twice)."""
        ...

    async def by_code(self, code: str) -> IssuanceRecord | None: ...

    async def by_request(self, request_id: str) -> IssuanceRecord | None: ...

    async def document_paths(self, request_ids: Sequence[str]) -> dict[str, str | None]:
        """The document each of these requests records (request id → its path; None before
        it is issued); requests not known are left out."""
        ...

    async def by_idempotency(self, operator: str, key: str) -> IdempotentRequest | None: ...

    async def operator_requests(self, operator: str) -> list[tuple[str, str | None, str]]:
        """Every request of one kiosk operator: (request id, Idempotency-Key, state), oldest
        first (the two-centres drill checks them against what its kiosks were answered)."""
        ...

    async def open_request(self, record: IssuanceRecord, *, session_id: str, idempotency_key: str,
                           body_sha256: str, copies: int) -> IssuanceRecord:
        """A store request awaiting payment; a concurrent retry with the same key that
        won the race is answered as it was (Conflict idempotency_conflict for another body)."""
        ...

    async def mark_issued(self, issued: IssuedDocumentPath, audit: AuditEntry | None = None) -> bool:
        """awaiting_payment → issued, only from that state; False when it was not. The audit
        line (counter issuance) is written in the same transaction, only with the change."""
        ...

    async def complete(self, request_id: str, printed: bool, at: str, audit: AuditEntry | None = None) -> bool:
        """issued → printed, or issued → voided; False when the request was not issued. The
        audit line, when given, is written with the change only."""
        ...

    async def record_refusal(self, at: str, operator: str | None, municipality_code: str | None,
                             reason: str) -> None: ...

    async def route(self, municipality_code: str) -> Route | None: ...

    async def municipality(self, municipality_code: str) -> Municipality | None: ...

    async def resident(self, municipality_code: str, resident_code: str) -> Resident | None: ...


class CardStore(Protocol):
    async def municipality_exists(self, municipality_code: str) -> bool: ...

    async def record_cards(self, cards: list[CardRecord], audit: AuditEntry | None) -> None:
        """Cards made by the test CA, with the audit line of a single card's issue."""
        ...

    async def revoke_card(self, serial: str, audit: AuditEntry) -> None:
        """Revoke a card at ``audit.at`` (audited once, with the card's municipality);
        NotFound when no card of that serial was issued."""
        ...

    async def card(self, serial: str) -> CardRecord | None: ...

    async def card_residents(self, municipality_code: str, limit: int) -> list[str]:
        """Residents holding an unrevoked test card of a municipality."""
        ...


class RelayStore(Protocol):
    """The relay's challenges and sessions: in the database, so a restart or another
    worker finds them; a challenge is taken once (a guarded DELETE), whoever asks."""

    async def open_challenge(self, challenge: ChallengeRecord, *, now: str, max_open: int) -> None:
        """Record a challenge; drop expired challenges and sessions and cap how many are open."""
        ...

    async def take_challenge(self, challenge_id: str) -> ChallengeRecord | None:
        """Remove a challenge and return it: only one caller ever gets it."""
        ...

    async def open_session(self, session: SessionRecord) -> None: ...

    async def session(self, session_id: str) -> SessionRecord | None: ...

    async def close_session(self, session_id: str) -> None: ...
