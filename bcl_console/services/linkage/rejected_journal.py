"""The journal of rejected linkage batches (``DATA_DIR/linkage/rejected.jsonl``).

A rejected batch is not kept, but its problem list is: the operator needs the file, line,
column and rule of each problem to tell the municipality what to fix. The reasons quote
the values they are about — resident codes, kana names, dates of birth — so every entry
is sealed with the centre's backup key (AES-256-GCM, a random nonce per entry) and only
its time and municipality code stay readable, to prune and to filter by. The file is
0600 and rewritten whole (atomically) on each append, without entries older than
``RETENTION``; an entry in the clear (written by an earlier version) is sealed then.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

#: How long a rejected batch's problem list is kept.
RETENTION = timedelta(days=90)
_AAD = b"bcl-console rejected-batch journal v1"


def seal(key: bytes, received_at: str, entry: dict[str, Any]) -> dict[str, Any]:
    """One journal line: the time and municipality in the clear, the rest sealed."""
    nonce = os.urandom(12)
    plain = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, plain, _AAD + received_at.encode("ascii"))
    return {"received_at": received_at, "municipality_code": entry.get("municipality_code"),
            "sealed": base64.b64encode(nonce + sealed).decode("ascii")}


def _open(key: bytes, line: dict[str, Any]) -> dict[str, Any] | None:
    try:
        raw = base64.b64decode(line["sealed"])
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _AAD + str(line["received_at"]).encode("ascii"))
        entry = json.loads(plain)
    except (KeyError, ValueError, InvalidTag, UnicodeEncodeError):
        return None
    if not isinstance(entry, dict):
        return None
    entry["received_at"] = line["received_at"]
    return entry


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for text in fh:
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(line, dict) and isinstance(line.get("received_at"), str):
                out.append(line)
    return out


def read(path: Path, key: bytes) -> list[dict[str, Any]]:
    """Every entry that opens with this key, oldest first (clear ones of old versions too)."""
    out = []
    for line in _lines(path):
        entry = _open(key, line) if "sealed" in line else line
        if entry is None:
            log.warning("a rejected-batch journal entry of %s does not open with this centre's key",
                        line.get("received_at"))
            continue
        out.append(entry)
    return out


def _recent(received_at: str, now: datetime) -> bool:
    try:
        return now - datetime.fromisoformat(received_at) <= RETENTION
    except (TypeError, ValueError):
        return False


def append(path: Path, sealed: dict[str, Any] | None, key: bytes, now: datetime) -> None:
    """Add one sealed entry (None: none, only upkeep); drop expired ones and seal any left
    in the clear. Writers of other threads and processes wait on a lock file, so two
    rejections at once both keep their entries."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _rewrite(path, sealed, key, now)
    finally:
        os.close(fd)  # releases the lock


def _rewrite(path: Path, sealed: dict[str, Any] | None, key: bytes, now: datetime) -> None:
    kept = []
    for line in _lines(path):
        if not _recent(line["received_at"], now):
            continue
        if "sealed" not in line:
            line = seal(key, line["received_at"], {k: v for k, v in line.items() if k != "received_at"})
        kept.append(line)
    if sealed is not None:
        kept.append(sealed)
    fd, tmp = tempfile.mkstemp(prefix=".rejected.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in kept:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
