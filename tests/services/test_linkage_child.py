"""A big full batch is read by a child process while the writer inserts: the outcome,
the data and every problem (in order, capped the same way) must be exactly those of
reading it in the process."""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bcl_console.config import load_settings
from bcl_console.domain.linkage import Problems
from bcl_console.services.linkage.batch_rows import (
    READ_AHEAD,
    BatchReadFailed,
    _ReadAhead,
    _received,
    chunks,
)
from bcl_console.services.linkage.batch_source import open_source
from bcl_console.services.linkage.service import read_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, query
from tests.services.test_linkage import make_batch

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"
CODE = "993611"
FULL_BATCHES = [
    "valid-full", "valid-full.zip", "valid-full-cp932",
    "invalid/bad-dates", "invalid/bad-sex", "invalid/bad-kana", "invalid/short-resident-code",
    "invalid/duplicate-resident-code", "invalid/impression-not-png", "invalid/count-mismatch",
    "invalid/missing-column", "invalid/unknown-column", "invalid/checksum-mismatch",
    "invalid/cp932-declared-utf8-given", "invalid/utf8-declared-cp932-given",
]


async def link_both_ways(tmp: Path, batch: Path) -> tuple[dict[str, Any], ...]:
    """Link ``batch`` into two fresh centres, one reading in a child; results and data."""
    out = []
    for in_child in (False, True):
        rt = Runtime(load_settings(str(tmp / f"centre-{in_child}")), clock=FixedClock(TEST_NOW))
        await rt.start()
        try:
            await rt.municipalities.add(code=CODE, name="北山町", kind="town", population=6200,
                                        actor=Actor("op", "cli"))
            rt.linkage.child_reader_from = 0 if in_child else 10**9
            result = await rt.linkage.link(batch)
        finally:
            await rt.stop()
        db = rt.settings.db_path
        data = {t: query(db, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in ("residents", "seals", "taxes")}  # noqa: S608
        doc = result.as_dict()
        out.append({"result": doc, "data": data})
    return tuple(out)


@pytest.mark.parametrize("name", FULL_BATCHES)
async def test_a_child_reads_a_batch_exactly_as_the_process_does(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bcl_console.services.linkage.service")
    here, child = await link_both_ways(tmp_path, FIX / name)
    assert child == here
    assert "read by a child process" in caplog.text
    if name.startswith("valid"):
        assert here["result"]["outcome"] == "applied" and here["data"]["residents"]
    else:
        assert here["result"]["outcome"] == "rejected" and here["result"]["problems"]


async def test_many_chunks_and_a_capped_problem_list_are_the_same_from_a_child(tmp_path: Path) -> None:
    # 12,000 good rows (three chunks) and 300 bad ones of 8 problems each
    batch = make_batch(tmp_path / "b", sequence=2, n=12_000, bad_rows=300)
    here, child = await link_both_ways(tmp_path, batch)
    assert child == here
    assert here["result"]["outcome"] == "rejected"
    assert len(here["result"]["problems"]) == 200 and here["result"]["problems_omitted"] == 2_200
    good = make_batch(tmp_path / "good", sequence=2, n=12_000)
    here, child = await link_both_ways(tmp_path / "g", good)
    assert child == here and len(here["data"]["residents"]) == 12_000


def test_a_child_that_cannot_read_the_batch_is_an_error_not_an_empty_batch(tmp_path: Path) -> None:
    batch = tmp_path / "b"
    shutil.copytree(FIX / "valid-full", batch)
    problems = Problems()
    source = open_source(batch, problems)
    assert source is not None
    manifest = read_manifest(source, problems)
    assert manifest is not None
    gone = tmp_path / "gone"
    with pytest.raises(BatchReadFailed, match="does not exist"), \
            chunks(source, gone, manifest, date(2026, 6, 17), in_child=True) as rows:
        list(rows)
    with chunks(source, batch, manifest, date(2026, 6, 17), in_child=True) as rows:
        first = next(rows)  # the caller stops early: the child is ended, nothing hangs
    assert first.file == "residents.csv"
    source.close()


async def test_without_an_interpreter_to_start_the_batch_is_read_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    caplog.set_level(logging.WARNING, logger="bcl_console.services.linkage.batch_rows")
    here, child = await link_both_ways(tmp_path, FIX / "valid-full")
    assert child == here and here["result"]["outcome"] == "applied"
    assert "cannot start a batch reader" in caplog.text


def test_the_child_reads_ahead_while_the_writer_holds_a_chunk_and_stops_when_it_leaves(tmp_path: Path) -> None:
    batch = make_batch(tmp_path / "b", sequence=2, n=40_000)  # eight chunks of residents, then seals, taxes
    problems = Problems()
    source = open_source(batch, problems)
    assert source is not None
    manifest = read_manifest(source, problems)
    assert manifest is not None
    before = {t.name for t in threading.enumerate()}
    # other tests in this worker may have left children of their own (a PostgreSQL server)
    earlier = set(psutil_children())
    with chunks(source, batch, manifest, date(2026, 6, 17), in_child=True) as rows:
        first = next(rows)
        assert isinstance(rows, _ReadAhead)
        deadline = time.monotonic() + 20
        # the writer holds the first chunk; the child goes on validating the next ones
        while rows.waiting() < READ_AHEAD and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows.waiting() == READ_AHEAD
        children = set(psutil_children()) - earlier
        assert children
    assert first.file == "residents.csv" and len(first.rows) == 5_000
    # the caller left early: the child was ended and the reading thread is gone
    assert all(not alive(pid) for pid in children)
    assert "linkage-read-ahead" not in {t.name for t in threading.enumerate()} - before
    with chunks(source, batch, manifest, date(2026, 6, 17), in_child=True) as rows:
        assert sum(len(c.rows) for c in rows) == sum(e.records for e in manifest.files.values())
    source.close()


def psutil_children() -> list[int]:
    """This process's child processes (from /proc)."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_child_dying_in_the_middle_of_a_chunk_is_a_read_failure_with_its_exit_code(tmp_path: Path) -> None:
    # half of a pickled chunk on the pipe, then the child is gone
    half = pickle.dumps(list(range(10_000)))[:5_000]
    script = f"import sys; sys.stdout.buffer.write({half!r}); sys.stdout.flush(); sys.exit(3)"
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=errors)
        try:
            with pytest.raises(BatchReadFailed, match="exit code 3"):
                list(_received(child, errors))
        finally:
            assert child.stdout is not None
            child.stdout.close()
            child.wait()
