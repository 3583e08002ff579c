"""Reading a linkage batch's rows: CSV → validated tuples, in chunks, without the database.

Everything about a batch that needs no database happens here: decoding, the header,
every field rule, a resident appearing twice, seals and taxes naming a resident of the
batch, and the seal impressions. The result is a stream of :class:`Chunk` s that the
linkage service writes inside its transaction.

A big full batch is read in a child process (:func:`chunks`) so that validating one
chunk runs on the second core while the writer inserts the one before (a city of
500,000 residents: 70,000 records/s read in-process, about 120,000 this way). The child
reads the same files the same way; the chunks, and so the problems and their order, are
identical.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import logging
import operator
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any

from bcl_console.domain import linkage as rules
from bcl_console.domain.linkage import MAX_PROBLEMS, Manifest, Problem, Problems
from bcl_console.services.linkage.batch_source import BatchSource, open_source
from bcl_console.store.api import Chunk as Chunk
from bcl_console.store.api import LinkageRow

log = logging.getLogger(__name__)

CHUNK = 5_000
MAX_PNG = 256 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VALIDATORS: tuple[tuple[str, Callable[..., tuple[Any, ...] | None]], ...] = (
    ("residents.csv", rules.resident_row),
    ("seals.csv", rules.seal_row),
    ("taxes.csv", rules.tax_row),
)

Row = LinkageRow  # (line, change or None, values)


class BatchReadFailed(OSError):
    """The child process reading the batch failed or died (an I/O failure to the caller:
    the transaction rolls back and the command reports it in one sentence)."""


class _Outbox(Problems):
    """Problems found since the last chunk; the cap counts every problem sent before."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def add(self, file: str, line: int | None, column: str | None, reason: str) -> None:
        if self.sent + len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(file, line, column, reason))
        else:
            self.omitted += 1

    def drain(self, chunk: Chunk) -> Chunk:
        chunk.problems, chunk.omitted = self.items, self.omitted
        self.sent += len(self.items)
        self.items, self.omitted = [], 0
        return chunk


def csv_rows(
    source: BatchSource, name: str, manifest: Manifest, problems: Problems, counter: list[int]
) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Data rows as (line, values in ``rules.columns(name)`` order, "" for an absent
    optional column); header and decoding problems are added, ``counter[0]`` counts rows."""
    delta = manifest.kind == "delta"
    try:
        raw = source.open(name)
    except (KeyError, FileNotFoundError):
        return
    with raw, io.TextIOWrapper(raw, encoding=manifest.codec, newline="") as text:
        reader = csv.reader(text, strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            problems.add(name, 1, None, "the file is empty (no header row)")
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            problems.add(name, 1, None, f"the header cannot be read as {manifest.encoding}: {exc}")
            return
        if not rules.check_columns(name, header, delta, problems):
            counter[0] = -1  # the rows were not read: no record count to compare
            return
        width = len(header)
        # Each row gets one "" appended (at index ``width``) for the absent optional columns;
        # one C call then puts the values in the validators' order.
        where = {column: i for i, column in enumerate(header)}
        ordered = operator.itemgetter(*(where.get(column, width) for column in rules.columns(name, delta)))
        try:
            for row in reader:
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    counter[0] += 1
                    problems.add(name, reader.line_num, None,
                                 f"the row has {len(row)} fields, the header has {width}")
                    continue
                if width == 1 and not row[0].strip():
                    continue
                counter[0] += 1
                if "\x00" in "".join(row):  # no field may hold one (PostgreSQL keeps no NUL)
                    column = next(c for c, v in zip(header, row, strict=True) if "\x00" in v)
                    problems.add(name, reader.line_num, column, f"{column} holds a NUL character")
                    continue
                row.append("")
                yield reader.line_num, ordered(row)
        except UnicodeDecodeError:
            problems.add(name, reader.line_num + 1, None, f"the file is not valid {manifest.encoding}")
        except csv.Error as exc:
            problems.add(name, reader.line_num, None, f"the CSV is malformed: {exc}")
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            problems.add(name, reader.line_num, None, f"cannot be read (truncated or damaged): {exc}")


class _Reader:
    """The database-free checks of one batch, file by file, kept across its files."""

    def __init__(self, source: BatchSource, manifest: Manifest, today: date, chunk_rows: int) -> None:
        self.source = source
        self.m = manifest
        self.today = today
        self.full = manifest.kind == "full"
        # A delta's rows go one by one, so that its problems stay in line order with the
        # problems the database finds (a change of something not held).
        self.chunk_rows = chunk_rows if self.full else 1
        self.out = _Outbox()
        self._impressions: dict[str, str | None] = {}
        self._new_impressions: list[tuple[str, bytes]] = []
        # Residents whose rows were refused: their seals and taxes are not reported again.
        self._refused: set[str] = set()
        # Residents of a full batch: duplicates and dangling references are found here,
        # so the load runs without SQLite's per-row foreign-key checks.
        self._codes: set[str] = set()

    def chunks(self) -> Iterator[Chunk]:
        for name, validate in VALIDATORS:
            if name in self.m.files:
                yield from self._file(name, validate)

    def _chunk(self, name: str, kind: str, read: int, rows: list[Row]) -> Chunk:
        chunk = Chunk(name, kind, read, rows, impressions=self._new_impressions)
        self._new_impressions = []
        return self.out.drain(chunk)

    def _file(self, name: str, validate: Callable[..., tuple[Any, ...] | None]) -> Iterator[Chunk]:
        counter = [0]
        kind = name.split(".")[0]
        rows: list[Row] = []
        read = 0
        out = self.out
        for line, row in csv_rows(self.source, name, self.m, out, counter):
            read += 1
            change = None
            if not self.full:
                change = row[-1].strip()
                if change not in rules.CHANGES:
                    out.add(name, line, "change", f"change {change!r} is not A, U or D")
                    continue
            errors: list[tuple[str, str]] = []
            values = _key_only(kind, row, errors) if change == "D" else validate(row, self.today, errors)
            for column, why in errors:
                out.add(name, line, column, why)
            if values is None:
                if kind == "residents":
                    self._refused.add(row[0].strip())
                continue
            if change is None and not self._references_ok(name, line, kind, values[0]):
                continue
            if kind == "seals" and change != "D":
                sha = self._impression(name, line, str(values[4]))
                if sha is None:
                    continue
                values = (*values[:4], sha)
            rows.append((line, change, values))
            if len(rows) >= self.chunk_rows:
                yield self._chunk(name, kind, read, rows)
                rows, read = [], 0
        last = self._chunk(name, kind, read, rows)
        last.records = counter[0]
        yield last

    def _references_ok(self, name: str, line: int, kind: str, code: str) -> bool:
        """Full batches: a resident appears once; seals and taxes name a resident of the batch."""
        if kind == "residents":
            if code in self._codes:
                self.out.add(name, line, "resident_code", f"resident code {code} appears twice")
                return False
            self._codes.add(code)
            return True
        if code in self._codes:
            return True
        if code not in self._refused:
            self.out.add(name, line, "resident_code", f"resident {code} is not in residents.csv")
        return False

    def _impression(self, name: str, line: int, path: str) -> str | None:
        if path in self._impressions:
            sha = self._impressions[path]
            if sha is None:
                self.out.add(name, line, "impression", f"impression {path!r} is not usable (see above)")
            return sha
        sha = None
        if path not in self.source.names():
            self.out.add(name, line, "impression", f"impression {path!r} is not in the batch")
        elif self.source.size(path) > MAX_PNG:
            self.out.add(name, line, "impression", f"impression {path!r} is larger than {MAX_PNG // 1024} KiB")
        else:
            with self.source.open(path) as fh:
                png = fh.read(MAX_PNG + 1)
            if not png.startswith(PNG_MAGIC):
                self.out.add(name, line, "impression", f"impression {path!r} is not a PNG image")
            else:
                sha = hashlib.sha256(png).hexdigest()
                self._new_impressions.append((sha, png))
        self._impressions[path] = sha
        return sha


def _key_only(kind: str, row: Sequence[str], errors: list[tuple[str, str]]) -> tuple[Any, ...] | None:
    """The key of a delta's D row: the rest of the row is not read."""
    try:
        code = rules.code11(row[0])
    except rules.FieldError as exc:
        errors.append(("resident_code", rules.reason("resident_code", exc)))
        return None
    if kind == "residents":
        return (code,)
    if kind == "seals":
        number = row[1].strip()
        if not number:
            errors.append(("seal_number", "seal_number is empty"))
            return None
        return (code, number)
    fy = row[1].strip()
    if not fy.isdigit():
        errors.append(("fiscal_year", f"{fy!r} is not a fiscal year"))
        return None
    return (code, int(fy))


def read_chunks(source: BatchSource, manifest: Manifest, today: date, chunk_rows: int = CHUNK) -> Iterator[Chunk]:
    """The batch's chunks, read on the calling thread."""
    return _Reader(source, manifest, today, chunk_rows).chunks()


@contextmanager
def chunks(source: BatchSource, path: Path | None, manifest: Manifest, today: date,
           *, in_child: bool) -> Iterator[Iterator[Chunk]]:
    """The batch's chunks: read here, or (``in_child``, with the batch's ``path``) by a
    child process while the caller writes. The child is stopped when the caller leaves.

    The child is a plain interpreter running :func:`_child_main`, talking pickles over
    its standard input and output: no fork of a process that holds threads, and unlike
    multiprocessing's spawn it never re-runs the parent's main script.
    """
    if not in_child or path is None:
        yield read_chunks(source, manifest, today)
        return
    package_root = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)}
    with tempfile.TemporaryFile() as errors:
        try:
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, env=env, close_fds=True,
            )
        except OSError as exc:  # no interpreter to start (embedded, or out of processes)
            log.warning("cannot start a batch reader (%s); reading in this process", exc)
            yield read_chunks(source, manifest, today)
            return
        assert child.stdin is not None and child.stdout is not None
        ahead: _ReadAhead | None = None
        try:
            pickle.dump((str(path), manifest, today), child.stdin)
            child.stdin.close()
            ahead = _ReadAhead(_received(child, errors))
            yield ahead
        finally:
            if ahead is not None and not ahead.finished():
                child.kill()  # the writer gave up: the pipe closes and the reading thread ends
                ahead.stop()
            child.stdout.close()  # a child still writing gets a broken pipe and ends
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


#: Chunks received from the reading child ahead of the writer (about 5 MB each in memory).
READ_AHEAD = 2


class _ReadAhead:
    """The child's chunks, received on a thread of their own up to ``READ_AHEAD`` ahead of
    the writer. Without it the child could only run as far ahead as the pipe holds (64
    KiB, a fraction of one chunk): it validated while the database waited and waited
    while the database wrote. Errors (``BatchReadFailed``) reach the writer in order."""

    _END = object()

    def __init__(self, received: Iterator[Chunk]) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(received,), name="linkage-read-ahead", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, received: Iterator[Chunk]) -> None:
        try:
            for chunk in received:
                if not self._put(chunk):
                    return
            self._put(self._END)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which raises it
            self._put(exc)
        finally:
            self._done.set()

    def __iter__(self) -> _ReadAhead:
        return self

    def __next__(self) -> Chunk:
        if self._ended:
            raise StopIteration
        item = self._queue.get()
        if item is self._END:
            self._ended = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        return item  # type: ignore[return-value]

    def waiting(self) -> int:
        """Chunks received and not yet taken by the writer."""
        return self._queue.qsize()

    def finished(self) -> bool:
        """Whether the thread has received everything (or failed): it is ending."""
        return self._done.is_set()

    def stop(self) -> None:
        """Stop receiving (the child has been killed) and wait for the thread."""
        self._stopping.set()
        self._thread.join(timeout=15)


_CHILD = "import sys; from bcl_console.services.linkage.batch_rows import _child_main; sys.exit(_child_main())"


def _received(child: subprocess.Popen[bytes], errors: IO[bytes]) -> Iterator[Chunk]:
    stream = child.stdout
    assert stream is not None
    while True:
        try:
            message = pickle.load(stream)  # noqa: S301 - our own child, over a private pipe
        except (EOFError, pickle.UnpicklingError):  # the child ended, or died mid-chunk
            code = child.wait()
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise BatchReadFailed(f"the batch reader stopped unexpectedly (exit code {code}"
                                  + (f": {said[-1]}" if said else "") + ")") from None
        if message is None:
            return
        if isinstance(message, str):
            raise BatchReadFailed(f"the batch reader failed: {message}")
        yield message


def _child_main() -> int:
    """The reading child: arguments from stdin; every chunk, then None (or the error text)."""
    path, manifest, today = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our parent
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but pickles may reach the pipe
    # Short-lived, holding one chunk at a time and making no reference cycles: the cyclic
    # collector would only rescan the chunk's objects (a tenth of the reading time).
    gc.disable()
    problems = Problems()
    source = open_source(Path(path), problems)
    try:
        if source is None:
            pickle.dump("; ".join(p.reason for p in problems.items) or "the batch cannot be opened", out)
            return 1
        for chunk in read_chunks(source, manifest, today):
            pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
            # Without the memo: a chunk holds no shared or self-referencing objects, and
            # pickling runs four times faster (the other side reads it the same way).
            pickler.fast = True
            pickler.dump(chunk)
        pickle.dump(None, out)
        out.flush()
    except (BrokenPipeError, ConnectionResetError):
        return 1  # the writer gave up on the batch
    except Exception as exc:  # noqa: BLE001 - reported to the writer, which rolls back
        pickle.dump(f"{type(exc).__name__}: {exc}", out)
        out.flush()
        return 1
    finally:
        if source is not None:
            source.close()
    return 0
