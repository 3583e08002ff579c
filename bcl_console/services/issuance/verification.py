"""Verification of a certificate: genuine, altered, unknown or voided, with the reason.

From a PDF: it must carry exactly one PDF signature, cryptographically sound (pyHanko
checks it), covering the entire file, by the centre's document signing key; at the
centre the code it names must also be an issuance that was not voided, kept with this
very file's hash. Anyone can check the first part with the published key alone
(``keys public``): the verdict then says that revocation was not checked.

From a scan of the paper: the back's 2-D code holds the signed front; its signature
must verify with the same key, and the decoded fields are given back to be compared
with the paper. From a code alone (at the centre, or ``GET /verify/v1/{code}``): the
record, with the fields of each page as issued.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bcl_console.domain.certificate import normalise_code
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.fiscal import tokyo_at
from bcl_console.domain.signed_page import PREFIX, PagePayload, read_code
from bcl_console.pdfgen.certificate import INFO_CODE, INFO_FRONTS, INFO_MUNICIPALITY, INFO_TYPE
from bcl_console.store.api import IssuanceRecord, Store

MAX_PDF = 50 * 1024 * 1024
MAX_IMAGE = 40 * 1024 * 1024
MAX_IMAGE_PIXELS = 80_000_000


@dataclass
class Verdict:
    status: str  # genuine | altered | unknown | voided
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, **self.details}


@dataclass(frozen=True)
class TrustAnchor:
    """The key a document must be signed by, and the certificates it was published with."""

    public_key: ec.EllipticCurvePublicKey
    certificates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pem(cls, data: bytes, source: str) -> TrustAnchor:
        """From ``keys public``'s file (the signing certificate first, then the CA's), or
        a bare PUBLIC KEY PEM. InvalidInput naming ``source`` when it is neither."""
        if b"PRIVATE KEY-----" in data:
            raise InvalidInput(f"{source} is a private key: give the public key that `keys public` writes "
                               "(and keep the private key secret)", field="public-key")
        try:
            certs = tuple(x509.load_pem_x509_certificates(data)) if b"CERTIFICATE" in data else ()
            key = certs[0].public_key() if certs else serialization.load_pem_public_key(data)
        except ValueError:
            raise InvalidInput(f"{source} is not a PEM certificate or public key", field="public-key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidInput(f"{source} holds a key of another kind than the centre's (ECDSA P-256)",
                               field="public-key")
        return cls(key, certs)

    def fingerprint(self) -> str:
        der = self.public_key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).hexdigest()

    def signature_holds(self, payload: PagePayload) -> bool:
        if len(payload.signature) != 64:
            return False
        der = encode_dss_signature(int.from_bytes(payload.signature[:32], "big"),
                                   int.from_bytes(payload.signature[32:], "big"))
        try:
            self.public_key.verify(der, payload.json_bytes, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            return False


@dataclass(frozen=True)
class _Checked:
    """What a PDF's signature check found: a problem (status, reason), or the signed details."""

    status: str | None
    reason: str
    details: dict[str, Any]


def _quietly(fn: Any, *args: Any) -> Any:
    """pyHanko logs and warns about what it meets in a damaged file; the verdict's one
    reason says what is wrong, so that noise is held back."""
    loggers = [logging.getLogger(name) for name in ("pyhanko", "pyhanko_certvalidator", "pyhanko.pdf_utils")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _check_pdf(data: bytes, anchor: TrustAnchor) -> _Checked:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
        revisions = reader.xrefs.total_revisions
        info = reader.trailer_view.get("/Info")
        info = info.get_object() if info is not None else None
        details: dict[str, Any] = {key: str(info.get(name)) if info is not None and info.get(name) is not None else None
                   for key, name in (("code", INFO_CODE), ("type", INFO_TYPE), ("municipality", INFO_MUNICIPALITY))}
        fronts = info.get(INFO_FRONTS) if info is not None else None
    except (PdfError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError, RecursionError):
        return _Checked("unknown", "the file is not a readable PDF (it is damaged or not a PDF)", {})
    if not signatures:
        # A forger's update can drop the signature field (or the file be rebuilt without
        # it): a document that was signed, or names one of our certificates, is altered.
        if revisions > 1 and b"/ByteRange" in data:
            return _Checked("altered", "the document was changed after it was signed: a later update "
                                       "removed its signature", details)
        if details.get("code"):
            return _Checked("altered", f"the PDF names certificate {details['code']} but carries no signature "
                                       "(it was removed: the file is not as issued)", details)
        return _Checked("unknown", "the PDF carries no signature of a certificate centre", details)
    if len(signatures) != 1:
        return _Checked("altered", "the PDF was signed again after issuance (it carries more than one signature)",
                        details)
    signature = signatures[0]
    try:
        signer = signature.signer_cert
        status = validate_pdf_signature(signature, ValidationContext(
            trust_roots=[_asn1(c) for c in anchor.certificates[1:]], allow_fetching=False))
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return _Checked("altered", f"the PDF signature cannot be checked ({type(exc).__name__})", details)
    from pyhanko.sign.validation import SignatureCoverageLevel

    signer_key = x509.load_der_x509_certificate(signer.dump()).public_key()
    if not (status.intact and status.valid):
        return _Checked("altered", "the document was changed after it was signed (its signature does not verify)",
                        details)
    if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        return _Checked("altered", "something was added to the document after it was signed "
                                   "(the signature does not cover the whole file)", details)
    if not isinstance(signer_key, ec.EllipticCurvePublicKey) or signer_key.public_numbers() != \
            anchor.public_key.public_numbers():
        return _Checked("altered", "the PDF is signed, but not by this centre's key", details)
    if not details.get("code") or not isinstance(fronts, int):
        return _Checked("unknown", "the PDF is signed by this centre's key but names no certificate", details)
    signed_at = status.signer_reported_dt
    details["issued_at"] = _japan_time(signed_at.isoformat()) if signed_at else None
    details["pages"] = int(fronts)
    return _Checked(None, "signed by this centre's key and unaltered", details)


def _asn1(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _scan(data: bytes) -> list[bytes]:
    """What the 2-D codes found in an image hold."""
    import zxingcpp
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            gray = image.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise InvalidInput("the file is not an image that can be read (PNG or JPEG)", field="scan") from None
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [bytes(b.bytes) for b in found if b.valid]


def _read_file(path: Path, limit: int, what: str) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise InvalidInput(f"{path} is larger than {limit // 1024 // 1024} MB, too large for {what}", field="file")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read: {exc.strerror}", field="file") from None


def _japan_time(iso: object) -> str | None:
    """Every verdict gives the issue time one way: Japan time, to the second."""
    if not isinstance(iso, str):
        return None
    try:
        return tokyo_at(iso).isoformat(timespec="seconds")
    except ValueError:
        return None


class VerificationService:
    """At the centre (``store`` and its key), or anywhere with only a published key
    (``store`` None: nothing is looked up, and the verdicts say so)."""

    def __init__(self, store: Store | None, anchor: TrustAnchor | None = None, *,
                 public_pem: Any = None) -> None:
        self._store = store
        self._anchor = anchor
        self._public_pem = public_pem  # a callable giving the centre's own PEM, read when first needed

    @property
    def anchor(self) -> TrustAnchor:
        if self._anchor is None:
            if self._public_pem is None:
                raise InvalidInput("no verification key was given", field="public-key")
            self._anchor = TrustAnchor.from_pem(self._public_pem(), "the centre's key")
        return self._anchor

    def _offline(self, details: dict[str, Any]) -> dict[str, Any]:
        if self._store is None:
            return {**details, "revocation_checked": False, "key_sha256": self.anchor.fingerprint()}
        return details

    async def verify_pdf(self, path: Path) -> Verdict:
        data = await asyncio.to_thread(_read_file, path, MAX_PDF, "a certificate")
        return await self.verify_bytes(data)

    async def verify_bytes(self, data: bytes) -> Verdict:
        checked = await asyncio.to_thread(_quietly, _check_pdf, data, self.anchor)
        details = self._offline(checked.details)
        if checked.status is not None:
            return Verdict(checked.status, checked.reason, details)
        if self._store is None:
            return Verdict("genuine", "signed by this key and unaltered (revocation was not checked: "
                                      "ask the issuing centre with the verification code)", details)
        record = await self._store.issuances.by_code(str(details["code"]))
        if record is None:
            return Verdict("unknown", "no certificate with this code was issued by this centre", details)
        if record.content_sha256 is not None and hashlib.sha256(data).hexdigest() != record.content_sha256:
            return Verdict("altered", "the file differs from the document issued with this code", details)
        return self._state_verdict(record, details)

    async def verify_scan_file(self, path: Path) -> Verdict:
        data = await asyncio.to_thread(_read_file, path, MAX_IMAGE, "a scan")
        try:
            return await self.verify_scan(data)
        except InvalidInput as exc:
            if exc.field != "scan":
                raise
            raise InvalidInput(f"{path} is not an image that can be read (PNG or JPEG)", field="scan") from None

    async def verify_scan(self, image: bytes) -> Verdict:
        found = await asyncio.to_thread(_scan, image)
        if not found:
            return Verdict("unknown", "no 2-D code could be read from the image (scan the back side, flat and "
                                      "in focus)", self._offline({}))
        ours = [t for t in found if t.startswith(PREFIX)]
        if not ours:
            return Verdict("unknown", "the 2-D code in the image is not a certificate code of this system",
                           self._offline({}))
        try:
            payload = read_code(ours[0])
        except InvalidInput as exc:  # it claims to be ours, but is not a whole code of ours
            return Verdict("altered", exc.sentence(), self._offline({"signature_valid": False}))
        fields = payload.fields
        holds = self.anchor.signature_holds(payload)
        details = self._offline({
            "code": fields.get("code"), "type": fields.get("type"), "municipality": fields.get("municipality"),
            "issued_at": _japan_time(fields.get("issued_at")), "page": fields.get("page"),
            "pages": [{"fields": dict(_pairs(fields.get("fields")))}], "printed": fields, "signature_valid": holds,
        })
        if not holds:
            return Verdict("altered", "the 2-D code's signature does not verify with this centre's key: its "
                                      "content was changed, or another key signed it", details)
        if self._store is None:
            return Verdict("genuine", "the 2-D code is signed by this key: compare its fields with the paper "
                                      "(revocation was not checked)", details)
        record = await self._store.issuances.by_code(str(fields.get("code")))
        if record is None:
            return Verdict("unknown", "no certificate with this code was issued by this centre", details)
        if record.signed_pages and payload.json_bytes.decode("utf-8") not in record.signed_pages:
            return Verdict("altered", "the 2-D code is signed, but is not a page issued with this code", details)
        return self._state_verdict(record, details)

    async def verify_code(self, code: str) -> Verdict:
        normal = normalise_code(code)
        if self._store is None:
            raise InvalidInput("a code is looked up at the issuing centre: give --data-dir, or use "
                               "its /verify page", field="code")
        record = await self._store.issuances.by_code(normal)
        if record is None:
            return Verdict("unknown", "no certificate with this code was issued by this centre", {"code": normal})
        return self._state_verdict(record, {"code": normal},
                                   genuine="issued by this centre with this code and not voided: compare the "
                                           "fields with the paper")

    async def lookup(self, code: str) -> dict[str, Any]:
        """``GET /verify/v1/{code}``: the verdict with the fields of each page as issued."""
        verdict = await self.verify_code(code)
        doc = verdict.as_dict()
        pages: list[dict[str, Any]] = []
        if verdict.status in ("genuine", "voided") and self._store is not None:
            record = await self._store.issuances.by_code(str(doc["code"]))
            if record is not None:
                doc["number"] = record.certificate_number
            for raw in (record.signed_pages if record is not None else None) or []:
                page = json.loads(raw)
                pages.append({"title": page.get("title"), "fields": dict(_pairs(page.get("fields")))})
        doc["pages"] = pages
        return doc

    @staticmethod
    def _state_verdict(record: IssuanceRecord, details: dict[str, Any],
                       genuine: str = "signed by this centre, unaltered, and not voided") -> Verdict:
        details = {**details, "type": record.type, "municipality": record.municipality_code,
                   "issued_at": _japan_time(record.issued_at), "channel": record.channel}
        if record.state == "voided":
            return Verdict("voided", f"the certificate was voided at {_japan_time(record.voided_at)}", details)
        if record.state not in ("issued", "printed"):
            return Verdict("unknown", f"the certificate was never issued (state {record.state})", details)
        return Verdict("genuine", genuine, details)


def _pairs(raw: object) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        return []
    return [(str(p[0]), str(p[1])) for p in raw if isinstance(p, list) and len(p) == 2]
