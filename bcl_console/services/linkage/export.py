"""Writing a municipality's current data as a full batch (the BCP recovery path)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bcl_console.domain import linkage as rules
from bcl_console.domain.errors import InvalidInput
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.store.api import HeldData

_RESIDENT_FIELDS = ("resident_code", *rules.RESIDENT_REQUIRED[1:], *rules.RESIDENT_OPTIONAL)
_SEAL_FIELDS = ("resident_code", "seal_number", "registered_on", "status", "impression_sha256")


@dataclass(frozen=True)
class Exported:
    """A municipality's data written as a full batch: where, its sequence, and the records
    of each file (residents, seals, taxes)."""

    municipality_code: str
    out: Path
    sequence: int
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"municipality_code": self.municipality_code, "out": str(self.out), "sequence": self.sequence,
                "counts": dict(self.counts)}


def write_export(held: HeldData, code: str, out: Path, created_at: str,
                 sequence: int | None = None) -> Exported:
    """Write ``held`` into the empty (or new) directory ``out`` as a full batch; runs on
    the store's thread, inside one snapshot of the data."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty directory", field="out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"{out} cannot be created: {exc.strerror}", field="out") from None
    files: dict[str, tuple[str, int]] = {}
    files["residents.csv"] = write_csv(out / "residents.csv", _RESIDENT_FIELDS,
                                       held.rows("residents", _RESIDENT_FIELDS))
    (out / "seals").mkdir(exist_ok=True)
    written: set[str] = set()

    def seal_rows() -> Iterator[list[Any]]:
        for resident, number, registered, status, sha in held.rows("seals", _SEAL_FIELDS):
            rel = f"seals/{sha}.png"
            if sha not in written:
                (out / rel).write_bytes(held.impression(sha) or b"")
                written.add(sha)
            yield [resident, number, registered, status, rel]

    files["seals.csv"] = write_csv(out / "seals.csv", rules.SEAL_COLUMNS, seal_rows())
    tax_columns = (*rules.TAX_COLUMNS, *rules.TAX_OPTIONAL)
    files["taxes.csv"] = write_csv(out / "taxes.csv", tax_columns, held.rows("taxes", tax_columns))
    sequence = sequence or held.last_applied_sequence() or 1
    write_manifest(out, municipality_code=code, sequence=sequence, kind="full",
                   created_at=created_at, files=files)
    return Exported(code, out, sequence, {name.split(".")[0]: n for name, (_, n) in files.items()})
