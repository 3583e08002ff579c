"""Documents and backups are the database's on PostgreSQL (contract §10): a second machine
on the same database, with only the centre's keys in its own data directory, reads the
documents the first issued and restores a municipality from the backups it made."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bcl_console.config import load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, execute, kept_names

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"
OP = Actor("op", "cli")
CODE = "993611"


@pytest.mark.parametrize("backend", ["postgresql"])  # on SQLite the files are the one machine's
async def test_a_second_machine_reads_the_documents_and_restores_from_the_backups_of_the_first(
        demo_dir: Path, tmp_path: Path, backend: str) -> None:
    other_dir = tmp_path / "other-machine"
    other_dir.mkdir(mode=0o700)
    shutil.copytree(demo_dir / "keys", other_dir / "keys")
    first = Runtime(load_settings(str(demo_dir)), clock=FixedClock(TEST_NOW))
    second = Runtime(load_settings(str(other_dir)), clock=FixedClock(TEST_NOW))
    await first.start()
    await second.start(create=False)
    try:
        await first.linkage.link(FIX / "valid-full")
        await first.linkage.link(FIX / "valid-delta")
        # the backups are rows of the batches' own transactions; no local file stays behind
        names = await kept_names(first, "backups")
        assert {b.path for b in await first.linkage.backups(CODE)} <= names
        assert not [p for p in (demo_dir / "backups" / CODE).rglob("*") if p.is_file()]
        ((resident,),) = [r for r in await execute(
            first, "SELECT resident_code FROM residents WHERE municipality_code = ? AND status = 'active' "
                   "AND restricted = 0 ORDER BY resident_code LIMIT 1", CODE)]
        doc = await first.issuance.issue(resident, "residence")
        assert not (demo_dir / doc.record.document_path).exists()  # the demo's own files were made on SQLite

        # the other machine: the document as issued, verified genuine there
        assert doc.record.document_path is not None
        pdf = await second.issuance.read_document(doc.record.document_path)
        assert pdf == doc.pdf
        assert (await second.verification.verify_bytes(pdf)).status == "genuine"
        # … the backups whole, and a municipality restored from them after a loss
        outcome, detail = await second.scheduler.run_now("nightly-backup-check")
        assert outcome == "ok", detail
        await execute(second, "DELETE FROM taxes WHERE municipality_code = ?", CODE)
        restored = await second.linkage.restore(CODE, actor=OP)
        assert restored.batches == (2, 3) and restored.taxes == 6
        assert not (other_dir / "backups").exists()
        assert not [p for p in (other_dir / "tmp").rglob("*") if p.is_file()]  # spilled copies removed
    finally:
        await second.stop()
        await first.stop()


async def test_a_name_that_is_not_inside_the_data_directory_is_refused(runtime: Runtime) -> None:
    for name in ("../outside.pdf", "/etc/passwd", "documents/../../outside.pdf", "", "documents\\..\\x"):
        with pytest.raises(ValueError, match="not a name inside the data directory"):
            await runtime.store.files.save(name, b"x")
        with pytest.raises(ValueError, match="not a name inside the data directory"):
            await runtime.store.files.read(name)
    assert not (runtime.settings.data_dir.parent / "outside.pdf").exists()


@pytest.mark.sqlite_only
async def test_documents_on_another_volume_through_a_link_are_kept_there(demo_dir: Path, tmp_path: Path) -> None:
    volume = tmp_path / "bigger-volume"
    shutil.move(demo_dir / "documents", volume)
    (demo_dir / "documents").symlink_to(volume)
    rt = Runtime(load_settings(str(demo_dir)), clock=FixedClock(TEST_NOW))
    await rt.start()
    try:
        ((resident,),) = await execute(rt, "SELECT resident_code FROM residents WHERE status = 'active' "
                                           "AND restricted = 0 ORDER BY resident_code LIMIT 1")
        doc = await rt.issuance.issue(resident, "residence")
        assert doc.record.document_path is not None
        kept = volume / doc.record.document_path.removeprefix("documents/")
        assert kept.read_bytes() == doc.pdf == await rt.issuance.read_document(doc.record.document_path)
    finally:
        await rt.stop()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_link_on_postgresql_leaves_the_data_directorys_own_backups_alone(demo_dir: Path, backend: str) -> None:
    """A data directory that was a SQLite centre's (moved by ``database copy``, or used for
    both) keeps that centre's backup files: the PostgreSQL store stages its backup under a
    name of its own and publishes it in the database only."""
    theirs = demo_dir / "backups" / CODE / "00000002-full.bclbak"
    theirs.parent.mkdir(parents=True, exist_ok=True)
    theirs.write_bytes(b"the SQLite centre's backup of sequence 2")
    rt = Runtime(load_settings(str(demo_dir)), clock=FixedClock(TEST_NOW))
    await rt.start(create=False)
    try:
        result = await rt.linkage.link(FIX / "valid-full")
        assert result.outcome == "applied" and result.sequence == 2
        assert theirs.read_bytes() == b"the SQLite centre's backup of sequence 2"
        assert [p for p in theirs.parent.iterdir()] == [theirs]  # nothing of this link's left beside it
        outcome, detail = await rt.scheduler.run_now("nightly-backup-check")
        assert outcome == "ok", detail
        restored = await rt.linkage.restore(CODE, actor=OP)
        assert restored.batches == (2,)
    finally:
        await rt.stop()
