"""What the relay takes and returns: typed values, one per step of a store issuance
(contract §5). The HTTP layer reads them from JSON bodies and writes them back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bcl_console.domain.municipality import CertificateType


@dataclass(frozen=True)
class ChallengeIssued:
    challenge_id: str
    nonce: str  # base64 of 32 random bytes


@dataclass(frozen=True)
class CardProof:
    """A card's answer to a challenge: its certificate and its signature over the nonce."""

    challenge_id: str
    certificate: str  # PEM
    signature: str  # base64


@dataclass(frozen=True)
class CertificateFee:
    type: str
    fee: int


@dataclass(frozen=True)
class SessionOpened:
    session_id: str
    municipality_code: str
    municipality_name: str
    resident_code: str
    certificates: tuple[CertificateFee, ...]


@dataclass(frozen=True)
class CertificateOrder:
    """What a kiosk asks for in a session (options are checked by the relay)."""

    session_id: str
    type: CertificateType
    copies: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The order as a kiosk's request body says it."""
        return {"session_id": self.session_id, "type": self.type.value, "copies": self.copies,
                "options": self.options}


@dataclass(frozen=True)
class RequestAccepted:
    request_id: str
    fee_total: int
    status: str


@dataclass(frozen=True)
class Payment:
    status: str
    verification_code: str
    pages: int


@dataclass(frozen=True)
class Completion:
    status: str
    refunded: int


@dataclass(frozen=True)
class CounterIssued:
    """A counter request, issued at once (no payment call): the fee recorded, the document's
    code and pages (None only for a request voided before it was issued)."""

    request_id: str
    fee_total: int
    status: str
    verification_code: str | None
    pages: int | None
