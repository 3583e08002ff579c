"""Rejected linkage batches' problem lists, sealed for the database.

A rejected batch is not kept, but its problem list is: the operator needs the file, line,
column and rule of each problem to tell the municipality what to fix. The reasons quote
the values they are about — resident codes, kana names, dates of birth — so every entry
is sealed with the centre's backup key (AES-256-GCM, a random nonce per entry) before it
is stored; only its time and municipality code stay readable, to prune and to filter by.
Entries older than ``RETENTION`` are dropped.

Earlier versions kept the entries in ``linkage/rejected.jsonl`` (sealed the same way, or
in the clear before that); :func:`legacy_records` reads such a file for its import.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bcl_console.store.api import RejectedRecord

log = logging.getLogger(__name__)

#: How long a rejected batch's problem list is kept.
RETENTION = timedelta(days=90)
#: The journal file of earlier versions, in the linkage directory.
LEGACY_NAME = "rejected.jsonl"
_AAD = b"bcl-console rejected-batch journal v1"


def seal(key: bytes, received_at: str, entry: dict[str, Any]) -> RejectedRecord:
    """One entry: the time and municipality in the clear, the rest sealed."""
    nonce = os.urandom(12)
    plain = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, plain, _AAD + received_at.encode("ascii"))
    code = entry.get("municipality_code")
    return RejectedRecord(received_at, code if isinstance(code, str) else None, nonce + sealed)


def open_entry(key: bytes, record: RejectedRecord) -> dict[str, Any] | None:
    """The entry of a record, with its ``received_at``; None if it does not open with this key."""
    raw = record.sealed
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _AAD + record.received_at.encode("ascii"))
        entry = json.loads(plain)
    except (ValueError, InvalidTag, UnicodeEncodeError):
        entry = None
    if not isinstance(entry, dict):
        log.warning("a rejected batch's problem list of %s does not open with this centre's key",
                    record.received_at)
        return None
    entry["received_at"] = record.received_at
    return entry


def legacy_records(path: Path, key: bytes) -> list[RejectedRecord]:
    """The entries of an earlier version's journal file, oldest first: sealed ones as they
    are, ones in the clear sealed now. Each is marked with its line's keyed hash, so that a
    second import (a crash before the file was removed) adds nothing."""
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for text in fh:
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue
            if not isinstance(line, dict) or not isinstance(line.get("received_at"), str):
                continue
            at = line["received_at"]
            mark = hmac.new(key, text.rstrip("\n").encode("utf-8"), hashlib.sha256).hexdigest()
            if "sealed" in line:
                code = line.get("municipality_code")
                try:
                    blob = base64.b64decode(str(line["sealed"]))
                except ValueError:
                    continue
                record = RejectedRecord(at, code if isinstance(code, str) else None, blob)
            else:
                record = seal(key, at, {k: v for k, v in line.items() if k != "received_at"})
            out.append(RejectedRecord(record.received_at, record.municipality_code, record.sealed, mark))
    return out


def remove_legacy(path: Path) -> None:
    """Remove an imported journal file and its lock file (the entries are in the database)."""
    path.unlink(missing_ok=True)
    path.with_suffix(".lock").unlink(missing_ok=True)
