"""Encrypted backups: AES-256-GCM over 1 MiB chunks, so a city's batch never sits whole
in memory. Format: magic, an 8-byte random nonce prefix, then chunks of
[4-byte length][ciphertext+tag]. A chunk's nonce is the prefix and its index; its
associated data binds the header, the index and whether it is the last chunk, so
chunks cannot be reordered, dropped or the file cut short without detection."""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bcl_console.domain.errors import DomainError

MAGIC = b"BCLBAK1\n"
CHUNK = 1 << 20


class BackupCorrupt(DomainError):
    """The backup cannot be decrypted: wrong key, or the file was changed or cut short
    (one sentence to the user, like every refusal: CLI exit 3, a failed test stage)."""

    code = "backup_corrupt"


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if last else 0)


def encrypt_stream(key: bytes, src: BinaryIO, dst: BinaryIO) -> int:
    """Encrypt everything readable from ``src`` into ``dst``; returns bytes written."""
    aes = AESGCM(key)
    prefix = os.urandom(8)
    header = MAGIC + prefix
    dst.write(header)
    written = len(header)
    index = 0
    current = src.read(CHUNK)
    while True:
        following = src.read(CHUNK)
        last = not following
        nonce = prefix + struct.pack(">I", index)
        sealed = aes.encrypt(nonce, current, _aad(header, index, last))
        dst.write(struct.pack(">I", len(sealed)))
        dst.write(sealed)
        written += 4 + len(sealed)
        if last:
            return written
        current = following
        index += 1


def decrypt_stream(key: bytes, src: BinaryIO, dst: BinaryIO) -> None:
    header = src.read(len(MAGIC) + 8)
    if len(header) != len(MAGIC) + 8 or not header.startswith(MAGIC):
        raise BackupCorrupt("not a bcl-console backup file")
    aes = AESGCM(key)
    prefix = header[len(MAGIC):]
    index = 0
    length_bytes = src.read(4)
    while length_bytes:
        if len(length_bytes) != 4:
            raise BackupCorrupt("the backup is cut short")
        (length,) = struct.unpack(">I", length_bytes)
        if length > CHUNK + 16:
            raise BackupCorrupt("a chunk is larger than any this program writes")
        sealed = src.read(length)
        if len(sealed) != length:
            raise BackupCorrupt("the backup is cut short")
        length_bytes = src.read(4)
        last = not length_bytes
        nonce = prefix + struct.pack(">I", index)
        try:
            dst.write(aes.decrypt(nonce, sealed, _aad(header, index, last)))
        except InvalidTag:
            raise BackupCorrupt("the backup does not decrypt: wrong key, or it was altered") from None
        index += 1
    if index == 0:
        raise BackupCorrupt("the backup holds no data")


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def verify_backup(key: bytes, backup: Path) -> None:
    """Decrypt a backup without keeping the plaintext: raises BackupCorrupt when any
    chunk is altered, missing or cut short."""
    try:
        with open(backup, "rb") as src:
            decrypt_stream(key, src, _Discard())  # type: ignore[arg-type]
    except BackupCorrupt as exc:
        raise BackupCorrupt(exc.message, file=backup.name) from None


def decrypt_to_temp(key: bytes, backup: Path, tmp_dir: Path) -> Path:
    """Decrypt a backup into a new temporary zip in ``tmp_dir`` (the caller removes it);
    nothing is left behind when it does not decrypt."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".zip", dir=tmp_dir)
    try:
        with open(backup, "rb") as src, os.fdopen(fd, "wb") as dst:
            decrypt_stream(key, src, dst)
    except BackupCorrupt as exc:
        Path(name).unlink(missing_ok=True)
        raise BackupCorrupt(exc.message, file=backup.name) from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)
