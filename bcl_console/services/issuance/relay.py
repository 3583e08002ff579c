"""The kiosk relay (中継): card authentication, routing, and the store issuance flow.

challenge → session (card checked: chain, validity, revocation, signature; routed by
the municipality in the card) → request (Idempotency-Key) → payment (the document is
issued) → document → completion (printed, or failed: voided and refunded).

Challenges and sessions live in memory, keyed by random ids and bounded; each request
is its own row, and every state change is one transaction guarded by the previous state.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bcl_console.domain.errors import DomainError
from bcl_console.domain.municipality import CertificateType, Hosting, Municipality
from bcl_console.domain.resident import ResidentStatus
from bcl_console.services.issuance.own_server import OwnServerClient, OwnServerError
from bcl_console.services.issuance.pki import Card, CardRefused, PkiService
from bcl_console.services.issuance.service import IssuanceService, check_options
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.events import EventBus, IssuanceChanged, RelayRefused
from bcl_console.services.platform.faults import fault_point
from bcl_console.services.platform.metrics import Metrics
from bcl_console.store import Conn, Database
from bcl_console.store import issuances as store
from bcl_console.store import municipalities as muni_store
from bcl_console.store import residents as res_store
from bcl_console.store.issuances import IssuanceRecord

log = logging.getLogger(__name__)

CHALLENGE_TTL = timedelta(seconds=60)
SESSION_TTL = timedelta(minutes=10)
MAX_OPEN = 100_000
MAX_COPIES = 5
#: Channels of the test stages: they may run before go-live; stage 2/3 never cost the resident anything.
TEST_CHANNELS = frozenset({"test-stage-2", "test-stage-3", "real-store-test"})
UNBILLED_CHANNELS = frozenset({"test-stage-2", "test-stage-3"})


class RelayError(Exception):
    """A refusal with its HTTP status and error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Challenge:
    nonce: bytes
    operator: str
    expires: datetime


@dataclass(frozen=True)
class Session:
    operator: str
    municipality_code: str
    resident_code: str
    card_serial: str
    expires: datetime
    channel: str = "store"


def _closed_error(reason: str) -> RelayError:
    messages = {
        "suspended": "store issuance is suspended for this municipality",
        "not-live": "this municipality does not offer store issuance yet",
        "year-end-closure": "store issuance is closed from 29 December to 3 January",
        "outside-hours": "store issuance is outside this municipality's service hours",
        "failure-drill": "the centre is in a failure state for this municipality (business operation test drill)",
    }
    return RelayError(503, reason.replace("-", "_"), messages.get(reason, reason))


class RelayService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus, pki: PkiService, issuance: IssuanceService,
                 metrics: Metrics, own_server: OwnServerClient) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._pki = pki
        self._issuance = issuance
        self.metrics = metrics
        self._own = own_server
        self._challenges: OrderedDict[str, Challenge] = OrderedDict()
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._paying: set[str] = set()

    # -- bookkeeping ---------------------------------------------------------------------
    def _prune(self, now: datetime) -> None:
        """Drop expired challenges and sessions (oldest first) and cap how many are open."""
        while self._challenges and (len(self._challenges) > MAX_OPEN
                                    or next(iter(self._challenges.values())).expires < now):
            self._challenges.popitem(last=False)
        while self._sessions and (len(self._sessions) > MAX_OPEN
                                  or next(iter(self._sessions.values())).expires < now):
            self._sessions.popitem(last=False)

    async def refuse(self, error: RelayError, operator: str | None, municipality: str | None) -> RelayError:
        """Count and record a refusal (for the monitor and metrics); returns the error to raise."""
        self.metrics.refused(error.code)
        await self._db.write(store.insert_refusal, iso_now(self._clock), operator, municipality, error.code)
        self._bus.publish(RelayRefused(error.code, municipality))
        return error

    # -- 1. challenge --------------------------------------------------------------------
    def challenge(self, operator: str) -> dict[str, str]:
        now = self._clock.now()
        self._prune(now)
        challenge_id = uuid.uuid4().hex
        nonce = secrets.token_bytes(32)
        self._challenges[challenge_id] = Challenge(nonce, operator, now + CHALLENGE_TTL)
        return {"challenge_id": challenge_id, "nonce": base64.b64encode(nonce).decode("ascii")}

    # -- 2. session ------------------------------------------------------------------------
    async def open_session(self, operator: str, body: dict[str, Any], *, channel: str = "store") -> dict[str, Any]:
        """Authenticate a card. ``channel`` is ``store`` for the production API; the test
        stages open sessions on their own channels (test-stage-2/3, real-store-test)."""
        card = await self.authenticate_card(operator, body)
        now = self._clock.now()
        m, fees = await self._live_municipality(card.municipality_code, operator, channel)
        await self._check_resident(m, card.resident_code, operator)
        session_id = uuid.uuid4().hex
        self._sessions[session_id] = Session(operator, m.code, card.resident_code, card.serial, now + SESSION_TTL,
                                             channel)
        return {
            "session_id": session_id,
            "municipality": {"code": m.code, "name": m.name},
            "resident_code": card.resident_code,
            "certificates": [{"type": t.value, "fee": fees[t]} for t in CertificateType],
        }

    async def authenticate_card(self, operator: str, body: dict[str, Any]) -> Card:
        """Check a card against a challenge this client asked for (contract §5 step 2):
        single-use challenge, chain to the test JPKI CA, validity, revocation, signature.
        Kiosks, shelter terminals and residents at home all authenticate this way."""
        challenge_id = _string(body, "challenge_id", 64)
        certificate = _string(body, "certificate", 16 * 1024)
        signature = _string(body, "signature", 1024)
        challenge = self._challenges.pop(challenge_id, None)  # single use, whatever happens next
        if challenge is None or challenge.operator != operator:
            raise RelayError(409, "unknown_challenge", "the challenge is unknown or was already used")
        if challenge.expires < self._clock.now():
            raise RelayError(409, "expired_challenge", "the challenge has expired (60 s); ask for a new one")
        try:
            card, key = self._pki.check_certificate(certificate)
            self._pki.check_signature(key, challenge.nonce, signature)
            await self._pki.check_recorded(card.serial)
        except CardRefused as exc:
            raise await self.refuse(RelayError(exc.status, exc.reason, exc.message), operator, None) from None
        return card

    async def _live_municipality(self, code: str, operator: str,
                                 channel: str) -> tuple[Municipality, dict[CertificateType, int]]:
        def q(conn: Conn) -> tuple[Municipality, dict[CertificateType, int]] | None:
            m = muni_store.get_municipality(conn, code)
            return None if m is None else (m, muni_store.get_fees(conn, code))

        found = await self._db.read(q)
        if found is None:
            raise await self.refuse(RelayError(404, "unknown_municipality",
                                               "the card's municipality is not served by this centre"), operator, code)
        m, fees = found
        now = self._clock.now()
        reason = m.closed_reason(now)
        if channel in TEST_CHANNELS and reason in ("not-live", "outside-hours", "year-end-closure"):
            reason = None  # a test stage runs before go-live and at any hour; drills and suspensions still hold
        if reason is not None:
            raise await self.refuse(_closed_error(reason), operator, code)
        return m, fees

    async def _check_resident(self, m: Municipality, resident_code: str, operator: str) -> None:
        if m.hosting is Hosting.OWN_SERVER:
            try:
                status = await self._own.resident_status(m, resident_code)
            except OwnServerError as exc:
                raise RelayError(exc.status, exc.code, exc.message) from None
            if status is None:
                raise await self.refuse(RelayError(404, "unknown_resident", "the resident is not known"), operator, m.code)
            active, restricted = status
        else:
            r = await self._db.read(res_store.get_resident, m.code, resident_code)
            if r is None:
                raise await self.refuse(RelayError(404, "unknown_resident", "the resident is not known"), operator, m.code)
            active, restricted = r.status is ResidentStatus.ACTIVE, r.restricted
        if not active:
            raise await self.refuse(RelayError(404, "not_a_resident", "the card holder is no longer a resident"),
                                    operator, m.code)
        if restricted:
            raise await self.refuse(RelayError(403, "restricted",
                                               "certificates of this resident are issued only at the counter"),
                                    operator, m.code)

    def _session(self, operator: str, session_id: Any) -> Session:
        if not isinstance(session_id, str) or len(session_id) > 64:
            raise RelayError(400, "bad_request", "session_id must be a string")
        session = self._sessions.get(session_id)
        if session is None or session.operator != operator:
            raise RelayError(404, "unknown_session", "the session is unknown")
        if session.expires < self._clock.now():
            self._sessions.pop(session_id, None)
            raise RelayError(409, "expired_session", "the session has expired; authenticate the card again")
        return session

    # -- 3. request ------------------------------------------------------------------------
    async def request(self, operator: str, idempotency_key: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not idempotency_key or len(idempotency_key) > 200:
            raise RelayError(400, "missing_idempotency_key", "the Idempotency-Key header is required (at most 200 characters)")
        body_sha = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        existing = await self._db.read(store.by_idempotency, operator, idempotency_key)
        if existing is not None:
            record, sha, _ = existing
            if sha != body_sha:
                raise RelayError(409, "idempotency_conflict", "this Idempotency-Key was used with another body")
            return 201, _request_view(record)
        session = self._session(operator, body.get("session_id"))
        unknown = set(body) - {"session_id", "type", "copies", "options"}
        if unknown:
            raise RelayError(400, "bad_request", f"unknown field(s): {', '.join(sorted(unknown))}")
        type_ = body.get("type")
        if type_ not in {t.value for t in CertificateType}:
            raise RelayError(400, "unknown_type", f"unknown certificate type {type_!r}")
        copies = body.get("copies", 1)
        if not isinstance(copies, int) or isinstance(copies, bool) or not 1 <= copies <= MAX_COPIES:
            raise RelayError(400, "bad_copies", f"copies must be a whole number from 1 to {MAX_COPIES}")
        options = body.get("options", {})
        if not isinstance(options, dict):
            raise RelayError(400, "bad_options", "options must be an object")
        ctype = CertificateType(type_)
        try:
            opts = check_options(ctype, options)
        except DomainError as exc:
            raise RelayError(400, "bad_options", exc.message) from None
        m, fees = await self._live_municipality(session.municipality_code, operator, session.channel)
        if m.hosting is Hosting.BCL:
            try:  # refuse now what cannot be issued (no seal, no tax record …), before payment
                await self._issuance.prepare(session.resident_code, ctype.value, opts, municipality_code=m.code)
            except DomainError as exc:
                raise await self.refuse(RelayError(422, "not_issuable", exc.message), operator, m.code) from None
        at = iso_now(self._clock)
        record = IssuanceRecord(
            request_id=uuid.uuid4().hex, type=ctype.value, options=opts, municipality_code=m.code,
            resident_code=session.resident_code, channel=session.channel, operator=operator,
            fee=0 if session.channel in UNBILLED_CHANNELS else fees[ctype] * copies, state="awaiting_payment", verification_code=None, content_sha256=None,
            pages=None, document_path=None, created_at=at, issued_at=None, voided_at=None,
        )

        def tx(conn: Conn) -> IssuanceRecord:
            again = store.by_idempotency(conn, operator, idempotency_key)
            if again is not None:  # a concurrent retry won the race: answer as it did
                if again[1] != body_sha:
                    raise RelayError(409, "idempotency_conflict", "this Idempotency-Key was used with another body")
                return again[0]
            store.insert_request(conn, record, session_id=str(body["session_id"]),
                                 idempotency_key=idempotency_key, body_sha256=body_sha, copies=copies)
            return record

        saved = await self._db.write(tx)
        self._bus.publish(IssuanceChanged(saved.request_id, m.code, saved.type, saved.state, operator, None))
        return 201, _request_view(saved)

    async def _own_record(self, operator: str, request_id: str) -> IssuanceRecord:
        if not isinstance(request_id, str) or len(request_id) > 64:
            raise RelayError(404, "unknown_request", "the request is unknown")
        record = await self._db.read(store.by_request, request_id)
        if record is None or record.operator != operator:
            raise RelayError(404, "unknown_request", "the request is unknown")
        return record

    # -- 4. payment ------------------------------------------------------------------------
    async def pay(self, operator: str, request_id: str, body: dict[str, Any]) -> dict[str, Any]:
        record = await self._own_record(operator, request_id)
        amount = body.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise RelayError(400, "bad_amount", "amount must be a whole number of yen")
        if record.state != "awaiting_payment":
            raise RelayError(409, "wrong_state", f"the request is {record.state}, not awaiting payment")
        if amount != record.fee:
            raise RelayError(422, "wrong_amount", f"the fee is {record.fee:,}円, not {amount:,}円")
        if request_id in self._paying:  # a retry while the first payment still renders
            raise RelayError(409, "payment_in_progress", "a payment of this request is already in progress")
        self._paying.add(request_id)
        try:
            code, pages, latency = await self._issue_paid(record)
        finally:
            self._paying.discard(request_id)
        fault_point("pay:after-commit")
        self.metrics.issued(record.type, record.municipality_code)
        self._bus.publish(IssuanceChanged(request_id, record.municipality_code, record.type, "issued", operator, latency))
        return {"status": "issued", "verification_code": code, "pages": pages}

    async def _issue_paid(self, record: IssuanceRecord) -> tuple[str, int, int]:
        """Render the document to a file of this attempt's own, then win the guarded
        awaiting_payment → issued change or remove the file: a concurrent payment (in this
        process or another worker) can never overwrite or unpublish the winner's document."""
        started = time.perf_counter()
        try:
            pdf, code, pages = await self._render(record)
        except DomainError as exc:
            raise await self.refuse(RelayError(422, "not_issuable", exc.message), record.operator,
                                    record.municipality_code) from None
        except OwnServerError as exc:
            raise RelayError(exc.status, exc.code, exc.message) from None
        rel = self._issuance.document_path(record.request_id, attempt=secrets.token_hex(4))
        await asyncio.to_thread(self._issuance.save_document, rel, pdf)
        fault_point("pay:after-render")
        created = datetime.fromisoformat(record.created_at)
        latency = int((self._clock.now() - created).total_seconds() * 1000) if created else 0
        latency = max(latency, int((time.perf_counter() - started) * 1000))
        try:
            ok = await self._db.write(store.mark_issued, record.request_id, code=code,
                                      content_sha256=hashlib.sha256(pdf).hexdigest(), pages=pages,
                                      document_path=rel.as_posix(), at=iso_now(self._clock), latency_ms=latency)
        except Exception:  # failed, rolled back; a cancellation may still commit: the file stays
            await asyncio.to_thread(self._issuance.remove_document, rel)
            raise
        if not ok:  # paid twice at once: the other payment issued it, with its own file
            await asyncio.to_thread(self._issuance.remove_document, rel)
            raise RelayError(409, "wrong_state", "the request was already paid")
        return code, pages, latency

    async def _render(self, record: IssuanceRecord) -> tuple[bytes, str, int]:
        m = await self._db.read(muni_store.get_municipality, record.municipality_code)
        assert m is not None
        if m.hosting is Hosting.OWN_SERVER:
            content = await self._own.certificate_content(m, record.resident_code, record.type, record.options)
        else:
            _, _, content, _ = await self._issuance.prepare(record.resident_code, record.type, record.options,
                                                            municipality_code=m.code)
        return await self._issuance.render_document(content, record.request_id)

    # -- 5. document -----------------------------------------------------------------------
    async def document(self, operator: str, request_id: str) -> bytes:
        record = await self._own_record(operator, request_id)
        if record.state not in ("issued", "printed") or record.document_path is None:
            raise RelayError(409, "wrong_state", f"the request is {record.state}; pay first")
        return await asyncio.to_thread(self._issuance.read_document, record.document_path)

    # -- 6. completion ---------------------------------------------------------------------
    async def complete(self, operator: str, request_id: str, body: dict[str, Any]) -> dict[str, Any]:
        record = await self._own_record(operator, request_id)
        result = body.get("result")
        if result not in ("printed", "failed"):
            raise RelayError(400, "bad_result", "result must be printed or failed")
        ok = await self._db.write(store.complete, request_id, result == "printed", iso_now(self._clock))
        if not ok:
            raise RelayError(409, "wrong_state", f"the request is {record.state}, not issued")
        fault_point("complete:after-commit")
        state = "printed" if result == "printed" else "voided"
        self._bus.publish(IssuanceChanged(request_id, record.municipality_code, record.type, state, operator, None))
        return {"status": state, "refunded": record.fee if state == "voided" else 0}


def _string(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise RelayError(400, "bad_request", f"{key} must be a non-empty string of at most {limit} characters")
    return value


def _request_view(r: IssuanceRecord) -> dict[str, Any]:
    return {"request_id": r.request_id, "fee_total": r.fee, "status": r.state}
