"""The test JPKI: a CA of the centre's own that signs simulated My Number card
certificates (利用者証明用電子証明書: RSA 2048, SHA-256), and the checks the relay runs.

A card file is one PEM holding the X.509 certificate and its PKCS#8 private key
(unencrypted: test cards only). The subject carries the resident code as serialNumber
and the municipality code as localityName.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from bcl_console.domain.codes import validate_municipality_code
from bcl_console.domain.errors import InvalidInput, NotFound, Refused
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now
from bcl_console.store.api import AuditEntry, CardRecord, Store

CA_KEY_FILE = "jpki-ca-key.pem"
CA_CERT_FILE = "jpki-ca.pem"
CARD_YEARS = 5
MAX_PEM = 16 * 1024


class CardRefused(Refused):
    """The card cannot be used; ``code`` says why (revoked, expired, unknown_issuer …)."""

    code = "card_refused"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, code=reason)


class CardUnreadable(CardRefused):
    """What was presented as a card certificate is not one (a malformed request)."""


class CardSignatureRefused(CardRefused):
    """The signature over the challenge does not verify: the card holder is not proven."""


@dataclass(frozen=True)
class Card:
    serial: str
    municipality_code: str
    resident_code: str


@dataclass(frozen=True)
class IssuedCard:
    serial: str
    municipality_code: str
    resident_code: str
    pem: bytes  # certificate, then private key
    not_after: datetime


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class PkiService:
    def __init__(self, store: Store, clock: Clock, keys_dir: Path) -> None:
        self._store = store
        self._clock = clock
        self._dir = keys_dir
        self._ca_key: rsa.RSAPrivateKey | None = None
        self._ca_cert: x509.Certificate | None = None

    def ensure(self) -> None:
        """Make the test CA at init (once per data directory)."""
        key_path, cert_path = self._dir / CA_KEY_FILE, self._dir / CA_CERT_FILE
        if not key_path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            name = x509.Name([
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "BCL test JPKI (not a real authority)"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"BCL Test JPKI CA {secrets.token_hex(4)}"),
            ])
            now = self._clock.now()
            cert = (
                x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365 * 30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256())
            )
            _write_secret(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} is not an RSA key")
        self._ca_key = loaded
        self._ca_cert = x509.load_pem_x509_certificate(cert_path.read_bytes())

    @property
    def ca_cert(self) -> x509.Certificate:
        if self._ca_cert is None:
            self.ensure()
        assert self._ca_cert is not None
        return self._ca_cert

    def make_card(self, municipality_code: str, resident_code: str, *, not_before: datetime | None = None,
                  years: int = CARD_YEARS, key: rsa.RSAPrivateKey | None = None) -> IssuedCard:
        """A new card certificate and key (pure crypto; ``issue_card`` also records it)."""
        if self._ca_key is None:
            self.ensure()
        assert self._ca_key is not None
        key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start = not_before or self._clock.now()
        end = start + timedelta(days=365 * years)
        serial = x509.random_serial_number()
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, municipality_code),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, resident_code),
            x509.NameAttribute(NameOID.COMMON_NAME, f"TEST CARD {resident_code}"),
        ])
        cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(self.ca_cert.subject)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return IssuedCard(format(serial, "x"), municipality_code, resident_code, pem, end)

    async def issue_card(self, municipality_code: str, resident_code: str, *, actor: Actor) -> IssuedCard:
        validate_municipality_code(municipality_code)
        if len(resident_code) != 11 or not resident_code.isdigit():
            raise InvalidInput(f"{resident_code!r} is not an 11-digit resident code", field="resident")
        if not await self._store.cards.municipality_exists(municipality_code):
            raise NotFound(f"municipality {municipality_code} is not registered", field="municipality")
        card = await asyncio.to_thread(self.make_card, municipality_code, resident_code)
        await self.record([card], actor=actor)
        return card

    async def record(self, cards: list[IssuedCard], *, actor: Actor) -> None:
        at = iso_now(self._clock)
        now = self._clock.now()
        records = [CardRecord(c.serial, c.municipality_code, c.resident_code, now.isoformat(),
                              c.not_after.isoformat(), at, None) for c in cards]
        audit = None if len(cards) != 1 else AuditEntry(at, actor.name, actor.interface, cards[0].municipality_code,
                                                        "card-issue", "serial", None, cards[0].serial)
        await self._store.cards.record_cards(records, audit)

    async def revoke(self, serial_or_pem: str, *, actor: Actor) -> str:
        serial = serial_or_pem.strip().lower()
        if "BEGIN CERTIFICATE" in serial_or_pem:
            cert = x509.load_pem_x509_certificate(serial_or_pem.encode())
            serial = format(cert.serial_number, "x")
        elif not serial or any(c not in "0123456789abcdef" for c in serial):
            raise InvalidInput(f"{serial_or_pem!r} is not a card serial (hex) or a card file", field="card")
        audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, None, "card-revoke", "serial", None,
                           serial)
        await self._store.cards.revoke_card(serial, audit)  # NotFound when no such card was issued here
        return serial

    # -- the relay's checks ------------------------------------------------------------
    def check_certificate(self, pem: str) -> tuple[Card, rsa.RSAPublicKey]:
        """Chain to the test CA and validity period (revocation is checked against the DB)."""
        if not isinstance(pem, str) or len(pem) > MAX_PEM or "BEGIN CERTIFICATE" not in pem:
            raise CardUnreadable("the certificate is not a PEM certificate", "malformed_certificate")
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise CardUnreadable("the certificate cannot be read", "malformed_certificate") from None
        ca = self.ca_cert
        if cert.issuer != ca.subject:
            raise CardRefused("the card was not issued by the JPKI authority this centre trusts", "unknown_issuer")
        try:
            ca_key = ca.public_key()
            assert isinstance(ca_key, rsa.RSAPublicKey)
            assert cert.signature_hash_algorithm is not None
            ca_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
        except InvalidSignature:
            raise CardRefused("the card certificate's signature is not the authority's (tampered?)",
                              "bad_certificate_signature") from None
        now = self._clock.now()
        if now < cert.not_valid_before_utc:
            raise CardRefused("the card certificate is not valid yet", "not_yet_valid")
        if now > cert.not_valid_after_utc:
            raise CardRefused("the card certificate has expired", "expired")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
            raise CardRefused("the card key is not RSA 2048", "weak_key")
        try:
            locality = cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value
            resident = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
        except IndexError:
            raise CardRefused("the card certificate lacks the municipality or resident", "malformed_certificate") from None
        return Card(format(cert.serial_number, "x"), str(locality), str(resident)), key

    @staticmethod
    def check_signature(key: rsa.RSAPublicKey, nonce: bytes, signature_b64: str) -> None:
        try:
            signature = base64.b64decode(signature_b64, validate=True)
            key.verify(signature, nonce, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError, TypeError):
            raise CardSignatureRefused("the signature over the challenge does not verify", "bad_signature") from None

    async def check_recorded(self, serial: str) -> None:
        """A card must be one this centre issued and has not revoked: a certificate signed
        by our CA but never recorded (or whose record is gone) is refused as unknown."""
        card = await self._store.cards.card(serial)
        if card is None:
            raise CardRefused("the card is not one this centre issued (no record of it)", "unknown_card")
        if card.revoked_at is not None:
            raise CardRefused("the card has been revoked", "revoked")


class CardHolder:
    """A test card read once: its certificate (PEM) and key, ready to answer challenges.

    Loading an RSA key runs OpenSSL's consistency checks (~35 ms); a kiosk simulator that
    did it on every flow would measure itself, not the relay.
    """

    def __init__(self, card_pem: bytes) -> None:
        self.certificate = certificate_pem(card_pem)
        #: The card's serial number as the centre records it (lower-case hex).
        self.serial = format(x509.load_pem_x509_certificate(self.certificate.encode("ascii")).serial_number, "x")
        key = serialization.load_pem_private_key(card_pem, password=None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("a card holds an RSA key")
        self._key = key

    def sign(self, nonce_b64: str) -> str:
        """What the card does at the kiosk: sign the challenge's nonce (PKCS#1 v1.5, SHA-256)."""
        signature = self._key.sign(base64.b64decode(nonce_b64), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def sign_nonce(card_pem: bytes, nonce_b64: str) -> str:
    """Sign a challenge's nonce with a card file (for clients and tests)."""
    return CardHolder(card_pem).sign(nonce_b64)


def certificate_pem(card_pem: bytes) -> str:
    text = card_pem.decode("ascii")
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return text[:end] + "\n"
