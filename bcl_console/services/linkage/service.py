"""Resident linkage (連携AP → 中間DB): ingest batches all or nothing, keep encrypted
backups, restore and export them, and issue the linkage servers' tokens.

An ingest reads the batch twice at most and never holds it whole: a hashing pass on a
worker thread (checksums, encoding), then one pass that validates every row
(``batch_rows``: in-process, or for a big full batch in a child process on the other
core) and writes it in chunks, inside a single transaction on the writer's thread. Any
problem rolls the whole transaction back, so a rejected batch changes nothing; every
problem is reported.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bcl_console.domain import linkage as rules
from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.domain.fiscal import tokyo
from bcl_console.domain.linkage import Manifest, Problem, Problems
from bcl_console.services.linkage import rejected_journal
from bcl_console.services.linkage.backup_crypto import (
    BackupCorrupt,
    decrypt_to_temp,
    encrypt_stream,
    verify_backup,
)
from bcl_console.services.linkage.batch_rows import Chunk, Row, chunks
from bcl_console.services.linkage.batch_source import MAX_MANIFEST, BatchSource, open_source
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
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
from bcl_console.services.platform.tokens import TokenService
from bcl_console.store import Conn, Database, IntegrityError
from bcl_console.store import delta as delta_store
from bcl_console.store import ledger as ledger_store
from bcl_console.store import linkage as store
from bcl_console.store import municipalities as muni_store
from bcl_console.store import residents as res_store
from bcl_console.store.audit import AuditEntry, append_audit
from bcl_console.store.linkage import BackupRecord, BatchRecord

log = logging.getLogger(__name__)
__all__ = ["BackupRecord", "BatchView", "IngestResult", "LinkageService"]

TOKEN_KIND = "linkage"
CHILD_READER_FROM = 50_000
_CHANGE_NAMES = {"A": "added", "U": "updated", "D": "deleted"}
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


class _Rejected(Exception):
    """Raised inside the transaction to roll it back."""


class _AlreadyApplied(Exception):
    def __init__(self, record: BatchRecord) -> None:
        self.record = record


# ------------------------------------------------------------------ reading
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


# ------------------------------------------------------------------ applying
class _Applier:
    """Writes one batch's chunks inside the writer's transaction, and finds what only the
    database can tell: a seal or tax record twice, a delta's change of something not held."""

    def __init__(self, conn: Conn, manifest: Manifest, problems: Problems,
                 progress: ProgressFn | None) -> None:
        self.conn = conn
        self.m = manifest
        self.code = manifest.municipality_code
        self.problems = problems
        self.progress = progress
        self.total = sum(e.records for e in manifest.files.values()) or 1
        self.done = 0
        self.counts: dict[str, int] = {}
        self._changes: dict[str, int] = {"A": 0, "U": 0, "D": 0}

    def _tick(self, n: int) -> None:
        before, self.done = self.done, self.done + n
        if self.progress is not None and before // 10_000 != self.done // 10_000:
            self.progress(self.done, self.total)

    def run(self, stream: Iterator[Chunk]) -> None:
        if self.m.kind == "full":
            res_store.delete_municipality_residents(self.conn, self.code)
        for chunk in stream:
            self._tick(chunk.read)
            self.problems.extend(chunk.problems, chunk.omitted)
            for sha, png in chunk.impressions:
                res_store.insert_seal_impression(self.conn, sha, png)
            if self.m.kind == "full":
                if chunk.rows:
                    self._insert(chunk.file, chunk.kind, chunk.rows)
            else:
                for line, change, values in chunk.rows:
                    if change is not None and self._change(chunk.file, line, chunk.kind, change, values):
                        self._changes[change] += 1
            if chunk.records is not None:
                self._finish(chunk.file, chunk.kind, chunk.records)
        if self.progress is not None:
            self.progress(self.done, self.total)

    def _finish(self, name: str, kind: str, records: int) -> None:
        declared = self.m.files[name].records
        if records >= 0 and records != declared:
            self.problems.add(name, None, None,
                              f"the file has {records:,} records, the manifest says {declared:,}")
        self.counts[kind] = records
        if self.m.kind == "delta":
            for c, n in self._changes.items():
                self.counts[f"{kind}.{_CHANGE_NAMES[c]}"] = n
            self._changes = {"A": 0, "U": 0, "D": 0}

    def _insert(self, name: str, kind: str, chunk: list[Row]) -> None:
        insert = {"residents": res_store.insert_residents, "seals": res_store.insert_seals,
                  "taxes": res_store.insert_taxes}[kind]
        # Rows are written even when the batch is already lost (the transaction rolls
        # back), so that duplicates and dangling references are reported too.
        self.conn.execute("SAVEPOINT chunk")
        try:
            insert(self.conn, self.code, [v for _, _, v in chunk])
            self.conn.execute("RELEASE chunk")
            fault_point("link:inserting")
            return
        except IntegrityError:
            self.conn.execute("ROLLBACK TO chunk")
            self.conn.execute("RELEASE chunk")
        # Find the offending rows one by one, so each gets its line.
        for line, _, values in chunk:
            try:
                insert(self.conn, self.code, [values])
            except IntegrityError as exc:
                self.problems.add(name, line, "resident_code", _integrity_reason(kind, str(exc), values))

    def _change(self, name: str, line: int, kind: str, change: str, values: tuple[Any, ...]) -> bool:
        conn, code = self.conn, self.code
        if kind == "residents":
            exists = delta_store.resident_exists(conn, code, values[0])
            what = f"resident {values[0]}"
        elif kind == "seals":
            exists = delta_store.seal_exists(conn, code, values[0], values[1])
            what = f"seal {values[1]} of resident {values[0]}"
        else:
            exists = delta_store.tax_exists(conn, code, values[0], values[1])
            what = f"the {values[1]} tax record of resident {values[0]}"
        if change == "A" and exists:
            self.problems.add(name, line, "change", f"A of {what}, which is already held")
            return False
        if change in ("U", "D") and not exists:
            self.problems.add(name, line, "change", f"{change} of {what}, which is not held")
            return False
        if kind != "residents" and change != "D" and not delta_store.resident_exists(conn, code, values[0]):
            self.problems.add(name, line, "resident_code", f"resident {values[0]} is not held")
            return False
        if change == "D":
            {"residents": lambda: delta_store.delete_resident(conn, code, values[0]),
             "seals": lambda: delta_store.delete_seal(conn, code, values[0], values[1]),
             "taxes": lambda: delta_store.delete_tax(conn, code, values[0], values[1])}[kind]()
        elif change == "A":
            {"residents": res_store.insert_residents, "seals": res_store.insert_seals,
             "taxes": res_store.insert_taxes}[kind](conn, code, [values])
        else:
            {"residents": delta_store.update_resident, "seals": delta_store.update_seal,
             "taxes": delta_store.update_tax}[kind](conn, code, values)
        return True


def _integrity_reason(kind: str, message: str, values: tuple[Any, ...]) -> str:
    if "FOREIGN KEY" in message:
        return f"resident {values[0]} is not in residents.csv"
    if kind == "residents":
        return f"resident code {values[0]} appears twice"
    if kind == "seals":
        return f"seal {values[1]} of resident {values[0]} appears twice"
    return f"the {values[1]} tax record of resident {values[0]} appears twice"


# ------------------------------------------------------------------ service
@dataclass(frozen=True)
class BatchView:
    """A batch as the Linkage screen lists it (applied from the DB, rejected from the journal)."""

    municipality_code: str | None
    sequence: int | None
    kind: str | None
    received_at: str
    source: str
    outcome: str
    counts: dict[str, int]
    problems: list[dict[str, Any]]


class LinkageService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus, keys: KeyStore,
                 data_dir: Path, tokens: TokenService) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._keys = keys
        self._data_dir = data_dir
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
    def journal_path(self) -> Path:
        return self._data_dir / "linkage" / "rejected.jsonl"

    @property
    def tmp_dir(self) -> Path:
        path = self._data_dir / "tmp"
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
                result = IngestResult("rejected", manifest.municipality_code, manifest.sequence, manifest.kind)
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
        if result.outcome == "rejected":
            await asyncio.to_thread(self._journal, result, label)
            self._bus.publish(BatchRejected(result.municipality_code, result.sequence, len(problems)))
        elif result.outcome == "applied" and result.municipality_code and result.sequence and result.kind:
            self._bus.publish(BatchApplied(result.municipality_code, result.sequence, result.kind))
        return result

    async def _apply(self, src: BatchSource, path: Path, manifest: Manifest, problems: Problems,
                     source: str, report: ProgressFn) -> IngestResult:
        code = manifest.municipality_code
        at = iso_now(self._clock)
        today = today_in_japan(self._clock)
        backup_rel = Path("backups") / code / f"{manifest.sequence:08d}-{manifest.kind}.bclbak"
        final = self._data_dir / backup_rel
        # This attempt's own partial file: another process ingesting the same batch (the
        # console while `link` runs) writes its own, and neither removes the other's.
        partial = final.with_name(f"{final.stem}.{secrets.token_hex(4)}.partial")
        published: list[Path] = []
        key = self._keys.backup_key

        def tx(conn: Conn) -> dict[str, int]:
            if not muni_store.municipality_exists(conn, code):
                problems.add("manifest.json", None, "municipality_code", f"municipality {code} is not registered")
                raise _Rejected
            same = store.applied_batch(conn, code, manifest.sequence)
            if same is not None:
                if same.checksums == manifest.checksums() and same.kind == manifest.kind and not problems:
                    raise _AlreadyApplied(same)
                problems.add("manifest.json", None, "sequence",
                             f"sequence {manifest.sequence} was already applied with other content (conflict)")
                raise _Rejected
            last = store.last_applied_sequence(conn, code)
            if manifest.kind == "full" and manifest.sequence <= last:
                problems.add("manifest.json", None, "sequence",
                             f"a full batch needs a sequence above the last applied ({last}), not {manifest.sequence}")
                raise _Rejected
            if manifest.kind == "delta" and manifest.sequence != last + 1:
                gap = "a gap" if manifest.sequence > last + 1 else "behind"
                problems.add("manifest.json", None, "sequence",
                             f"a delta must be sequence {last + 1} (the last applied is {last}); "
                             f"{manifest.sequence} is {gap}")
                raise _Rejected
            # The backup (deflate and AES, both outside the GIL) is made beside the load.
            backup = _BackgroundBackup(src, key, partial, self.tmp_dir)
            try:
                applier = _Applier(conn, manifest, problems, report)
                with chunks(src, path, manifest, today, in_child=self._in_child(manifest)) as rows:
                    applier.run(rows)
            finally:
                size = backup.join()
            if problems:
                raise _Rejected
            # The backup is published (renamed, its directory synced) before the commit that
            # reports the batch applied: a crash after the commit can never lose it, and
            # one before the commit leaves a file that the next attempt replaces.
            _publish(partial, final)
            published.append(final)
            fault_point("link:before-commit")
            store.record_batch(
                conn, municipality_code=code, sequence=manifest.sequence, kind=manifest.kind,
                created_at=manifest.created_at, received_at=at, source=source, outcome="applied",
                counts=applier.counts, checksums=manifest.checksums(),
            )
            store.insert_backup(conn, BackupRecord(code, manifest.sequence, manifest.kind,
                                                   backup_rel.as_posix(), size, at))
            # Evacuation plans of people the batch moved, removed or changed: flagged for
            # review in the same transaction, never dropped.
            flagged = ledger_store.flag_plans(conn, code, at)
            return {**applier.counts, "plans_flagged": flagged} if flagged else applier.counts

        try:
            counts = await self._db.write_bulk(tx)
        except _AlreadyApplied as already:
            return IngestResult("already-applied", code, manifest.sequence, manifest.kind,
                                counts=already.record.counts)
        except asyncio.CancelledError:
            # Cancelled (Ctrl-C, a shutdown) while the writer's thread runs the transaction:
            # it may still commit, so the published backup stays. A backup of a batch that
            # did not commit is harmless: the next attempt replaces it.
            raise
        except BaseException as exc:
            partial.unlink(missing_ok=True)
            for path in published:  # the transaction failed and rolled back: not applied
                path.unlink(missing_ok=True)
            if isinstance(exc, _Rejected):
                return IngestResult("rejected", code, manifest.sequence, manifest.kind)
            raise
        fault_point("link:after-commit")
        return IngestResult("applied", code, manifest.sequence, manifest.kind, counts=counts)

    async def recover_backups(self) -> None:
        """At start, finish what a crash interrupted: a recorded backup found only as its
        ``.partial`` (a version before this one renamed it after the commit) is verified,
        then renamed; stale partial files of batches that were never applied are removed."""
        backups_dir = self._data_dir / "backups"
        if not backups_dir.is_dir():
            return
        records = await self._db.read(store.list_backups, None)
        await asyncio.to_thread(_recover_backups, self._data_dir, records, self._keys.backup_key)

    async def maintain_journal(self) -> None:
        """At start: seal what an older version left in the clear, drop expired entries."""
        if self.journal_path.exists():
            await asyncio.to_thread(rejected_journal.append, self.journal_path, None, self._keys.backup_key,
                                    self._clock.now())

    def _journal(self, result: IngestResult, label: str) -> None:
        """Keep a rejected batch's problem list for the operator. Problems quote the values
        they are about (resident codes, names, dates), so each entry is sealed with the
        backup key (AES-GCM), the file is 0600, and entries older than the retention are
        dropped; only the time and the municipality code stay readable, to prune and filter."""
        entry = {"batch": label, "source": result.source, **result.as_dict()}
        sealed = rejected_journal.seal(self._keys.backup_key, iso_now(self._clock), entry)
        rejected_journal.append(self.journal_path, sealed, self._keys.backup_key, self._clock.now())

    # -- reading back ----------------------------------------------------------------
    async def batches(self, code: str | None = None, limit: int = 200) -> list[BatchView]:
        applied = await self._db.read(store.list_batches, code, limit)
        views = [
            BatchView(b.municipality_code, b.sequence, b.kind, b.received_at, b.source,
                      b.outcome, b.counts, b.problems)
            for b in applied
        ]
        views.extend(await asyncio.to_thread(self._rejected, code, limit))
        # Newest first; on a tie (a stopped clock) the journal's rejections come first.
        views.sort(key=lambda v: (v.received_at, v.outcome == "rejected"), reverse=True)
        return views[:limit]

    def _rejected(self, code: str | None, limit: int) -> list[BatchView]:
        out = []
        for e in rejected_journal.read(self.journal_path, self._keys.backup_key):
            if code is not None and e.get("municipality_code") != code:
                continue
            out.append(BatchView(e.get("municipality_code"), e.get("sequence"), e.get("kind"),
                                 e["received_at"], e.get("source", ""), "rejected",
                                 e.get("counts", {}), e.get("problems", [])))
        return out[-limit:]

    async def backups(self, code: str | None = None) -> list[BackupRecord]:
        return await self._db.read(store.list_backups, code)

    # -- restore ---------------------------------------------------------------------
    async def restore(self, code: str, sequence: int | None = None, *, actor: Actor,
                      progress: ProgressFn | None = None) -> dict[str, Any]:
        """Rebuild a municipality from its last full backup up to ``sequence`` plus the deltas."""
        backups = await self.backups(code)
        if not await self._db.read(muni_store.municipality_exists, code):
            raise NotFound(f"municipality {code} is not registered", field="code")
        if not backups:
            raise NotFound(f"municipality {code} has no backups", field="code")
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
        plain: list[Path] = []
        try:
            for b in chain:
                plain.append(await asyncio.to_thread(decrypt_to_temp, self._keys.backup_key,
                                                       self._data_dir / b.path, self.tmp_dir))
            at = iso_now(self._clock)
            today = today_in_japan(self._clock)
            problems = Problems()

            def tx(conn: Conn) -> dict[str, int]:
                totals: dict[str, int] = {}
                for b, path in zip(chain, plain, strict=True):
                    src = open_source(path, problems)
                    if src is None:
                        raise _Rejected
                    try:
                        manifest = read_manifest(src, problems)
                        if manifest is None or manifest.municipality_code != code:
                            problems.add(b.path, None, None, "the backup does not hold this municipality's batch")
                            raise _Rejected
                        applier = _Applier(conn, manifest, problems, progress)
                        with chunks(src, path, manifest, today, in_child=self._in_child(manifest)) as rows:
                            applier.run(rows)
                        if problems:
                            raise _Rejected
                        totals = applier.counts if manifest.kind == "full" else totals
                    finally:
                        src.close()
                append_audit(conn, AuditEntry(at, actor.name, actor.interface, code, "restore",
                                              "sequence", None, str(target)))
                return totals

            try:
                await self._db.write_bulk(tx)
            except _Rejected:
                raise InvalidInput("the backups could not be restored: "
                                   + "; ".join(f"{p.file}: {p.reason}" for p in problems.items[:3])) from None
        finally:
            for path in plain:
                path.unlink(missing_ok=True)
        held = (await self._db.read(res_store.held_counts)).get(code)
        self._bus.publish(BatchApplied(code, target, "restore"))
        return {
            "municipality_code": code,
            "restored_to_sequence": target,
            "batches": [b.sequence for b in chain],
            "residents": held.residents if held else 0,
            "seals": held.seals if held else 0,
            "taxes": held.taxes if held else 0,
        }

    # -- export ----------------------------------------------------------------------
    async def export(self, code: str, out: Path, *, sequence: int | None = None) -> dict[str, Any]:
        """Write the municipality's current data as a full batch (the BCP recovery path);
        ``sequence`` numbers it (default: the last applied one)."""
        if not await self._db.read(muni_store.municipality_exists, code):
            raise NotFound(f"municipality {code} is not registered", field="code")
        created = tokyo(self._clock.now()).isoformat(timespec="seconds")
        return await self._db.read(_export, code, out, created, sequence)


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


def _publish(partial: Path, final: Path) -> None:
    """Rename a finished (fsynced) backup to its name and make the rename durable."""
    os.replace(partial, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _recover_backups(data_dir: Path, records: list[BackupRecord], key: bytes) -> None:
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
        _publish(partial, final)
        log.warning("backup %s of %s#%d recovered from its unfinished copy", b.path,
                    b.municipality_code, b.sequence)
    # A partial file of no recorded batch was left by a crash before its commit; one still
    # being written belongs to an ingest of another process (the console while `link` runs),
    # so only those untouched for an hour are removed.
    stale = time.time() - 3600
    for partial in (data_dir / "backups").glob("*/*.partial"):  # legacy and per-attempt names
        try:
            if partial not in known and partial.stat().st_mtime < stale:
                partial.unlink(missing_ok=True)
        except OSError:
            continue


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


def _export(conn: Conn, code: str, out: Path, created_at: str, sequence: int | None = None) -> dict[str, Any]:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty directory", field="out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"{out} cannot be created: {exc.strerror}", field="out") from None
    residents_fields = ("resident_code", *rules.RESIDENT_REQUIRED[1:], *rules.RESIDENT_OPTIONAL)
    files: dict[str, tuple[str, int]] = {}
    files["residents.csv"] = write_csv(
        out / "residents.csv", residents_fields,
        ([r[f] for f in residents_fields] for r in res_store.iter_residents(conn, code)),
    )
    (out / "seals").mkdir(exist_ok=True)
    written: set[str] = set()

    def seal_rows() -> Iterator[list[Any]]:
        for r in res_store.iter_seals(conn, code):
            sha = r["impression_sha256"]
            rel = f"seals/{sha}.png"
            if sha not in written:
                (out / rel).write_bytes(res_store.seal_impression(conn, sha) or b"")
                written.add(sha)
            yield [r["resident_code"], r["seal_number"], r["registered_on"], r["status"], rel]

    files["seals.csv"] = write_csv(out / "seals.csv", rules.SEAL_COLUMNS, seal_rows())
    files["taxes.csv"] = write_csv(
        out / "taxes.csv", rules.TAX_COLUMNS,
        ([r[f] for f in rules.TAX_COLUMNS] for r in res_store.iter_taxes(conn, code)),
    )
    sequence = sequence or store.last_applied_sequence(conn, code) or 1
    write_manifest(out, municipality_code=code, sequence=sequence, kind="full",
                   created_at=created_at, files=files)
    return {"municipality_code": code, "out": str(out), "sequence": sequence,
            "counts": {name.split(".")[0]: n for name, (_, n) in files.items()}}
