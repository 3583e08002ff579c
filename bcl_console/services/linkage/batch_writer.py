"""Writing a linkage batch in the contract's format (export, fixtures, benchmarks)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bcl_console.domain.linkage import FORMAT
from bcl_console.services.linkage.batch_source import sha256_of


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]],
              encoding: str = "utf-8", newline: str = "\n") -> tuple[str, int]:
    """Write a CSV file; returns (sha256, number of data rows)."""
    count = 0
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator=newline)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            count += 1
    with path.open("rb") as fh:
        return sha256_of(fh), count


def write_manifest(directory: Path, *, municipality_code: str, sequence: int, kind: str,
                   created_at: str, files: dict[str, tuple[str, int]],
                   encoding: str = "utf-8") -> dict[str, Any]:
    manifest = {
        "format": FORMAT,
        "municipality_code": municipality_code,
        "sequence": sequence,
        "kind": kind,
        "created_at": created_at,
        "encoding": encoding,
        "files": {name: {"sha256": sha, "records": n} for name, (sha, n) in files.items()},
    }
    (directory / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def address_delta(full: Path, target: Path, *, sequence: int, changes: int,
                  address: Callable[[str], str]) -> Path:
    """A delta batch in ``target`` (made) that moves the first ``changes`` active residents
    of the full batch ``full`` to ``address(their address)``: what a municipality's server
    sends after a few moves (the drill's deliveries, the linkage benchmark's delta)."""
    target.mkdir(parents=True)
    with (full / "residents.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        status, where = header.index("status"), header.index("address")
        rows = []
        for row in reader:
            if row[status] != "active":
                continue
            row[where] = address(row[where])
            rows.append([*row, "U"])
            if len(rows) == changes:
                break
    manifest = json.loads((full / "manifest.json").read_text(encoding="utf-8"))
    files = {"residents.csv": write_csv(target / "residents.csv", [*header, "change"], rows)}
    write_manifest(target, municipality_code=manifest["municipality_code"], sequence=sequence, kind="delta",
                   created_at=manifest["created_at"], files=files)
    return target
