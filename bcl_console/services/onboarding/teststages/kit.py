"""What every test stage works with: the run it records into, and the in-process kiosk
(test residents, fresh test cards, the relay driven step by step as a kiosk drives it)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bcl_console.domain.errors import DomainError
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.municipality import CertificateType, Hosting, Municipality
from bcl_console.domain.onboarding import Stage
from bcl_console.services.issuance.own_server import OwnServerClient
from bcl_console.services.issuance.pki import CardHolder, PkiService
from bcl_console.services.issuance.relay import RelayService
from bcl_console.services.issuance.relay_values import CardProof, CertificateOrder, SessionOpened
from bcl_console.services.issuance.service import IssuanceService
from bcl_console.services.issuance.verification import VerificationService
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock
from bcl_console.services.platform.events import EventBus
from bcl_console.services.platform.keys import KeyStore
from bcl_console.store.api import Store

#: The centre's own pseudo-evaluation kiosk (擬似評価環境) that stage 2 issues through.
PSEUDO_OPERATOR = "擬似評価環境"
TEST_RESIDENTS = 3
T = TypeVar("T")

LogFn = Callable[[str], None]


class StageFailed(Exception):
    """The stage ran and did not pass: the reason goes on the record."""


class RefusedByRelay(StageFailed):
    """The relay refused a step of a test issuance, as it would refuse a kiosk."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(f"the relay refused: {error.code}: {error.message}")
        self.error = error


@dataclass
class Run:
    """One run of a stage: what it is about, its log, and the evidence it gathers."""

    municipality: Municipality
    stage: Stage
    log: LogFn
    offers_seal: bool = False
    operator: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


async def ask(step: Awaitable[T]) -> T:
    """A step of the in-process kiosk: what the relay refuses fails the stage, named as the relay's."""
    try:
        return await step
    except DomainError as exc:
        raise RefusedByRelay(exc) from None


@dataclass
class Kit:
    """The centre's services as the stages use them."""

    store: Store
    clock: Clock
    bus: EventBus
    keys: KeyStore
    data_dir: Path
    tmp_dir: Path
    pki: PkiService
    issuance: IssuanceService
    relay: RelayService
    verification: VerificationService
    own: OwnServerClient

    async def operators(self) -> list[str]:
        return await self.store.tokens.token_subjects("kiosk")

    async def registered_operators(self) -> list[str]:
        operators = await self.operators()
        if not operators:
            raise StageFailed("no kiosk operator is registered (kiosk register --operator NAME)")
        return operators

    async def test_residents(self, m: Municipality) -> list[str]:
        if m.hosting is Hosting.OWN_SERVER:
            residents = await self.store.cards.card_residents(m.code, TEST_RESIDENTS)
        else:
            residents = await self.store.teststages.test_residents(m.code, TEST_RESIDENTS)
        if not residents:
            raise StageFailed("the municipality has no test residents (link its data, or issue test cards)")
        return residents

    async def cards(self, m: Municipality, residents: list[str], run: Run) -> dict[str, CardHolder]:
        """Fresh test cards for the test residents (recorded, so revocation checks apply)."""
        cards = await asyncio.gather(*(asyncio.to_thread(self.pki.make_card, m.code, rc) for rc in residents))
        await self.pki.record(list(cards), actor=Actor("teststage", "teststage"))
        run.evidence["test_cards"] = [c.serial for c in cards]
        run.log(f"{len(cards)} test card(s) made for residents {', '.join(residents)}")
        return {c.resident_code: CardHolder(c.pem) for c in cards}

    async def first_holder(self, run: Run) -> CardHolder:
        """A fresh test card for the first test resident."""
        residents = await self.test_residents(run.municipality)
        return (await self.cards(run.municipality, residents[:1], run))[residents[0]]

    async def session(self, operator: str, channel: str, holder: CardHolder) -> SessionOpened:
        """Authenticate the card at the relay as a kiosk does: challenge, signed nonce, session."""
        challenge = await ask(self.relay.challenge(operator))
        proof = CardProof(challenge.challenge_id, holder.certificate, holder.sign(challenge.nonce))
        return await ask(self.relay.open_session(operator, proof, channel=channel))

    async def options(self, m: Municipality, resident: str, ctype: CertificateType) -> dict[str, Any] | None:
        """Options that make ``ctype`` issuable for ``resident``, or None when it is not."""
        options: dict[str, Any] = {}
        if ctype is CertificateType.RESIDENCE:
            options = {"scope": "self"}
        elif ctype is CertificateType.TAX:
            year = await self.store.teststages.latest_tax_year(m.code, resident)
            if year is None and m.hosting is Hosting.BCL:
                return None
            options = {"fiscal_year": year or tokyo(self.clock.now()).year}
        if m.hosting is Hosting.BCL:
            try:
                await self.issuance.prepare(resident, ctype.value, options, municipality_code=m.code)
            except DomainError:
                return None
        return options

    async def flow(self, run: Run, operator: str, channel: str, holder: CardHolder, ctype: CertificateType,
                   options: dict[str, Any]) -> dict[str, Any]:
        """One issuance through the relay, exactly as a kiosk drives it, then verified."""
        relay = self.relay
        session = await self.session(operator, channel, holder)
        key = f"teststage-{run.stage.value}-{time.time_ns()}"
        request = await ask(relay.request(operator, CertificateOrder(session.session_id, ctype, 1, options),
                                          idempotency_key=key))
        rid = request.request_id
        paid = await ask(relay.pay(operator, rid, request.fee_total))
        pdf = await ask(relay.document(operator, rid))
        verdict = await self.verification.verify_bytes(pdf)
        done = await ask(relay.complete(operator, rid, printed=True))
        item = {"operator": operator, "channel": channel, "type": ctype.value, "resident": session.resident_code,
                "request_id": rid, "fee": request.fee_total, "verification_code": paid.verification_code,
                "pages": paid.pages, "sha256": hashlib.sha256(pdf).hexdigest(), "verdict": verdict.status,
                "status": done.status}
        run.log(f"{operator}: {ctype.label} for {session.resident_code} → {paid.verification_code} "
                f"({paid.pages} page(s)), verification {verdict.status}")
        if verdict.status != "genuine":
            raise StageFailed(f"the {ctype.value} document of request {rid} did not verify: {verdict.reason}")
        return item
