"""The linkage stage: the newest batch that arrived over the linkage API reached the
intermediate DB whole — its backup decrypts, checksums and counts match, and sampled
residents match field by field."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from bcl_console.domain import linkage as rules
from bcl_console.domain.fiscal import tokyo_at
from bcl_console.domain.linkage import Problems
from bcl_console.domain.onboarding import Outcome
from bcl_console.services.linkage.backup_crypto import decrypt_to_temp
from bcl_console.services.linkage.batch_rows import csv_rows
from bcl_console.services.linkage.batch_source import open_source, sha256_of
from bcl_console.services.linkage.service import read_manifest
from bcl_console.services.onboarding.teststages.kit import Kit, Run, StageFailed
from bcl_console.services.platform.clock import today_in_japan

SAMPLE_RECORDS = 20
T = TypeVar("T")


async def run(kit: Kit, ctx: Run) -> tuple[Outcome, str]:
    code = ctx.municipality.code
    stages = kit.store.teststages
    batches = [b for b in await stages.batches(code, 1000) if b.outcome == "applied" and b.source == "http"]
    if not batches:
        raise StageFailed("no batch has arrived through the linkage API with this municipality's token")
    batch = max(batches, key=lambda b: b.sequence)
    received = tokyo_at(batch.received_at)
    ctx.log(f"batch {batch.sequence} ({batch.kind}) received {received:%Y-%m-%d %H:%M} JST over HTTP")
    backups = {b.sequence: b for b in await stages.backups(code)}
    backup = backups.get(batch.sequence)
    if backup is None:
        raise StageFailed(f"batch {batch.sequence} has no backup")
    latest = await stages.last_applied_sequence(code)
    today = today_in_japan(kit.clock)
    try:
        async with kit.store.files.local(backup.path) as kept:
            checked = await asyncio.to_thread(read_backup, kit, kept, backup.path, batch.checksums, today)
    except FileNotFoundError:
        raise StageFailed(f"batch {batch.sequence}'s backup {backup.path} is missing") from None
    ctx.evidence.update({"batch_sequence": batch.sequence, "batch_kind": batch.kind,
                         "received_at": batch.received_at, "checksums": checked["checksums"]})
    ctx.log(f"backup decrypted; checksums of {len(checked['checksums'])} file(s) match the manifest")
    if checked["mismatch"]:
        raise StageFailed(f"checksum mismatch: {', '.join(checked['mismatch'])}")
    held = (await stages.held_counts()).get(code)
    counts = {"batch_residents": batch.counts.get("residents", 0),
              "db_residents": held.residents if held else 0}
    ctx.evidence.update(counts)
    if batch.kind == "full" and batch.sequence == latest and counts["batch_residents"] != counts["db_residents"]:
        raise StageFailed(f"the batch has {counts['batch_residents']:,} residents, "
                          f"the intermediate DB holds {counts['db_residents']:,}")
    ctx.log(f"counts: batch {counts['batch_residents']:,} residents, DB {counts['db_residents']:,}")
    sample: dict[str, tuple[Any, ...]] = checked["sample"]
    stored = await stages.resident_values(code, list(sample))
    differ = [rc for rc, values in sample.items()
              if batch.sequence == latest and stored.get(rc) != values]
    ctx.evidence.update({"sampled": len(sample), "sample_mismatches": differ[:10]})
    if differ:
        raise StageFailed(f"{len(differ)} of {len(sample)} sampled residents differ from the intermediate DB "
                          f"(e.g. {differ[0]})")
    ctx.log(f"{len(sample)} sampled residents match field by field")
    return Outcome.PASSED, (f"batch {batch.sequence} reached the intermediate DB: checksums, counts and "
                            f"{len(sample)} sampled records match")


def read_backup(kit: Kit, backup: Path, rel_path: str, checksums: dict[str, str], today: date) -> dict[str, Any]:
    """Decrypt a batch's backup (``rel_path`` as recorded, which also seeds the sample),
    check its checksums, sample residents (runs in a thread)."""
    plain = decrypt_to_temp(kit.keys.backup_key, backup, kit.tmp_dir)
    try:
        problems = Problems()
        source = open_source(plain, problems)
        if source is None:
            raise StageFailed("the batch's backup cannot be read: "
                              + "; ".join(p.reason for p in problems.items[:3]))
        try:
            found: dict[str, str] = {}
            for file in sorted(checksums):
                with source.open(file) as fh:
                    found[file] = sha256_of(fh)
            mismatch = [file for file, expected in sorted(checksums.items()) if found[file] != expected]
            sample: dict[str, tuple[Any, ...]] = {}
            manifest = read_manifest(source, problems)
            if manifest is not None and "residents.csv" in manifest.files:
                rows = (row for _, row in csv_rows(source, "residents.csv", manifest, problems, [0])
                        if manifest.kind == "full" or row[-1].strip() != "D")
                for row in reservoir(rows, SAMPLE_RECORDS, random.Random(rel_path)):
                    values = rules.resident_row(row, today, [])
                    if values is not None:
                        sample[str(values[0])] = values
        finally:
            source.close()
    finally:
        plain.unlink(missing_ok=True)
    return {"checksums": found, "mismatch": mismatch, "sample": sample}


def reservoir(rows: Iterable[T], k: int, rng: random.Random) -> list[T]:
    """k rows drawn uniformly from a stream of unknown length, holding only k (a city's
    batch is never read whole into memory to sample twenty of its residents)."""
    kept: list[T] = []
    for i, row in enumerate(rows):
        if i < k:
            kept.append(row)
        else:
            j = rng.randrange(i + 1)
            if j < k:
                kept[j] = row
    return kept
