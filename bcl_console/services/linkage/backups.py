"""The encrypted backups of applied batches after the fact: finishing what a crash left at
start, choosing the chain a restore replays, and reading that chain back as chunks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.linkage import Manifest, Problems
from bcl_console.services.linkage.backup_crypto import BackupCorrupt, verify_backup
from bcl_console.services.linkage.batch_rows import chunks
from bcl_console.services.linkage.batch_source import open_source
from bcl_console.services.linkage.ingest import ProgressFn, counted, publish, read_manifest
from bcl_console.store.api import BackupRecord, RestoreStep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Restored:
    """A municipality rebuilt from its backups: the sequence reached, the chain replayed
    (a full batch and the deltas after it) and the records held now."""

    municipality_code: str
    restored_to_sequence: int
    batches: tuple[int, ...]
    residents: int
    seals: int
    taxes: int

    def as_dict(self) -> dict[str, Any]:
        return {"municipality_code": self.municipality_code, "restored_to_sequence": self.restored_to_sequence,
                "batches": list(self.batches), "residents": self.residents, "seals": self.seals,
                "taxes": self.taxes}


def recover_backups(data_dir: Path, backups_dir: Path, records: list[BackupRecord], key: bytes) -> None:
    """A recorded backup found only as its ``.partial`` is verified, then renamed; stale
    partial files of batches that were never applied are removed."""
    known = set()
    for b in records:
        final = data_dir / b.path
        partial = final.with_suffix(".partial")
        known.add(partial)
        if final.exists() or not partial.exists():
            continue
        try:
            if partial.stat().st_size != b.size:
                raise BackupCorrupt(f"it holds {partial.stat().st_size} bytes, not {b.size}")
            verify_backup(key, partial)
        except (BackupCorrupt, OSError) as exc:
            log.error("backup %s of %s#%d was not finished and cannot be recovered: %s",
                      b.path, b.municipality_code, b.sequence, exc)
            continue
        publish(partial, final)
        log.warning("backup %s of %s#%d recovered from its unfinished copy", b.path,
                    b.municipality_code, b.sequence)
    # A partial file of no recorded batch was left by a crash before its commit; one still
    # being written belongs to an ingest of another process (the console while `link` runs),
    # so only those untouched for an hour are removed.
    stale = time.time() - 3600
    for partial in backups_dir.glob("*/*.partial"):  # legacy and per-attempt names
        try:
            if partial not in known and partial.stat().st_mtime < stale:
                partial.unlink(missing_ok=True)
        except OSError:
            continue


def restore_chain(code: str, backups: list[BackupRecord], sequence: int | None) -> list[BackupRecord]:
    """The last full backup at or before ``sequence`` (default: the last) and the deltas
    after it, which must be consecutive."""
    target = sequence if sequence is not None else backups[-1].sequence
    if target not in {b.sequence for b in backups}:
        raise InvalidInput(f"there is no backup of sequence {target} for {code}", field="sequence")
    chain = [b for b in backups if b.sequence <= target]
    fulls = [i for i, b in enumerate(chain) if b.kind == "full"]
    if not fulls:
        raise InvalidInput(f"no full backup at or before sequence {target}", field="sequence")
    chain = chain[fulls[-1]:]
    expected = list(range(chain[0].sequence, chain[0].sequence + len(chain)))
    if [b.sequence for b in chain] != expected:
        raise InvalidInput(f"the deltas after full batch {chain[0].sequence} are not consecutive",
                           field="sequence")
    return chain


def restore_steps(code: str, chain: list[BackupRecord], plain: list[Path], today: date,
                  problems: Problems, in_child: Callable[[Manifest], bool],
                  progress: ProgressFn | None) -> Generator[RestoreStep, None, None]:
    """The decrypted backups of a chain as the store replays them; one that does not open
    or does not hold this municipality's batch adds a problem and ends the replay."""
    for b, path in zip(chain, plain, strict=True):
        src = open_source(path, problems)
        if src is None:
            return
        try:
            manifest = read_manifest(src, problems)
            if manifest is None or manifest.municipality_code != code:
                problems.add(b.path, None, None, "the backup does not hold this municipality's batch")
                return
            with chunks(src, path, manifest, today, in_child=in_child(manifest)) as rows:
                yield manifest, counted(rows, manifest, progress)
        finally:
            src.close()
