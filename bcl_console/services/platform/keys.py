"""The centre's keys, made at init in DATA_DIR/keys (0700), each secret file 0600, never logged.

- ``backup.key``: the AES-256 key of the encrypted linkage backups.
- The centre CA (``centre-ca.key`` / ``centre-ca.crt``, ECDSA P-256) and the document
  signing key it certifies (``document-signing.key`` / ``document-signing.crt``): every
  certificate PDF carries a PDF signature by that key with both certificates, and every
  back's 2-D code is signed by it. ``keys public`` publishes the two certificates, so a
  bank or a 司法書士 verifies with no access to the centre.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bcl_console.pdfgen.pades import SigningMaterial

BACKUP_KEY_FILE = "backup.key"
CA_KEY_FILE = "centre-ca.key"
CA_CERT_FILE = "centre-ca.crt"
SIGNING_KEY_FILE = "document-signing.key"
SIGNING_CERT_FILE = "document-signing.crt"
#: Certificates are valid from this day, so a training clock set in the past still signs
#: inside their validity (documents carry the clock's time).
VALID_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def _write_secret(path: Path, data: bytes) -> None:
    """Create the file with mode 0600 from the start, so it is never readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=sign, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _centre_name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bcl-console certificate centre"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def make_centre_certificates(centre: str) -> tuple[bytes, bytes, bytes, bytes]:
    """A new centre CA and document signing key: (CA key, CA cert, signing key, signing
    cert), keys as PKCS#8 PEM and certificates as PEM."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _centre_name(f"BCL Centre CA {centre}")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(VALID_FROM).not_valid_after(now + timedelta(days=365 * 30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(sign=False, ca=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = _centre_name(f"BCL Certificate Issuance {centre}")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(VALID_FROM).not_valid_after(now + timedelta(days=365 * 20))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(sign=True, ca=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return _pem_key(ca_key), ca.public_bytes(pem), _pem_key(key), cert.public_bytes(pem)


class KeyStore:
    """Loads the keys of one centre, creating any that are missing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._backup_key: bytes | None = None
        self._material: SigningMaterial | None = None
        self._signing_key: ec.EllipticCurvePrivateKey | None = None

    def ensure(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        backup = self.directory / BACKUP_KEY_FILE
        if not backup.exists():
            _write_secret(backup, secrets.token_bytes(32))
        if not (self.directory / SIGNING_CERT_FILE).exists():
            self._make_certificates()

    def _make_certificates(self) -> None:
        ca_key, ca_cert, key, cert = make_centre_certificates(secrets.token_hex(4))
        for name in (CA_KEY_FILE, SIGNING_KEY_FILE, CA_CERT_FILE):
            (self.directory / name).unlink(missing_ok=True)  # a set made half before a crash
        _write_secret(self.directory / CA_KEY_FILE, ca_key)
        _write_secret(self.directory / SIGNING_KEY_FILE, key)
        (self.directory / CA_CERT_FILE).write_bytes(ca_cert)
        tmp = self.directory / f".{SIGNING_CERT_FILE}.part"  # written last: its presence means a whole set
        tmp.write_bytes(cert)
        os.replace(tmp, self.directory / SIGNING_CERT_FILE)

    @property
    def backup_key(self) -> bytes:
        """The AES-256 key of the encrypted linkage backups."""
        if self._backup_key is None:
            key = (self.directory / BACKUP_KEY_FILE).read_bytes()
            if len(key) != 32:
                raise ValueError(f"{self.directory / BACKUP_KEY_FILE} is not a 32-byte key")
            self._backup_key = key
        return self._backup_key

    @property
    def signing(self) -> SigningMaterial:
        """What signs a document: the key and both certificates (handed to render workers)."""
        if self._material is None:
            der = serialization.Encoding.DER
            cert = x509.load_pem_x509_certificate((self.directory / SIGNING_CERT_FILE).read_bytes())
            ca = x509.load_pem_x509_certificate((self.directory / CA_CERT_FILE).read_bytes())
            self._material = SigningMaterial((self.directory / SIGNING_KEY_FILE).read_bytes(),
                                             cert.public_bytes(der), ca.public_bytes(der))
        return self._material

    @property
    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        """The document signing key (signs the 2-D codes; the PDFs are signed in workers)."""
        if self._signing_key is None:
            loaded = serialization.load_pem_private_key(self.signing.key_pem, password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{self.directory / SIGNING_KEY_FILE} is not an EC key")
            self._signing_key = loaded
        return self._signing_key

    def public_pem(self) -> bytes:
        """The centre's verification key as published: the document signing certificate,
        then the centre CA's (PEM)."""
        return (self.directory / SIGNING_CERT_FILE).read_bytes() + (self.directory / CA_CERT_FILE).read_bytes()


#: A centre's key files, as ``KeyStore`` and the test JPKI CA (``services.issuance.pki``)
#: keep them: what a standby must share with the active centre, and nothing else.
CENTRE_KEY_FILES = (BACKUP_KEY_FILE, CA_KEY_FILE, CA_CERT_FILE, SIGNING_KEY_FILE, SIGNING_CERT_FILE,
                    "jpki-ca-key.pem", "jpki-ca.pem")


def provision_keys(source: Path, target: Path) -> list[str]:
    """``centre init-standby``: give the standby centre (``target``, its keys directory)
    the active centre's keys (``source``: its data directory or its keys directory), so
    that documents signed at either verify at both and either can open the other's
    backups. The files that were copied; none when ``target`` holds the same keys already.
    KeyMismatch (nothing changed) when ``target`` holds keys of its own that differ."""
    if not (source / BACKUP_KEY_FILE).is_file() and (source / "keys" / BACKUP_KEY_FILE).is_file():
        source = source / "keys"
    names = [n for n in CENTRE_KEY_FILES if (source / n).is_file()] if source.is_dir() else []
    linked = [n for n in names if (source / n).is_symlink()]
    if linked:
        raise KeyMismatch(f"{source} holds keys that are links to other files ({', '.join(linked)}): copy the "
                          "key files themselves; nothing changed")
    if BACKUP_KEY_FILE not in names or SIGNING_CERT_FILE not in names:
        raise FileNotFoundError(f"{source} holds no centre's keys ({BACKUP_KEY_FILE}, {SIGNING_CERT_FILE}): "
                                "name the active centre's data directory or its keys directory")
    differing = [n for n in names if (target / n).is_file() and (target / n).read_bytes() != (source / n).read_bytes()]
    if differing:
        raise KeyMismatch(f"{target} holds keys of its own that differ from {source}'s ({', '.join(differing)}): "
                          "a standby must sign with the active centre's keys; move them away first if this "
                          "data directory is to become the standby; nothing changed")
    copied = [n for n in names if not (target / n).is_file()]
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    # the signing certificate last: its presence means a whole set (KeyStore.ensure)
    for name in sorted(copied, key=lambda n: n == SIGNING_CERT_FILE):
        part = target / f".{name}.part"  # whole or not at all, whatever stops this
        part.unlink(missing_ok=True)
        _write_secret(part, (source / name).read_bytes())
        os.replace(part, target / name)
    return copied


class KeyMismatch(ValueError):
    """A data directory holds keys that are not the other centre's."""
