"""Resident linkage (連携AP → 中間DB): ingest batches all or nothing, keep encrypted
backups, restore and export them, and issue the linkage servers' tokens.

An ingest reads the batch twice at most and never holds it whole: a hashing pass on a
worker thread (checksums, encoding), then one pass that validates every row
(``batch_rows``: in-process, or for a big full batch in a child process on the other
core) and that the store writes in chunks, inside a single transaction on the writer's
thread (``store.linkage.apply_batch``). Any problem rolls the whole transaction back, so a
rejected batch changes nothing; every problem is reported, and the list is kept (sealed).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bcl_console.config import Settings
from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.linkage import Manifest, Problems
from bcl_console.services.linkage import rejected_journal
from bcl_console.services.linkage.backup_crypto import decrypt_to_temp
from bcl_console.services.linkage.backups import (
    Restored,
    recover_backups,
    restore_chain,
    restore_steps,
)
from bcl_console.services.linkage.batch_source import BatchSource, open_source
from bcl_console.services.linkage.export import Exported, write_export
from bcl_console.services.linkage.ingest import IngestLoad, IngestResult, ProgressFn, hash_pass
from bcl_console.services.linkage.ingest import read_manifest as read_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import Clock, iso_now, today_in_japan
from bcl_console.services.platform.events import (
    BatchApplied,
    BatchRejected,
    EventBus,
    LinkageProgress,
)
from bcl_console.services.platform.faults import fault_point
from bcl_console.services.platform.keys import KeyStore
from bcl_console.services.platform.metrics import Metrics
from bcl_console.services.platform.tokens import TokenService
from bcl_console.store.api import AuditEntry, BatchArrival, Store
from bcl_console.store.api import BackupRecord as BackupRecord

log = logging.getLogger(__name__)
__all__ = ["BackupRecord", "BatchView", "Exported", "IngestResult", "LinkageService", "Restored"]

TOKEN_KIND = "linkage"
CHILD_READER_FROM = 50_000


@dataclass(frozen=True)
class BatchView:
    """A batch as the Linkage screen lists it (applied from its record, rejected from its
    kept problem list)."""

    municipality_code: str | None
    sequence: int | None
    kind: str | None
    received_at: str
    source: str
    outcome: str
    counts: dict[str, int]
    problems: list[dict[str, Any]]


class LinkageService:
    def __init__(self, store: Store, clock: Clock, bus: EventBus, keys: KeyStore,
                 settings: Settings, tokens: TokenService, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._bus = bus
        self._keys = keys
        self._settings = settings
        self._tokens = tokens
        self._lock = asyncio.Lock()
        # Full batches of this many records or more are read by a child process while
        # the writer inserts (a process costs about 0.2 s to start: small ones read here).
        self.child_reader_from = CHILD_READER_FROM

    def _in_child(self, manifest: Manifest) -> bool:
        records = sum(e.records for e in manifest.files.values())
        in_child = manifest.kind == "full" and records >= self.child_reader_from
        if in_child:
            log.info("batch %s/%d: %d records, read by a child process",
                     manifest.municipality_code, manifest.sequence, records)
        return in_child

    @property
    def legacy_journal_path(self) -> Path:
        """Where versions before schema 13 kept rejected batches' problem lists (imported
        into the database at start, then removed)."""
        return self._settings.linkage_dir / rejected_journal.LEGACY_NAME

    @property
    def tmp_dir(self) -> Path:
        path = self._settings.tmp_dir
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- tokens ----------------------------------------------------------------------
    async def issue_token(self, code: str, *, actor: Actor) -> str:
        """A new token for a municipality's linkage server; earlier ones stay valid."""
        return await self._tokens.issue(TOKEN_KIND, code, actor=actor, must_be_municipality=True)

    async def token_municipality(self, token: str) -> str | None:
        return await self._tokens.subject(TOKEN_KIND, token)

    # -- ingest ----------------------------------------------------------------------
    async def link(
        self,
        path: Path,
        *,
        source: str = "cli",
        expected_code: str | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestResult:
        """Ingest one batch (a directory or .zip): applied, already applied, or rejected."""
        started = time.perf_counter()
        problems = Problems()
        label = path.name
        bus = self._bus

        def report(done: int, total: int) -> None:
            bus.publish_threadsafe(LinkageProgress(label, done, total))
            if progress is not None:
                progress(done, total)

        src = await asyncio.to_thread(open_source, path, problems)
        manifest: Manifest | None = None
        result: IngestResult
        try:
            if src is not None:
                manifest = await asyncio.to_thread(read_manifest, src, problems)
            if src is None or manifest is None:
                result = IngestResult("rejected", None, None)
            elif expected_code is not None and manifest.municipality_code != expected_code:
                problems.add("manifest.json", None, "municipality_code",
                             f"the batch is for municipality {manifest.municipality_code}, "
                             f"but the token is {expected_code}'s")
                # filed under the sender's own history: a token never writes another's
                result = IngestResult("rejected", expected_code, manifest.sequence, manifest.kind)
            else:
                await asyncio.to_thread(hash_pass, src, manifest, problems)
                async with self._lock:  # one ingest at a time; the backup file name is per sequence
                    result = await self._apply(src, path, manifest, problems, source, report)
        finally:
            if src is not None:
                src.close()
        result.problems = list(problems.items)
        result.problems_omitted = problems.omitted
        result.seconds = time.perf_counter() - started
        result.source = source
        self._metrics.batch(result.outcome)
        if result.outcome == "rejected":
            await self._keep_rejected(result, label)
            self._bus.publish(BatchRejected(result.municipality_code, result.sequence, len(problems)))
        elif result.outcome == "applied" and result.municipality_code and result.sequence and result.kind:
            self._bus.publish(BatchApplied(result.municipality_code, result.sequence, result.kind))
        return result

    async def _apply(self, src: BatchSource, path: Path, manifest: Manifest, problems: Problems,
                     source: str, report: ProgressFn) -> IngestResult:
        code = manifest.municipality_code
        at = iso_now(self._clock)
        final = self._settings.backups_dir / code / f"{manifest.sequence:08d}-{manifest.kind}.bclbak"
        # This attempt's own partial file: another process ingesting the same batch (the
        # console while `link` runs) writes its own, and neither removes the other's.
        partial = final.with_name(f"{final.stem}.{secrets.token_hex(4)}.partial")
        load = IngestLoad(src, path, manifest, today_in_japan(self._clock), in_child=self._in_child,
                          key=self._keys.backup_key, final=final, partial=partial, tmp_dir=self.tmp_dir,
                          progress=report)
        # A backup's recorded path is relative to the data directory.
        arrival = BatchArrival(manifest, at, source, final.relative_to(self._settings.data_dir).as_posix())
        try:
            outcome = await self._store.linkage.apply_batch(arrival, load, problems)
        except asyncio.CancelledError:
            # Cancelled (Ctrl-C, a shutdown) while the writer's thread runs the transaction:
            # it may still commit, so the published backup stays. A backup of a batch that
            # did not commit is harmless: the next attempt replaces it.
            raise
        except BaseException:
            load.discard()  # the transaction failed and rolled back: not applied
            raise
        if outcome.outcome == "rejected":
            load.discard()
        elif outcome.outcome == "applied":
            fault_point("link:after-commit")
        return IngestResult(outcome.outcome, code, manifest.sequence, manifest.kind, counts=outcome.counts)

    # -- at start --------------------------------------------------------------------
    async def recover_backups(self) -> None:
        """At start, finish what a crash interrupted: a recorded backup found only as its
        ``.partial`` (a version before this one renamed it after the commit) is verified,
        then renamed; stale partial files of batches that were never applied are removed."""
        backups_dir = self._settings.backups_dir
        if not backups_dir.is_dir():
            return
        records = await self._store.linkage.backups(None)
        await asyncio.to_thread(recover_backups, self._settings.data_dir, backups_dir, records,
                                self._keys.backup_key)

    async def maintain_journal(self) -> None:
        """At start: import the journal file of an earlier version (its entries in the clear
        are sealed now), then drop the problem lists older than the retention."""
        kept_since = self._clock.now() - rejected_journal.RETENTION
        path = self.legacy_journal_path
        if path.exists():
            records = await asyncio.to_thread(rejected_journal.legacy_records, path, self._keys.backup_key)
            added = await self._store.linkage.import_rejected(records, kept_since)
            if added is not None:  # else the database is at a schema before the table: not yet
                await asyncio.to_thread(rejected_journal.remove_legacy, path)
                log.info("%d rejected batch(es) imported from %s", added, path)
        else:
            await self._store.linkage.prune_rejected(kept_since)

    async def _keep_rejected(self, result: IngestResult, label: str) -> None:
        """Keep a rejected batch's problem list for the operator. Problems quote the values
        they are about (resident codes, names, dates), so the entry is sealed with the
        backup key (AES-GCM) before it is stored, and entries older than the retention are
        dropped; only the time and the municipality code stay readable, to prune and filter."""
        entry = {"batch": label, "source": result.source, **result.as_dict()}
        record = rejected_journal.seal(self._keys.backup_key, iso_now(self._clock), entry)
        await self._store.linkage.record_rejected(record, self._clock.now() - rejected_journal.RETENTION)

    # -- reading back ----------------------------------------------------------------
    async def batches(self, code: str | None = None, limit: int = 200) -> list[BatchView]:
        applied = await self._store.linkage.batches(code, limit)
        views = [
            BatchView(b.municipality_code, b.sequence, b.kind, b.received_at, b.source,
                      b.outcome, b.counts, b.problems)
            for b in applied
        ]
        views.extend(await self._rejected(code, limit))
        # Newest first; on a tie (a stopped clock) the rejections come first.
        views.sort(key=lambda v: (v.received_at, v.outcome == "rejected"), reverse=True)
        return views[:limit]

    async def _rejected(self, code: str | None, limit: int) -> list[BatchView]:
        records = await self._store.linkage.rejected(code)
        key = self._keys.backup_key

        def opened() -> list[BatchView]:
            out = []
            for record in records:
                e = rejected_journal.open_entry(key, record)
                if e is None:
                    continue
                out.append(BatchView(e.get("municipality_code"), e.get("sequence"), e.get("kind"),
                                     e["received_at"], e.get("source", ""), "rejected",
                                     e.get("counts", {}), e.get("problems", [])))
            return out[-limit:]

        return await asyncio.to_thread(opened)

    async def backups(self, code: str | None = None) -> list[BackupRecord]:
        return await self._store.linkage.backups(code)

    # -- restore ---------------------------------------------------------------------
    async def restore(self, code: str, sequence: int | None = None, *, actor: Actor,
                      progress: ProgressFn | None = None) -> Restored:
        """Rebuild a municipality from its last full backup up to ``sequence`` plus the deltas."""
        backups = await self.backups(code)
        if not await self._store.linkage.municipality_registered(code):
            raise NotFound(f"municipality {code} is not registered", field="code")
        if not backups:
            raise NotFound(f"municipality {code} has no backups", field="code")
        chain = restore_chain(code, backups, sequence)
        target = chain[-1].sequence
        plain: list[Path] = []
        try:
            for b in chain:
                try:
                    async with self._store.files.local(b.path) as kept:
                        plain.append(await asyncio.to_thread(decrypt_to_temp, self._keys.backup_key, kept,
                                                               self.tmp_dir))
                except FileNotFoundError:
                    raise InvalidInput(f"the backup of sequence {b.sequence} ({b.path}) is missing",
                                       field="sequence") from None
            audit = AuditEntry(iso_now(self._clock), actor.name, actor.interface, code, "restore",
                               "sequence", None, str(target))
            problems = Problems()
            steps = restore_steps(code, chain, plain, today_in_japan(self._clock), problems,
                                  self._in_child, progress)
            held = await self._store.linkage.restore_batches(code, steps, problems, audit)
            if held is None:
                raise InvalidInput("the backups could not be restored: "
                                   + "; ".join(f"{p.file}: {p.reason}" for p in problems.items[:3]))
        finally:
            for path in plain:
                path.unlink(missing_ok=True)
        self._bus.publish(BatchApplied(code, target, "restore"))
        return Restored(code, target, tuple(b.sequence for b in chain), held.residents, held.seals, held.taxes)

    # -- export ----------------------------------------------------------------------
    async def export(self, code: str, out: Path, *, sequence: int | None = None) -> Exported:
        """Write the municipality's current data as a full batch (the BCP recovery path);
        ``sequence`` numbers it (default: the last applied one)."""
        if not await self._store.linkage.municipality_registered(code):
            raise NotFound(f"municipality {code} is not registered", field="code")
        created = tokyo(self._clock.now()).isoformat(timespec="seconds")
        return await self._store.linkage.export_held(
            code, lambda held: write_export(held, code, out, created, sequence))
