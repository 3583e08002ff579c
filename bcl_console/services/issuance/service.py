"""Certificate issuance: gather the data, build the content, sign it, render the PDF in a
worker pool, and record the issuance — one transaction per issued document.

Every request works only on its own local data (content, code, payload) and its own
row: nothing about a request lives in shared state, so two requests in the same
instant can never exchange their people (the 2023 incident in domain.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import logging
import multiprocessing
import os
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from bcl_console.domain import certificate as cert
from bcl_console.domain.certificate import CertificateContent
from bcl_console.domain.errors import Conflict, InvalidInput
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.layouts import layout
from bcl_console.domain.municipality import CertificateType, Municipality, parse_certificate_type
from bcl_console.domain.resident import Resident
from bcl_console.domain.signed_page import PagePayload, page_payloads
from bcl_console.pdfgen import fontcache
from bcl_console.pdfgen.certificate import Sheet, render
from bcl_console.pdfgen.pades import SigningMaterial
from bcl_console.pdfgen.truetype import face
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.services.platform.events import CertificateIssued, EventBus
from bcl_console.services.platform.faults import fault_point
from bcl_console.services.platform.keys import KeyStore
from bcl_console.services.platform.metrics import Metrics
from bcl_console.store.api import (
    AuditEntry,
    CertificateSource,
    IssuanceRecord,
    IssuedDocumentPath,
    Store,
)

log = logging.getLogger(__name__)

#: The largest row id a request may name (a disaster number): larger names nothing.
MAX_ROW_ID = 2**31 - 1
CHANNELS = ("counter", "counter-card", "store", "test-stage-2", "test-stage-3", "real-store-test")
_OPTION_KEYS = {
    CertificateType.RESIDENCE: {"scope", "include_domicile"},
    CertificateType.SEAL: set(),
    CertificateType.TAX: {"fiscal_year"},
    CertificateType.DISASTER: {"disaster_id"},
    CertificateType.DISASTER_VICTIM: {"disaster_id"},
}


@dataclass(frozen=True)
class Rendered:
    """A signed document and what its record keeps of it."""

    pdf: bytes
    code: str
    pages: int
    number: str
    signed_pages: tuple[str, ...]


@dataclass(frozen=True)
class IssuedDocument:
    record: IssuanceRecord
    pdf: bytes


@dataclass(frozen=True)
class PaidDocument:
    """A paid request's document, issued: its code, pages and the latency of the request."""

    verification_code: str
    pages: int
    latency_ms: int


def check_options(ctype: CertificateType, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the options of a certificate type; returns them normalised."""
    unknown = set(options) - _OPTION_KEYS[ctype]
    if unknown:
        raise InvalidInput(f"unknown option(s) for {ctype.value}: {', '.join(sorted(unknown))}", field="options")
    out: dict[str, Any] = {}
    if ctype is CertificateType.RESIDENCE:
        scope = options.get("scope", "self")
        if scope not in ("self", "household"):
            raise InvalidInput(f"scope {scope!r} is not self or household", field="scope")
        include = options.get("include_domicile", False)
        if not isinstance(include, bool):
            raise InvalidInput("include_domicile must be true or false", field="include_domicile")
        out = {"scope": scope, "include_domicile": include}
    elif ctype is CertificateType.TAX and "fiscal_year" in options:
        fy = options["fiscal_year"]
        if not isinstance(fy, int) or isinstance(fy, bool) or not 1989 <= fy <= 2200:
            raise InvalidInput(f"fiscal_year {fy!r} is not a fiscal year", field="fiscal_year")
        out = {"fiscal_year": fy}
    elif ctype in (CertificateType.DISASTER, CertificateType.DISASTER_VICTIM) and "disaster_id" in options:
        did = options["disaster_id"]
        if not isinstance(did, int) or isinstance(did, bool) or not 1 <= did <= MAX_ROW_ID:
            raise InvalidInput(f"disaster_id {did!r} is not a disaster number", field="disaster_id")
        out = {"disaster_id": did}
    return out


def build_content(src: CertificateSource, ctype: CertificateType, options: dict[str, Any],
                  today: datetime, layout_version: int = 1) -> CertificateContent:
    """The certificate's content from what the store read for it, in a layout version."""
    content = _build_content(src, ctype, options, today, layout_version)
    return dataclasses.replace(content, layout_version=layout_version)


def _build_content(src: CertificateSource, ctype: CertificateType, options: dict[str, Any],
                   today: datetime, layout_version: int) -> CertificateContent:
    m, r, members = src.municipality, src.resident, src.members
    day = tokyo(today).date()
    if ctype is CertificateType.RESIDENCE:
        return cert.residence(m, r, members, household=options.get("scope") == "household",
                              include_domicile=bool(options.get("include_domicile")), issued_on=day,
                              layout_version=layout_version)
    if ctype is CertificateType.SEAL:
        return cert.seal_certificate(m, r, src.seal, issued_on=day)
    if ctype is CertificateType.TAX:
        return cert.tax_certificate(m, r, src.tax,
                                    fiscal_year=options.get("fiscal_year") or src.latest_tax_year or day.year,
                                    issued_on=day)
    if ctype is CertificateType.DISASTER_VICTIM:
        return cert.victim_certificate(m, r, src.victim, issued_on=day)
    head = next((p for p in members if p.relationship == "世帯主"), r)
    return cert.disaster_certificate(m, r, head, src.disaster, issued_on=day)


def refuse_gaiji(content: CertificateContent) -> None:
    """A character the bundled font cannot print (外字) is refused, never printed as a box."""
    for page in content.pages:
        for label, value in page.fields:
            missing = fontcache.missing_glyphs(value)
            if missing:
                chars = "".join(missing)
                raise InvalidInput(
                    f"{label} holds {chars} (U+{ord(missing[0]):04X}), a character this system cannot "
                    "print (外字); issue it at the town hall counter", field=label)


def _init_worker(parent: int | None = None) -> None:
    """Read the font in a new worker before its first job; with ``parent``, also watch
    that process and exit when it is gone (a ``kill -9`` of ``serve`` or the console
    must not leave render workers behind under PID 1)."""
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()
    fontcache.has_glyph("住")
    face()


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(0)


class _Lost(Exception):
    """The guarded change that would have recorded a document found another state."""


#: The daily sweep of documents no issuance records looks this far back…
SWEEP_WINDOW = timedelta(days=31)
#: … at documents kept at least this long ago (an issuance records its document within
#: seconds of keeping it).
SWEEP_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class DocumentSweep:
    """What a sweep of the kept documents found: how many it looked at, those it removed."""

    checked: int
    removed: tuple[str, ...]


def _requests_named(name: str) -> tuple[str, ...]:
    """The requests a kept document's name can belong to (``document_path``): REQUEST.pdf
    or REQUEST-ATTEMPT.pdf; none for a writer's temporary file (``.``-named)."""
    stem = PurePosixPath(name).stem
    if stem.startswith("."):
        return ()
    return (stem, stem.rsplit("-", 1)[0]) if "-" in stem else (stem,)


def _render_job(content: CertificateContent, sheet: Sheet, material: SigningMaterial, created: datetime) -> bytes:
    return render(content, sheet, material, created)


class IssuanceService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus, keys: KeyStore, data_dir: Path,
                 documents_dir: Path, *, workers: int = 0, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._bus = bus
        self._keys = keys
        self._data_dir = data_dir
        #: Where documents go, as recorded: relative to the data directory.
        self._documents = documents_dir.relative_to(data_dir)
        self._workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Start the render pool (processes, each with the font parsed once)."""
        if self._workers > 0 and self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._workers, mp_context=context, initializer=_init_worker,
                initargs=(os.getpid(),))
            # Warm every worker so the first requests do not pay for the start.
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(self._pool, _init_worker) for _ in range(self._workers)))

    async def use_workers(self, workers: int) -> None:
        """Switch to a pool of render processes (the console and `serve` do at start)."""
        if self._pool is None and workers > 0:
            self._workers = workers
            await self.start()

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def _render(self, content: CertificateContent, sheet: Sheet, created: datetime) -> bytes:
        material = self._keys.signing
        queue = self._metrics.render_queue
        queue.inc()
        try:
            if self._pool is not None:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, _render_job, content, sheet, material, created)
            return await asyncio.to_thread(render, content, sheet, material, created)
        finally:
            queue.dec()

    def sign(self, payload: PagePayload) -> PagePayload:
        """The page's content signed by the document key (r‖s, 64 bytes)."""
        der = self._keys.signing_key.sign(payload.json_bytes, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return PagePayload(payload.json_bytes, r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    async def prepare(self, resident_code: str, type_: str, options: dict[str, Any] | None = None, *,
                      municipality_code: str | None = None,
                      layout_version: int | None = None) -> tuple[Municipality, Resident, CertificateContent, dict[str, Any]]:
        """Check the request and build the content; raises with the reason when refused.
        The content is in the type's active layout version unless ``layout_version`` names
        another (only the centre's re-tests of a staged layout do)."""
        ctype = parse_certificate_type(type_)
        opts = check_options(ctype, options or {})
        if layout_version is None:
            layout_version = await self._store.layouts.active_version(ctype.value)
        else:
            layout(ctype, layout_version)
        src = await self._store.issuances.certificate_source(resident_code, ctype, opts, municipality_code)
        content = build_content(src, ctype, opts, self._clock.now(), layout_version)
        refuse_gaiji(content)
        return src.municipality, src.resident, content, opts

    async def issue(self, resident_code: str, type_: str, options: dict[str, Any] | None = None, *,
                    channel: str = "counter", operator: str | None = None, fee: int = 0,
                    request_id: str | None = None, municipality_code: str | None = None) -> IssuedDocument:
        """Issue one certificate now (counter issuance, test stages): recorded as issued."""
        if channel not in CHANNELS:
            raise InvalidInput(f"unknown channel {channel!r}", field="channel")
        m, r, content, opts = await self.prepare(resident_code, type_, options,
                                                 municipality_code=municipality_code)
        request_id = request_id or uuid.uuid4().hex
        kept: list[IssuanceRecord] = []

        async def record(rel: Path, doc: Rendered) -> bool:
            at = iso_now(self._clock)
            kept.append(IssuanceRecord(
                request_id=request_id, type=content.type.value, options=opts, municipality_code=m.code,
                resident_code=r.resident_code, channel=channel, operator=operator, fee=fee, state="issued",
                verification_code=doc.code, content_sha256=hashlib.sha256(doc.pdf).hexdigest(), pages=doc.pages,
                document_path=rel.as_posix(), created_at=at, issued_at=at, voided_at=None,
                signed_pages=doc.signed_pages, certificate_number=doc.number,
                layout_version=content.layout_version,
            ))
            await self._store.issuances.record_issued(kept[0])
            return True

        doc = await self._keep(request_id, content, attempt=None, record=record)
        self._bus.publish(CertificateIssued(m.code, content.type.value, channel))
        return IssuedDocument(kept[0], doc.pdf)

    async def issue_paid(self, request: IssuanceRecord, content: CertificateContent,
                         audit: AuditEntry | None = None) -> PaidDocument:
        """Issue a paid store request: its document goes to a file of this attempt's own,
        then the guarded awaiting_payment → issued change is won or the file is removed, so
        a concurrent payment (in this process or another worker) can never overwrite or
        unpublish the winner's document. Conflict ``wrong_state`` when another payment won.
        ``audit`` (counter issuance) is written with the change, the certificate number as
        its new value."""
        started = time.perf_counter()
        latency = 0

        async def mark(rel: Path, doc: Rendered) -> bool:
            nonlocal latency
            fault_point("pay:after-render")
            created = datetime.fromisoformat(request.created_at)
            latency = max(int((self._clock.now() - created).total_seconds() * 1000),
                          int((time.perf_counter() - started) * 1000))
            return await self._store.issuances.mark_issued(IssuedDocumentPath(
                request.request_id, doc.code, hashlib.sha256(doc.pdf).hexdigest(), doc.pages, rel.as_posix(),
                iso_now(self._clock), latency, doc.signed_pages, doc.number, content.layout_version),
                None if audit is None else replace(audit, new_value=doc.number))

        try:
            doc = await self._keep(request.request_id, content, attempt=secrets.token_hex(4), record=mark)
        except _Lost:  # paid twice at once: the other payment issued it, with its own file
            raise Conflict("the request was already paid", code="wrong_state") from None
        return PaidDocument(doc.code, doc.pages, latency)

    async def _keep(self, request_id: str, content: CertificateContent, *, attempt: str | None,
                    record: Callable[[Path, Rendered], Awaitable[bool]]) -> Rendered:
        """The one path from content to an issued document: sign and render it, keep it
        durably (a file of this attempt's own on SQLite, a row on PostgreSQL), then
        ``record`` it; what was kept is removed when recording fails (rolled back) or loses
        (False). A cancellation may still commit: the document stays."""
        doc = await self.render_document(content, request_id)
        rel = self.document_path(request_id, attempt=attempt)
        name = rel.as_posix()
        await self._store.files.save(name, doc.pdf)
        try:
            won = await record(rel, doc)
        except Exception:
            await self._store.files.remove(name)
            raise
        if not won:
            await self._store.files.remove(name)
            raise _Lost
        return doc

    async def render_document(self, content: CertificateContent, request_id: str) -> Rendered:
        """Number, sign and render the content: the document with its code (``request_id``
        names it in logs only: nothing of the request is shared)."""
        del request_id
        code = cert.new_verification_code()
        issued = tokyo(self._clock.now())
        serial = await self._store.issuances.next_number(content.municipality_code, issued.year)
        number = f"第 {issued.year}-{serial:06d} 号"
        pages = [self.sign(p) for p in page_payloads(content, code=code, number=number,
                                                      issued_at=issued.isoformat(timespec="seconds"))]
        sheet = Sheet(code, number, tuple(p.code_bytes() for p in pages))
        pdf = await self._render(content, sheet, issued)
        return Rendered(pdf, code, len(content.pages) * 2, number,
                        tuple(p.json_bytes.decode("utf-8") for p in pages))

    def document_path(self, request_id: str, attempt: str | None = None) -> Path:
        """Where a document is kept; ``attempt`` makes the name one payment's own."""
        now = tokyo(self._clock.now())
        name = f"{request_id}-{attempt}.pdf" if attempt else f"{request_id}.pdf"
        return self._documents / f"{now:%Y}" / f"{now:%m}" / name

    async def read_document(self, rel: str) -> bytes:
        """An issued document's bytes, from wherever the store keeps them."""
        return await self._store.files.read(rel)

    async def sweep_documents(self) -> DocumentSweep:
        """Remove the kept documents that no issuance records: what an issuance killed
        between keeping its document and recording it left (a power failure there; the
        retry keeps a document of its own). Only those kept within ``SWEEP_WINDOW`` and
        longer ago than ``SWEEP_GRACE``, by the clock that stamped them (the database
        server's, the file system's): a younger one may be an issuance still under way in
        another process, and another machine's clock may be ahead."""
        names = await self._store.files.kept(self._documents.as_posix(), SWEEP_GRACE, SWEEP_WINDOW)
        removed: list[str] = []
        for start in range(0, len(names), 500):
            part = {name: _requests_named(name) for name in names[start:start + 500]}
            recorded = await self._store.issuances.document_paths(sorted({r for ids in part.values() for r in ids}))
            for name, ids in part.items():
                if not any(recorded.get(r) == name for r in ids):
                    await self._store.files.remove(name)
                    removed.append(name)
        if removed:
            log.warning("removed %d kept document(s) that no issuance records (cut off before their commit): %s",
                        len(removed), ", ".join(removed[:10]))
        return DocumentSweep(len(names), tuple(removed))
