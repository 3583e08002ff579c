"""Linkage: what crosses the store boundary."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bcl_console.domain.linkage import Manifest, Problem, Problems
from bcl_console.store.api.audit import AuditEntry

#: A validated row of a batch file: (line, change A/U/D or None for a full batch, values).
LinkageRow = tuple[int, str | None, tuple[Any, ...]]

T = TypeVar("T")


@dataclass
class Chunk:
    """Rows of one file ready to write, and what was found since the previous chunk."""

    file: str
    kind: str  # residents | seals | taxes
    read: int  # data rows read since the previous chunk (for progress)
    rows: list[LinkageRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    omitted: int = 0
    impressions: list[tuple[str, bytes]] = field(default_factory=list)  # (sha256, png), new ones
    records: int | None = None  # on a file's last chunk: its data rows (-1: header unusable)


@dataclass(frozen=True)
class BatchRecord:
    id: int
    municipality_code: str
    sequence: int
    kind: str
    created_at: str | None
    received_at: str
    source: str
    outcome: str
    counts: dict[str, int]
    checksums: dict[str, str]
    problems: list[dict[str, Any]]


@dataclass(frozen=True)
class BackupRecord:
    municipality_code: str
    sequence: int
    kind: str
    path: str  # relative to the data directory
    size: int
    created_at: str


@dataclass(frozen=True)
class BatchArrival:
    """What the record of a batch says besides its rows: the manifest, when and how it
    came, and where its backup is published (relative to the data directory)."""

    manifest: Manifest
    received_at: str
    source: str
    backup_path: str


@dataclass(frozen=True)
class BatchOutcome:
    outcome: str  # applied | already-applied | rejected
    counts: dict[str, int] = field(default_factory=dict)


class BatchLoad(Protocol):
    """The service's side of applying one batch, called inside the store's transaction."""

    def rows(self) -> AbstractContextManager[Iterator[Chunk]]:
        """The batch's validated chunks, asked for only once the sequence rules pass (the
        backup is made beside the load)."""
        ...

    def before_commit(self) -> int:
        """Every row is written and nothing is wrong: publish the backup in the data
        directory (a store that keeps the backups there); its size."""
        ...

    def backup_bytes(self) -> bytes:
        """Every row is written and nothing is wrong: the finished backup's bytes, for a
        store that keeps the backups in the database and writes them in the batch's own
        transaction. Nothing is published in the data directory (whose backups, if any,
        are another store's)."""
        ...

    def drop_local(self) -> None:
        """The batch committed with its backup in the database: the local file that
        staged it is not needed."""
        ...


#: One backup to replay in a restore: its manifest and its validated chunks.
RestoreStep = tuple[Manifest, Iterator[Chunk]]


@dataclass(frozen=True)
class HeldTotals:
    residents: int
    seals: int
    taxes: int


@dataclass(frozen=True)
class RejectedRecord:
    """A rejected batch's problem list, sealed by the service (AES-GCM, backup key): only
    the time and the municipality code are readable, to prune and to filter by."""

    received_at: str
    municipality_code: str | None
    sealed: bytes
    #: For an entry imported from the journal file of an earlier version: its line's
    #: keyed hash, so that importing the file twice adds it once.
    imported_from: str | None = None


class HeldData(Protocol):
    """A municipality's data as one consistent snapshot, streamed (an export)."""

    def rows(self, kind: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Residents, seals or taxes in key order, values in ``columns`` order."""
        ...

    def impression(self, sha256: str) -> bytes | None: ...

    def last_applied_sequence(self) -> int: ...


class LinkageStore(Protocol):
    async def municipality_registered(self, code: str) -> bool: ...

    async def apply_batch(self, arrival: BatchArrival, load: BatchLoad, problems: Problems) -> BatchOutcome:
        """One batch, all or nothing, in one transaction: the sequence rules, the rows
        (problems only the database can tell are added), the backup's record, the batch's
        record and the evacuation plans it flags. Rejected: nothing is kept."""
        ...

    async def restore_batches(self, code: str, steps: Generator[RestoreStep, None, None],
                              problems: Problems, audit: AuditEntry) -> HeldTotals | None:
        """Replay a full backup and its deltas in one transaction with its audit line;
        None (nothing changed) when any problem is found."""
        ...

    async def batches(self, code: str | None, limit: int) -> list[BatchRecord]:
        """Recorded (applied) batches, newest first."""
        ...

    async def backups(self, code: str | None) -> list[BackupRecord]: ...

    async def record_rejected(self, record: RejectedRecord, kept_since: datetime) -> None:
        """Keep a rejected batch's sealed problem list; drop those received before ``kept_since``."""
        ...

    async def import_rejected(self, records: list[RejectedRecord], kept_since: datetime) -> int | None:
        """Add entries of an earlier version's journal file (each once) and prune; how many
        were new, or None when the database (opened at an older schema) cannot hold them."""
        ...

    async def prune_rejected(self, kept_since: datetime) -> int:
        """Drop the problem lists received before ``kept_since``; how many."""
        ...

    async def rejected(self, code: str | None) -> list[RejectedRecord]:
        """Kept problem lists, oldest first."""
        ...

    async def export_held(self, code: str, write: Callable[[HeldData], T]) -> T:
        """Run ``write`` on one consistent snapshot of a municipality's data (it runs on the
        store's own thread: it may block, it must not touch the event loop)."""
        ...
