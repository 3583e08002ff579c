"""The kiosk relay (中継): card authentication, routing, and the store issuance flow.

challenge → session (card checked: chain, validity, revocation, signature; routed by
the municipality in the card) → request (Idempotency-Key) → payment (the document is
issued) → document → completion (printed, or failed: voided and refunded).

The relay takes and returns typed values (``relay_values``) and refuses with the
domain's errors, each with its code; it knows no HTTP (``http/kiosk.py`` reads the
bodies and answers the statuses). Challenges and sessions are rows of the store, so a
restart or another worker finds them; each request is its own row, and every state
change is one transaction guarded by the previous state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from bcl_console.domain.certificate import CertificateContent
from bcl_console.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Refused,
    Unavailable,
)
from bcl_console.domain.municipality import CertificateType, Hosting, Municipality
from bcl_console.domain.resident import ResidentStatus
from bcl_console.services.issuance.own_server import OwnServerClient, OwnServerUnavailable
from bcl_console.services.issuance.pki import Card, CardRefused, PkiService
from bcl_console.services.issuance.relay_values import (
    CardProof,
    CertificateFee,
    CertificateOrder,
    ChallengeIssued,
    Completion,
    CounterIssued,
    Payment,
    RequestAccepted,
    SessionOpened,
)
from bcl_console.services.issuance.service import IssuanceService, check_options
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.events import EventBus, IssuanceChanged, RelayRefused
from bcl_console.services.platform.faults import fault_point
from bcl_console.services.platform.logs import note_municipality
from bcl_console.services.platform.metrics import Metrics
from bcl_console.store.api import (
    AuditEntry,
    ChallengeRecord,
    IssuanceRecord,
    Route,
    SessionRecord,
    Store,
)

log = logging.getLogger(__name__)

CHALLENGE_TTL = timedelta(seconds=60)
SESSION_TTL = timedelta(minutes=10)
MAX_OPEN = 100_000
MAX_COPIES = 5
#: Channels of the test stages: they may run before go-live; stage 2/3 never cost the resident anything.
TEST_CHANNELS = frozenset({"test-stage-2", "test-stage-3", "real-store-test"})
UNBILLED_CHANNELS = frozenset({"test-stage-2", "test-stage-3"})
#: Issuance at the town hall counter by card (らくらく窓口, contract §14): the fee is taken at
#: the counter and recorded; settlement does not bill it (it bills store channels only).
COUNTER_CARD = "counter-card"
#: The pseudo-evaluation environment's channel, where a staged layout version is re-tested.
RETEST_CHANNEL = "test-stage-2"

_CLOSED = {
    "suspended": "store issuance is suspended for this municipality",
    "not-live": "this municipality does not offer store issuance yet",
    "year-end-closure": "store issuance is closed from 29 December to 3 January",
    "outside-hours": "store issuance is outside this municipality's service hours",
    "failure-drill": "the centre is in a failure state for this municipality (business operation test drill)",
}


def _closed_error(reason: str) -> Unavailable:
    return Unavailable(_CLOSED.get(reason, reason), code=reason.replace("-", "_"))


def _unknown_request() -> NotFound:
    return NotFound("the request is unknown", code="unknown_request")


def order_fingerprint(body: object) -> str:
    """The SHA-256 of a request's body, as an Idempotency-Key's retry must repeat it."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def check_idempotency_key(key: str | None) -> str:
    """A request's Idempotency-Key: present, at most 200 characters."""
    if not key or len(key) > 200:
        raise BadRequest("the Idempotency-Key header is required (at most 200 characters)",
                         code="missing_idempotency_key")
    return key


def iso_utc(instant: datetime) -> str:
    """An instant as the store keeps it (UTC, with microseconds: strings that sort as time)."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


class RelayService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus, pki: PkiService, issuance: IssuanceService,
                 metrics: Metrics, own_server: OwnServerClient) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus
        self._pki = pki
        self._issuance = issuance
        self.metrics = metrics
        self._own = own_server
        self._paying: set[str] = set()

    async def refuse(self, error: DomainError, operator: str | None, municipality: str | None) -> DomainError:
        """Count and record a refusal (for the monitor and metrics); returns the error to raise."""
        self.metrics.refused(error.code)
        await self._store.issuances.record_refusal(iso_now(self._clock), operator, municipality, error.code)
        self._bus.publish(RelayRefused(error.code, municipality))
        return error

    # -- 1. challenge --------------------------------------------------------------------
    async def challenge(self, operator: str) -> ChallengeIssued:
        now = self._clock.now()
        record = ChallengeRecord(uuid.uuid4().hex, operator, secrets.token_bytes(32), iso_utc(now + CHALLENGE_TTL))
        await self._store.relay.open_challenge(record, now=iso_utc(now), max_open=MAX_OPEN)
        return ChallengeIssued(record.challenge_id, base64.b64encode(record.nonce).decode("ascii"))

    # -- 2. session ------------------------------------------------------------------------
    async def open_session(self, operator: str, proof: CardProof, *, channel: str = "store",
                           only_municipality: str | None = None) -> SessionOpened:
        """Authenticate a card. ``channel`` is ``store`` for the production API; the test
        stages open sessions on their own channels (test-stage-2/3, real-store-test), a
        municipality's counter on ``counter-card``. With ``only_municipality`` (a counter
        terminal's own), a card of another municipality is refused (``other_municipality``)
        before anything of its holder is read."""
        card = await self.authenticate_card(operator, proof)
        if only_municipality is not None and card.municipality_code != only_municipality:
            raise await self.refuse(Refused(f"this counter issues to residents of {only_municipality} only; "
                                            "the card is of another municipality", code="other_municipality"),
                                    operator, only_municipality)
        now = self._clock.now()
        route = await self._live_municipality(card.municipality_code, operator, channel)
        m = route.municipality
        await self._check_resident(m, card.resident_code, operator, channel)
        session = SessionRecord(uuid.uuid4().hex, operator, m.code, card.resident_code, card.serial,
                                iso_utc(now + SESSION_TTL), channel)
        await self._store.relay.open_session(session)
        return SessionOpened(session.session_id, m.code, m.name, card.resident_code,
                             tuple(CertificateFee(t.value, route.fees[t]) for t in CertificateType))

    async def authenticate_card(self, operator: str, proof: CardProof) -> Card:
        """Check a card against a challenge this client asked for (contract §5 step 2):
        single-use challenge, chain to the test JPKI CA, validity, revocation, signature.
        Kiosks, shelter terminals and residents at home all authenticate this way."""
        challenge = await self._store.relay.take_challenge(proof.challenge_id)  # single use, whatever happens next
        if challenge is None or challenge.operator != operator:
            raise Conflict("the challenge is unknown or was already used", code="unknown_challenge")
        if datetime.fromisoformat(challenge.expires_at) < self._clock.now():
            raise Conflict("the challenge has expired (60 s); ask for a new one", code="expired_challenge")
        try:
            card, key = self._pki.check_certificate(proof.certificate)
            self._pki.check_signature(key, challenge.nonce, proof.signature)
            await self._pki.check_recorded(card.serial)
        except CardRefused as exc:
            raise await self.refuse(exc, operator, None) from None
        return card

    async def _live_municipality(self, code: str, operator: str, channel: str) -> Route:
        note_municipality(code)
        route = await self._store.issuances.route(code)
        if route is None:
            raise await self.refuse(NotFound("the card's municipality is not served by this centre",
                                             code="unknown_municipality"), operator, code)
        reason = route.municipality.closed_reason(self._clock.now())
        if channel in TEST_CHANNELS and reason in ("not-live", "outside-hours", "year-end-closure"):
            reason = None  # a test stage runs before go-live and at any hour; drills and suspensions still hold
        if channel == COUNTER_CARD and reason != "failure-drill":
            reason = None  # the store controls do not close the town hall; the centre's failure does
        if reason is not None:
            raise await self.refuse(_closed_error(reason), operator, code)
        return route

    async def _check_resident(self, m: Municipality, resident_code: str, operator: str, channel: str) -> None:
        if m.hosting is Hosting.OWN_SERVER:
            status = await self._own.resident_status(m, resident_code)  # OwnServerUnavailable passes
            if status is None:
                raise await self.refuse(NotFound("the resident is not known", code="unknown_resident"),
                                        operator, m.code)
            active, restricted = status
        else:
            r = await self._store.issuances.resident(m.code, resident_code)
            if r is None:
                raise await self.refuse(NotFound("the resident is not known", code="unknown_resident"),
                                        operator, m.code)
            active, restricted = r.status is ResidentStatus.ACTIVE, r.restricted
        if not active:
            raise await self.refuse(NotFound("the card holder is no longer a resident", code="not_a_resident"),
                                    operator, m.code)
        if restricted:
            where = ("only on a written application, after the counter's check" if channel == COUNTER_CARD
                     else "only at the counter")
            raise await self.refuse(Refused(f"certificates of this resident are issued {where}",
                                            code="restricted"), operator, m.code)

    async def session(self, operator: str, session_id: str) -> SessionRecord:
        """An open session of this operator: NotFound ``unknown_session``, or Conflict
        ``expired_session`` (and the session is closed)."""
        session = await self._store.relay.session(session_id)
        if session is None or session.operator != operator:
            raise NotFound("the session is unknown", code="unknown_session")
        if datetime.fromisoformat(session.expires_at) < self._clock.now():
            await self._store.relay.close_session(session_id)
            raise Conflict("the session has expired; authenticate the card again", code="expired_session")
        return session

    # -- 3. request ------------------------------------------------------------------------
    async def replay(self, operator: str, idempotency_key: str, fingerprint: str) -> RequestAccepted | None:
        """The answer already given to this Idempotency-Key, or None; Conflict
        ``idempotency_conflict`` when the key came with another body."""
        existing = await self._store.issuances.by_idempotency(operator, idempotency_key)
        if existing is None:
            return None
        if existing.body_sha256 != fingerprint:
            raise Conflict("this Idempotency-Key was used with another body", code="idempotency_conflict")
        return _accepted(existing.record)

    async def request(self, operator: str, order: CertificateOrder, *, idempotency_key: str,
                      fingerprint: str | None = None) -> RequestAccepted:
        """A store request, awaiting payment. The same key with the same order (the same
        ``fingerprint``: by default the order's own) answers the same request."""
        check_idempotency_key(idempotency_key)
        body_sha = fingerprint or order_fingerprint(order.body())
        again = await self.replay(operator, idempotency_key, body_sha)
        if again is not None:
            return again
        session = await self.session(operator, order.session_id)
        try:
            opts = check_options(order.type, order.options)
        except InvalidInput as exc:
            raise BadRequest(exc.message, code="bad_options") from None
        if order.layout_version is not None and session.channel != RETEST_CHANNEL:
            raise BadRequest("a layout version is chosen only by the centre's re-tests", code="bad_options")
        route = await self._live_municipality(session.municipality_code, operator, session.channel)
        m = route.municipality
        layout_version = order.layout_version or await self._store.layouts.active_version(order.type.value)
        if m.hosting is Hosting.BCL:
            try:  # refuse now what cannot be issued (no seal, no tax record …), before payment
                await self._issuance.prepare(session.resident_code, order.type.value, opts, municipality_code=m.code,
                                             layout_version=layout_version)
            except DomainError as exc:
                raise await self.refuse(InvalidInput(exc.message, code="not_issuable"), operator, m.code) from None
        fee = 0 if session.channel in UNBILLED_CHANNELS else route.fees[order.type] * order.copies
        record = IssuanceRecord(
            request_id=uuid.uuid4().hex, type=order.type.value, options=opts, municipality_code=m.code,
            resident_code=session.resident_code, channel=session.channel, operator=operator, fee=fee,
            state="awaiting_payment", verification_code=None, content_sha256=None, pages=None,
            document_path=None, created_at=iso_now(self._clock), issued_at=None, voided_at=None,
            layout_version=layout_version,
        )
        saved = await self._store.issuances.open_request(record, session_id=order.session_id,
                                                         idempotency_key=idempotency_key, body_sha256=body_sha,
                                                         copies=order.copies)
        self._bus.publish(IssuanceChanged(saved.request_id, m.code, saved.type, saved.state, operator, None))
        return _accepted(saved)

    async def find(self, operator: str, request_id: str) -> IssuanceRecord:
        """This operator's request: NotFound ``unknown_request`` for any other."""
        if len(request_id) > 64:
            raise _unknown_request()
        record = await self._store.issuances.by_request(request_id)
        if record is None or record.operator != operator:
            raise _unknown_request()
        note_municipality(record.municipality_code)
        return record

    # -- 4. payment ------------------------------------------------------------------------
    async def pay(self, operator: str, request_id: str, amount: int) -> Payment:
        record = await self.find(operator, request_id)
        if record.state != "awaiting_payment":
            raise Conflict(f"the request is {record.state}, not awaiting payment", code="wrong_state")
        if amount != record.fee:
            raise InvalidInput(f"the fee is {record.fee:,}円, not {amount:,}円", code="wrong_amount")
        if request_id in self._paying:  # a retry while the first payment still renders
            raise Conflict("a payment of this request is already in progress", code="payment_in_progress")
        return await self._issue(record)

    async def _issue(self, record: IssuanceRecord, audit: AuditEntry | None = None) -> Payment:
        """Render and issue a request awaiting payment (paid at a store, or at the counter),
        publish it to the Monitor; Conflict ``wrong_state`` when another attempt won."""
        request_id = record.request_id
        self._paying.add(request_id)
        try:
            content = await self._content(record)
            paid = await self._issuance.issue_paid(record, content, audit)
        finally:
            self._paying.discard(request_id)
        fault_point("pay:after-commit")
        self.metrics.issued(record.type, record.municipality_code)
        self._bus.publish(IssuanceChanged(request_id, record.municipality_code, record.type, "issued",
                                          record.operator, paid.latency_ms))
        return Payment("issued", paid.verification_code, paid.pages)

    # -- 3+4 at the counter (らくらく窓口): no payment call ---------------------------------
    async def counter_request(self, operator: str, order: CertificateOrder, *, idempotency_key: str,
                              fingerprint: str, actor: Actor) -> CounterIssued:
        """A counter terminal's request, issued at once: the fee is recorded on the issuance
        (taken at the counter), the document ready to print. The same key with the same
        body answers the same issuance (and finishes it, if an earlier attempt stopped
        between the request and the document)."""
        accepted = await self.request(operator, order, idempotency_key=idempotency_key, fingerprint=fingerprint)
        return await self.counter_issued(operator, accepted.request_id, actor=actor)

    async def counter_issued(self, operator: str, request_id: str, *, actor: Actor) -> CounterIssued:
        """A counter request as it stands, issued first if it is still waiting."""
        record = await self.find(operator, request_id)
        if record.state == "awaiting_payment" and request_id not in self._paying:
            audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, record.municipality_code,
                               "counter-issue", record.type, None, None)
            try:
                await self._issue(record, audit)
            except Conflict as exc:  # a concurrent retry issued it: its answer is this one's
                if exc.code != "wrong_state":
                    raise
            record = await self.find(operator, request_id)
        if record.state == "awaiting_payment":
            raise Conflict("the document of this request is still being made; ask again", code="in_progress")
        return CounterIssued(record.request_id, record.fee, record.state, record.verification_code,
                             record.pages)

    async def _content(self, record: IssuanceRecord) -> CertificateContent:
        """The certificate's content, from the intermediate DB or the municipality's own
        server; what cannot be issued is refused (not_issuable) and recorded."""
        m = await self._store.issuances.municipality(record.municipality_code)
        assert m is not None
        try:
            if m.hosting is Hosting.OWN_SERVER:
                return await self._own.certificate_content(m, record.resident_code, record.type, record.options)
            # Stores print the active version at payment; a re-test prints the version it asked for.
            version = record.layout_version if record.channel == RETEST_CHANNEL else None
            _, _, content, _ = await self._issuance.prepare(record.resident_code, record.type, record.options,
                                                            municipality_code=m.code, layout_version=version)
            return content
        except OwnServerUnavailable:
            raise
        except DomainError as exc:
            raise await self.refuse(InvalidInput(exc.message, code="not_issuable"), record.operator,
                                    record.municipality_code) from None

    # -- 5. document -----------------------------------------------------------------------
    async def document(self, operator: str, request_id: str) -> bytes:
        record = await self.find(operator, request_id)
        if record.state not in ("issued", "printed") or record.document_path is None:
            raise Conflict(f"the request is {record.state}; pay first", code="wrong_state")
        return await self._issuance.read_document(record.document_path)

    # -- 6. completion ---------------------------------------------------------------------
    async def complete(self, operator: str, request_id: str, *, printed: bool,
                       actor: Actor | None = None) -> Completion:
        """Printed, or failed (voided: not billed, fee refunded). With ``actor`` (a counter
        terminal), a void is in the audit trail."""
        record = await self.find(operator, request_id)
        at = iso_now(self._clock)
        audit = None if actor is None or printed else AuditEntry(
            at, actor.name, actor.interface, record.municipality_code, "counter-void", record.type,
            record.certificate_number, "voided")
        if not await self._store.issuances.complete(request_id, printed, at, audit):
            raise Conflict(f"the request is {record.state}, not issued", code="wrong_state")
        fault_point("complete:after-commit")
        state = "printed" if printed else "voided"
        self._bus.publish(IssuanceChanged(request_id, record.municipality_code, record.type, state, operator, None))
        return Completion(state, record.fee if state == "voided" else 0)


def _accepted(r: IssuanceRecord) -> RequestAccepted:
    return RequestAccepted(r.request_id, r.fee, r.state)
