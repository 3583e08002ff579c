"""Writing a linkage batch's validated chunks inside the writer's transaction.

What only the database can tell is found here and added to the batch's problems: a
resident, seal or tax record twice, a seal or tax of a resident not in the batch, a
delta's change of something not held (or an addition of something already held).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from bcl_console.domain.linkage import Manifest, Problems
from bcl_console.store import delta
from bcl_console.store import residents as res
from bcl_console.store.api import Chunk, LinkageRow

_CHANGE_NAMES = {"A": "added", "U": "updated", "D": "deleted"}
_INSERT = {"residents": res.insert_residents, "seals": res.insert_seals, "taxes": res.insert_taxes}
_UPDATE = {"residents": delta.update_resident, "seals": delta.update_seal, "taxes": delta.update_tax}


class BatchLoader:
    """Writes one batch's chunks on the writer's connection; ``counts`` per file kind."""

    def __init__(self, conn: sqlite3.Connection, manifest: Manifest, problems: Problems) -> None:
        self.conn = conn
        self.m = manifest
        self.code = manifest.municipality_code
        self.problems = problems
        self.counts: dict[str, int] = {}
        self._changes: dict[str, int] = {"A": 0, "U": 0, "D": 0}

    def run(self, stream: Iterable[Chunk]) -> None:
        if self.m.kind == "full":
            res.delete_municipality_residents(self.conn, self.code)
        for chunk in stream:
            self.problems.extend(chunk.problems, chunk.omitted)
            for sha, png in chunk.impressions:
                res.insert_seal_impression(self.conn, sha, png)
            if self.m.kind == "full":
                if chunk.rows:
                    self._insert(chunk.file, chunk.kind, chunk.rows)
            else:
                for line, change, values in chunk.rows:
                    if change is not None and self._change(chunk.file, line, chunk.kind, change, values):
                        self._changes[change] += 1
            if chunk.records is not None:
                self._finish(chunk.file, chunk.kind, chunk.records)

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

    def _insert(self, name: str, kind: str, chunk: list[LinkageRow]) -> None:
        insert = _INSERT[kind]
        # Rows are written even when the batch is already lost (the transaction rolls
        # back), so that duplicates and dangling references are reported too.
        self.conn.execute("SAVEPOINT chunk")
        try:
            insert(self.conn, self.code, [v for _, _, v in chunk])
            self.conn.execute("RELEASE chunk")
            return
        except sqlite3.IntegrityError:
            self.conn.execute("ROLLBACK TO chunk")
            self.conn.execute("RELEASE chunk")
        # Find the offending rows one by one, so each gets its line.
        for line, _, values in chunk:
            try:
                insert(self.conn, self.code, [values])
            except sqlite3.IntegrityError as exc:
                self.problems.add(name, line, "resident_code", _integrity_reason(kind, str(exc), values))

    def _change(self, name: str, line: int, kind: str, change: str, values: tuple[Any, ...]) -> bool:
        conn, code = self.conn, self.code
        if kind == "residents":
            exists = delta.resident_exists(conn, code, values[0])
            what = f"resident {values[0]}"
        elif kind == "seals":
            exists = delta.seal_exists(conn, code, values[0], values[1])
            what = f"seal {values[1]} of resident {values[0]}"
        else:
            exists = delta.tax_exists(conn, code, values[0], values[1])
            what = f"the {values[1]} tax record of resident {values[0]}"
        if change == "A" and exists:
            self.problems.add(name, line, "change", f"A of {what}, which is already held")
            return False
        if change in ("U", "D") and not exists:
            self.problems.add(name, line, "change", f"{change} of {what}, which is not held")
            return False
        if kind != "residents" and change != "D" and not delta.resident_exists(conn, code, values[0]):
            self.problems.add(name, line, "resident_code", f"resident {values[0]} is not held")
            return False
        if change == "D":
            if kind == "residents":
                delta.delete_resident(conn, code, values[0])
            elif kind == "seals":
                delta.delete_seal(conn, code, values[0], values[1])
            else:
                delta.delete_tax(conn, code, values[0], values[1])
        elif change == "A":
            _INSERT[kind](conn, code, [values])
        else:
            _UPDATE[kind](conn, code, values)
        return True


def _integrity_reason(kind: str, message: str, values: tuple[Any, ...]) -> str:
    if "FOREIGN KEY" in message:
        return f"resident {values[0]} is not in residents.csv"
    if kind == "residents":
        return f"resident code {values[0]} appears twice"
    if kind == "seals":
        return f"seal {values[1]} of resident {values[0]} appears twice"
    return f"the {values[1]} tax record of resident {values[0]} appears twice"
