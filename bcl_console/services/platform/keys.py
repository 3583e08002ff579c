"""The centre's keys, made at init in DATA_DIR/keys (0700), each file 0600, never logged."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

BACKUP_KEY_FILE = "backup.key"
SIGNING_KEY_FILE = "centre-signing.pem"


def _write_secret(path: Path, data: bytes) -> None:
    """Create the file with mode 0600 from the start, so it is never readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class KeyStore:
    """Loads the keys of one centre, creating any that are missing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._backup_key: bytes | None = None
        self._signing_key: Ed25519PrivateKey | None = None

    def ensure(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        backup = self.directory / BACKUP_KEY_FILE
        if not backup.exists():
            _write_secret(backup, secrets.token_bytes(32))
        signing = self.directory / SIGNING_KEY_FILE
        if not signing.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_secret(signing, pem)

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
    def signing_key(self) -> Ed25519PrivateKey:
        """The centre's key that signs the back side of every certificate."""
        if self._signing_key is None:
            loaded = serialization.load_pem_private_key(
                (self.directory / SIGNING_KEY_FILE).read_bytes(), password=None
            )
            if not isinstance(loaded, Ed25519PrivateKey):
                raise ValueError(f"{self.directory / SIGNING_KEY_FILE} is not an Ed25519 key")
            self._signing_key = loaded
        return self._signing_key

    @property
    def verify_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()
