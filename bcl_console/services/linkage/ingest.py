"""Ingesting one batch: reading its manifest, the hashing pass, the chunks' progress, and
the encrypted backup made beside the load and published before the commit."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bcl_console.domain import linkage as rules
from bcl_console.domain.linkage import Manifest, Problem, Problems
from bcl_console.services.linkage.backup_crypto import encrypt_stream
from bcl_console.services.linkage.batch_rows import Chunk, chunks
from bcl_console.services.linkage.batch_source import MAX_MANIFEST, BatchSource
from bcl_console.services.platform.faults import fault_point

ProgressFn = Callable[[int, int], None]


@dataclass
class IngestResult:
    outcome: str  # applied | already-applied | rejected
    municipality_code: str | None
    sequence: int | None
    kind: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    problems_omitted: int = 0
    seconds: float = 0.0
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "outcome": self.outcome,
            "municipality_code": self.municipality_code,
            "sequence": self.sequence,
            "kind": self.kind,
            "counts": self.counts,
            "problems": [p.as_dict() for p in self.problems],
        }
        if self.problems_omitted:
            doc["problems_omitted"] = self.problems_omitted
        return doc


def read_manifest(source: BatchSource, problems: Problems) -> Manifest | None:
    try:
        if source.size("manifest.json") > MAX_MANIFEST:
            problems.add("manifest.json", None, None, "manifest.json is larger than 1 MiB")
            return None
        with source.open("manifest.json") as fh:
            raw = json.loads(fh.read().decode("utf-8-sig"))
    except (KeyError, FileNotFoundError):
        problems.add("manifest.json", None, None, "the batch has no manifest.json")
        return None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.add("manifest.json", None, None, f"manifest.json is not valid JSON: {exc}")
        return None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        problems.add("manifest.json", None, None, f"manifest.json cannot be read: {exc}")
        return None
    return rules.parse_manifest(raw, problems)


def hash_pass(source: BatchSource, manifest: Manifest, problems: Problems) -> None:
    """Checksums of the listed files, and whether their bytes fit the declared encoding."""
    names = source.names()
    for extra in sorted(names - set(manifest.files) - {"manifest.json"}):
        if not extra.startswith("seals/"):
            problems.add(extra, None, None, "the file is not listed in the manifest")
    for name, entry in sorted(manifest.files.items()):
        if name not in names:
            problems.add(name, None, None, "listed in the manifest but missing from the batch")
            continue
        digest = hashlib.sha256()
        utf8 = codecs.getincrementaldecoder("utf-8")()
        utf8_ok, non_ascii = True, False
        try:
            with source.open(name) as fh:
                while chunk := fh.read(1 << 20):
                    fault_point("link:reading")
                    digest.update(chunk)
                    if utf8_ok:
                        if not non_ascii and not chunk.isascii():
                            non_ascii = True
                        try:
                            utf8.decode(chunk)
                        except UnicodeDecodeError:
                            utf8_ok = False
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            problems.add(name, None, None, f"cannot be read (truncated or damaged): {exc}")
            continue
        if digest.hexdigest() != entry.sha256:
            problems.add(name, None, None,
                         f"checksum mismatch: sha256 is {digest.hexdigest()}, the manifest says {entry.sha256}")
        if manifest.encoding == "cp932" and utf8_ok and non_ascii:
            problems.add(name, None, None, "encoding cp932 is declared but the file is UTF-8")
        if manifest.encoding == "utf-8" and not utf8_ok:
            problems.add(name, None, None, "encoding utf-8 is declared but the file is not UTF-8 (cp932?)")


def counted(stream: Iterator[Chunk], manifest: Manifest, progress: ProgressFn | None) -> Iterator[Chunk]:
    """The chunks as the store writes them, reporting progress every 10,000 records and at
    the end; the ``link:inserting`` crash point is passed once a full batch's rows are written."""
    total = sum(e.records for e in manifest.files.values()) or 1
    done = 0
    for chunk in stream:
        before, done = done, done + chunk.read
        if progress is not None and before // 10_000 != done // 10_000:
            progress(done, total)
        yield chunk
        if manifest.kind == "full" and chunk.rows:
            fault_point("link:inserting")
    if progress is not None:
        progress(done, total)


class IngestLoad:
    """``BatchLoad`` of one ingest: the rows read (here or by a child process) while the
    backup is written beside them, and the backup published before the commit."""

    def __init__(self, src: BatchSource, path: Path, manifest: Manifest, today: date, *,
                 in_child: Callable[[Manifest], bool],
                 key: bytes, final: Path, partial: Path, tmp_dir: Path, progress: ProgressFn) -> None:
        self._src, self._path, self._manifest, self._today = src, path, manifest, today
        self._in_child, self._key, self._tmp = in_child, key, tmp_dir
        self.final, self.partial = final, partial
        self.published = False
        self._size = 0
        self._progress = progress

    @contextmanager
    def rows(self) -> Iterator[Iterator[Chunk]]:
        # The backup (deflate and AES, both outside the GIL) is made beside the load.
        backup = _BackgroundBackup(self._src, self._key, self.partial, self._tmp)
        try:
            in_child = self._in_child(self._manifest)
            with chunks(self._src, self._path, self._manifest, self._today, in_child=in_child) as stream:
                yield counted(stream, self._manifest, self._progress)
        finally:
            self._size = backup.join()

    def before_commit(self) -> int:
        # The backup is published (renamed, its directory synced) before the commit that
        # reports the batch applied: a crash after the commit can never lose it, and one
        # before the commit leaves a file that the next attempt replaces.
        publish(self.partial, self.final)
        self.published = True
        fault_point("link:before-commit")
        return self._size

    def backup_bytes(self) -> bytes:
        fault_point("link:before-commit")
        return self.partial.read_bytes()

    def drop_local(self) -> None:
        self.discard()

    def discard(self) -> None:
        """The transaction did not commit: the batch is not applied, its backup goes."""
        self.partial.unlink(missing_ok=True)
        if self.published:
            self.final.unlink(missing_ok=True)


class _BackgroundBackup:
    """Writes the encrypted backup on its own thread; ``join`` gives its size or re-raises."""

    def __init__(self, src: BatchSource, key: bytes, target: Path, tmp: Path) -> None:
        self._size = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(src, key, target, tmp),
                                        name="linkage-backup", daemon=True)
        self._thread.start()

    def _run(self, src: BatchSource, key: bytes, target: Path, tmp: Path) -> None:
        try:
            self._size = _write_backup(src, key, target, tmp)
        except BaseException as exc:
            self._error = exc

    def join(self) -> int:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._size


def publish(partial: Path, final: Path) -> None:
    """Rename a finished (fsynced) backup to its name and make the rename durable."""
    os.replace(partial, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_backup(src: BatchSource, key: bytes, target: Path, tmp: Path) -> int:
    """Zip the batch (as received) into a temporary file, then encrypt it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=tmp) as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name in sorted(src.names()):
                with src.open(name) as fh, zf.open(name, "w") as dst:
                    shutil.copyfileobj(fh, dst, 1 << 20)
        spool.seek(0)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            size = encrypt_stream(key, spool, out)
            out.flush()
            os.fsync(out.fileno())
    return size
