"""The store's boundary: what services may ask of a database, as typed protocols.

Services hold a ``Store`` and call ``store.<area>.<fact>(…)``; each fact is one
transaction inside the store. ``store/sqlite.py`` is the embedded implementation; a
second one (PostgreSQL) satisfies the same protocols. No service sees a connection, a
cursor, SQL or an engine's exceptions: the records below, ``StoreError`` and its
subclasses (``StorageFull``), and the domain's errors are all that cross this line.

One section per area, in the order of ``Store``'s attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from bcl_console.domain.certificate import DisasterRecord, SealRecord, TaxRecord
from bcl_console.domain.municipality import CertificateType, Municipality
from bcl_console.domain.onboarding import Outcome, Stage
from bcl_console.domain.resident import Resident

if TYPE_CHECKING:  # rows of areas not yet on the boundary; the test stages pass them through
    from bcl_console.store.linkage import BackupRecord, BatchRecord
    from bcl_console.store.onboarding import PlanRow as PlanRow
    from bcl_console.store.onboarding import StageRun as StageRun
    from bcl_console.store.onboarding import StepRow
    from bcl_console.store.residents import HeldCounts

# --- audit: written inside the facts it records, read by the console -----------------


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    interface: str
    municipality_code: str | None
    action: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None


# --- tokens ---------------------------------------------------------------------------


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


# --- municipalities -------------------------------------------------------------------

# --- linkage --------------------------------------------------------------------------

# --- residents ------------------------------------------------------------------------

# --- issuance (issuances, cards, relay sessions) --------------------------------------


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

    async def by_code(self, code: str) -> IssuanceRecord | None: ...

    async def by_request(self, request_id: str) -> IssuanceRecord | None: ...

    async def by_idempotency(self, operator: str, key: str) -> IdempotentRequest | None: ...

    async def open_request(self, record: IssuanceRecord, *, session_id: str, idempotency_key: str,
                           body_sha256: str, copies: int) -> IssuanceRecord:
        """A store request awaiting payment; a concurrent retry with the same key that
        won the race is answered as it was (Conflict idempotency_conflict for another body)."""
        ...

    async def mark_issued(self, issued: IssuedDocumentPath) -> bool:
        """awaiting_payment → issued, only from that state; False when it was not."""
        ...

    async def complete(self, request_id: str, printed: bool, at: str) -> bool:
        """issued → printed, or issued → voided; False when the request was not issued."""
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


# --- test stages (the onboarding area's runs, with what the stages read to check) -----


class TestStageStore(Protocol):
    """The facts of the test stages (``services.onboarding.teststages``); a finish or a
    confirmation carries its audit line."""

    async def municipality(self, code: str) -> Municipality | None: ...

    async def municipality_exists(self, code: str) -> bool: ...

    async def plan(self, code: str) -> PlanRow | None: ...

    async def plan_steps(self, code: str) -> list[StepRow]: ...

    async def passed_stages(self, code: str) -> set[Stage]: ...

    async def runs(self, code: str) -> list[StageRun]: ...

    async def run(self, run_id: int) -> StageRun | None: ...

    async def start_run(self, code: str, stage: Stage, at: str, by: str) -> int: ...

    async def finish_run(self, run_id: int, code: str, stage: Stage, outcome: Outcome, reason: str,
                         evidence: dict[str, Any], log: str, today: date, audit: AuditEntry) -> None:
        """A run's outcome, its plan step ticked when it passed, and its audit line."""
        ...

    async def confirm(self, code: str, stage: Stage, note: str | None, today: date, audit: AuditEntry) -> int:
        """The stage's newest run awaiting confirmation passes; Conflict when there is none.
        The audit's ``new_value`` is filled with the run's number; returns the run id."""
        ...

    async def start_drill(self, code: str, at: str) -> None: ...

    async def end_drill(self, code: str) -> None: ...

    async def batches(self, code: str, limit: int) -> list[BatchRecord]: ...

    async def backups(self, code: str) -> list[BackupRecord]: ...

    async def last_applied_sequence(self, code: str) -> int: ...

    async def held_counts(self) -> dict[str, HeldCounts]: ...

    async def resident_values(self, code: str, resident_codes: Sequence[str]) -> dict[str, tuple[Any, ...]]: ...

    async def test_residents(self, code: str, limit: int) -> list[str]: ...

    async def latest_tax_year(self, code: str, resident_code: str) -> int | None: ...


# --- onboarding (plans, test stages) --------------------------------------------------

# --- settlement -----------------------------------------------------------------------

# --- disaster (ledger, assessments, support) ------------------------------------------

# --- the store ------------------------------------------------------------------------


class Store(Protocol):
    """One centre's database. Areas are attributes, one per centre function."""

    tokens: TokenStore
    issuances: IssuanceStore
    cards: CardStore
    relay: RelayStore
    teststages: TestStageStore

    async def open(self, *, target_version: int | None = None) -> tuple[int, int]:
        """Open and migrate; the schema versions before and after."""
        ...

    async def close(self) -> None: ...
