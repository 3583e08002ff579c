"""The PostgreSQL linkage area against the SQLite one: the same batches applied, the
same problems found, the same rows held; a rejected batch leaves nothing on PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bcl_console.domain.linkage import Manifest, Problems
from bcl_console.services.linkage.backup_crypto import verify_backup
from bcl_console.services.linkage.batch_rows import read_chunks
from bcl_console.services.linkage.batch_source import BatchSource, open_source
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.services.linkage.export import write_export
from bcl_console.services.linkage.ingest import IngestLoad, read_manifest
from bcl_console.store.api import (
    AuditEntry,
    BatchArrival,
    Chunk,
    HeldData,
    RejectedRecord,
    RestoreStep,
)
from bcl_console.store.errors import StoreBusy
from bcl_console.store.pg import wipe as pg_wipe
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.linkage import PgLinkage
from bcl_console.store.sqlite import SqliteStore
from tests.conftest import TEST_NOW, _migrated, dump
from tests.pg import TestServer, pg_dump, pg_query

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"
CODE = "993611"
TODAY = date(2026, 6, 17)
RECEIVED = "2026-06-17T01:00:00.000000+00:00"
HELD = ("SELECT * FROM residents ORDER BY resident_code",
        "SELECT * FROM seals ORDER BY resident_code, seal_number",
        "SELECT * FROM taxes ORDER BY resident_code, fiscal_year",
        "SELECT sha256, length(png) FROM seal_impressions ORDER BY sha256")


@dataclass
class Stores:
    sqlite: SqliteStore
    pg_db: PgDatabase
    pg: PgLinkage
    url: str
    sqlite_path: Path


async def _register(conn: Conn) -> None:
    await conn.execute("INSERT INTO municipalities (code, name, kind, population, hosting, created_at) "
                       "VALUES ($1, '北山町', 'town', 6200, 'bcl', $2)", CODE, RECEIVED)


def _register_sqlite(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO municipalities (code, name, kind, population, hosting, created_at) "
                 "VALUES (?, '北山町', 'town', 6200, 'bcl', ?)", (CODE, RECEIVED))


@pytest.fixture
async def stores(pg_server: TestServer, tmp_path: Path) -> AsyncIterator[Stores]:
    url = pg_server.fresh(pg_server.template_of("bcl_empty", _migrated))
    path = tmp_path / "bcl.db"
    sqlite = SqliteStore(path)
    await sqlite.open()
    pg_db = PgDatabase(url, pool_size=4)
    await pg_db.open()
    try:
        await sqlite.db.write(_register_sqlite)
        await pg_db.write(_register)
        yield Stores(sqlite, pg_db, PgLinkage(pg_db), url, path)
    finally:
        await pg_db.close()
        await sqlite.close()


class Load:
    """``BatchLoad`` of a batch directory, read on the calling thread (as in-process ingests)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.asked = 0
        self.published = 0

    @contextmanager
    def rows(self) -> Iterator[Iterator[Chunk]]:
        self.asked += 1
        source = _source(self.path)
        try:
            yield read_chunks(source, _manifest(source), TODAY, chunk_rows=3)
        finally:
            source.close()

    def before_commit(self) -> int:  # SQLite: published in the data directory
        self.published += 1
        return len(self._backup())

    def backup_bytes(self) -> bytes:  # PostgreSQL: handed over for the batch's transaction
        self.published += 1
        return self._backup()

    def _backup(self) -> bytes:
        return (b"backup of " + self.path.name.encode()).ljust(4096, b".")

    def drop_local(self) -> None:
        self.dropped = True


def _source(path: Path) -> BatchSource:
    problems = Problems()
    source = open_source(path, problems)
    assert source is not None, problems.items
    return source


def _manifest(source: BatchSource) -> Manifest:
    problems = Problems()
    manifest = read_manifest(source, problems)
    assert manifest is not None, problems.items
    return manifest


async def _apply(stores: Stores, path: Path) -> tuple[Any, Any, Problems, Problems]:
    source = _source(path)
    try:
        manifest = _manifest(source)
    finally:
        source.close()
    arrival = BatchArrival(manifest, RECEIVED, "test", f"backups/{CODE}/{manifest.sequence:08d}.bclbak")
    lite_problems, pg_problems = Problems(), Problems()
    lite = await stores.sqlite.linkage.apply_batch(arrival, Load(path), lite_problems)
    pg = await stores.pg.apply_batch(arrival, Load(path), pg_problems)
    return lite, pg, lite_problems, pg_problems


def _sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return [tuple(r) for r in conn.execute(sql)]


async def _pg_rows(db: PgDatabase, sql: str) -> list[tuple[Any, ...]]:
    async def fetch(conn: Conn) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await conn.fetch(sql)]

    return await db.read(fetch)


async def _assert_same_held(stores: Stores) -> None:
    for sql in HELD:
        assert await _pg_rows(stores.pg_db, sql) == _sqlite_rows(stores.sqlite_path, sql), sql


def _copy_with_seal_twice(tmp_path: Path, sequence: int) -> Path:
    """valid-full at another sequence, with its first seal row written twice (only the
    database can tell: the rows themselves are valid)."""
    target = tmp_path / f"seal-twice-{sequence}"
    shutil.copytree(FIX / "valid-full", target)
    with (target / "seals.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    files = {}
    for name in ("residents.csv", "taxes.csv"):
        with (target / name).open(encoding="utf-8", newline="") as fh:
            data = list(csv.reader(fh))
        files[name] = write_csv(target / name, data[0], data[1:])
    files["seals.csv"] = write_csv(target / "seals.csv", rows[0], [*rows[1:], rows[1]])
    write_manifest(target, municipality_code=CODE, sequence=sequence, kind="full",
                   created_at="2026-06-01T00:00:00+09:00", files=files)
    return target


async def test_a_full_batch_and_a_delta_leave_the_same_rows_on_both_stores(stores: Stores) -> None:
    for batch in ("valid-full", "valid-delta"):
        lite, pg, lite_problems, pg_problems = await _apply(stores, FIX / batch)
        assert pg == lite, (pg_problems.items, lite_problems.items)
        assert pg.outcome == "applied"
        await _assert_same_held(stores)
    assert [b.counts for b in await stores.pg.batches(CODE, 10)] == \
        [b.counts for b in await stores.sqlite.linkage.batches(CODE, 10)]
    assert await stores.pg.backups(None) == await stores.sqlite.linkage.backups(None)
    assert (await stores.pg.batches(None, 1))[0].received_at == RECEIVED
    # the same batch again: already applied, on both
    lite, pg, _, _ = await _apply(stores, FIX / "valid-delta")
    assert pg == lite and pg.outcome == "already-applied"


async def test_a_batch_with_a_seal_twice_is_rejected_and_changes_nothing(stores: Stores, tmp_path: Path) -> None:
    lite, pg, _, _ = await _apply(stores, FIX / "valid-full")
    assert pg.outcome == lite.outcome == "applied"
    before = pg_dump(stores.url)
    lite, pg, lite_problems, pg_problems = await _apply(stores, _copy_with_seal_twice(tmp_path, 3))
    assert pg.outcome == lite.outcome == "rejected"
    assert pg_problems.items == lite_problems.items
    assert [(p.file, p.line) for p in pg_problems.items] == [("seals.csv", 6)]
    assert "appears twice" in pg_problems.items[0].reason
    assert pg_dump(stores.url) == before
    await _assert_same_held(stores)


async def test_a_delta_changing_what_is_not_held_is_rejected_and_changes_nothing(
        stores: Stores, tmp_path: Path) -> None:
    await _apply(stores, FIX / "valid-full")
    bad = tmp_path / "bad-delta"
    shutil.copytree(FIX / "valid-delta", bad)
    with (bad / "residents.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[2][0] = "10000000990"  # U of a resident nobody holds
    files = {"residents.csv": write_csv(bad / "residents.csv", rows[0], rows[1:])}
    for name in ("seals.csv", "taxes.csv"):
        with (bad / name).open(encoding="utf-8", newline="") as fh:
            data = list(csv.reader(fh))
        files[name] = write_csv(bad / name, data[0], data[1:])
    write_manifest(bad, municipality_code=CODE, sequence=3, kind="delta",
                   created_at="2026-06-01T00:00:00+09:00", files=files)
    before = pg_dump(stores.url)
    lite, pg, lite_problems, pg_problems = await _apply(stores, bad)
    assert pg.outcome == lite.outcome == "rejected"
    assert pg_problems.items == lite_problems.items and pg_problems.items
    assert pg_dump(stores.url) == before


async def test_sequence_rules_and_an_unknown_municipality_are_refused_alike(stores: Stores) -> None:
    lite, pg, lite_problems, pg_problems = await _apply(stores, FIX / "valid-delta")  # a delta before any full
    assert pg.outcome == lite.outcome == "rejected"
    assert pg_problems.items == lite_problems.items
    lite, pg, lite_problems, pg_problems = await _apply(stores, FIX / "other-municipality.zip")
    assert pg.outcome == lite.outcome == "rejected"
    assert pg_problems.items == lite_problems.items
    assert not await stores.pg.municipality_registered("999999")
    assert await stores.pg.municipality_registered(CODE)


def _steps(paths: list[Path]) -> Generator[RestoreStep, None, None]:
    for path in paths:
        source = _source(path)
        try:
            yield _manifest(source), read_chunks(source, _manifest(source), TODAY, chunk_rows=3)
        finally:
            source.close()


async def test_restore_and_export_give_the_same_on_both_stores(stores: Stores) -> None:
    for batch in ("valid-full", "valid-delta"):
        await _apply(stores, FIX / batch)
    audit = AuditEntry(RECEIVED, "op", "cli", CODE, "restore", "sequence", None, "3")
    chain = [FIX / "valid-full", FIX / "valid-delta"]
    lite = await stores.sqlite.linkage.restore_batches(CODE, _steps(chain), Problems(), audit)
    pg = await stores.pg.restore_batches(CODE, _steps(chain), Problems(), audit)
    assert pg == lite and pg is not None and pg.residents == 10
    await _assert_same_held(stores)

    def exported(held: HeldData) -> tuple[Any, ...]:
        residents = list(held.rows("residents", ["resident_code", "name", "status"]))
        seals = list(held.rows("seals", ["resident_code", "seal_number", "impression_sha256"]))
        taxes = list(held.rows("taxes", ["resident_code", "fiscal_year", "total_income"]))
        png = held.impression(seals[0][2]) if seals else None
        return residents, seals, taxes, png, held.impression("0" * 64), held.last_applied_sequence()

    assert await stores.pg.export_held(CODE, exported) == await stores.sqlite.linkage.export_held(CODE, exported)
    with pytest.raises(ValueError, match="not columns"):
        await stores.pg.export_held(CODE, lambda held: held.rows("residents", ["png"]))


async def test_kept_problem_lists_are_recorded_imported_and_pruned_alike(stores: Stores) -> None:
    kept_since = TEST_NOW - timedelta(days=30)
    old = RejectedRecord("2026-01-01T00:00:00.000000+00:00", CODE, b"\x00sealed-old")
    new = RejectedRecord(RECEIVED, CODE, b"\x01sealed-new")
    imported = [RejectedRecord(RECEIVED, None, b"\x02x", "hash-1"), RejectedRecord(RECEIVED, CODE, b"\x03y", "hash-2")]
    for linkage in (stores.sqlite.linkage, stores.pg):
        await linkage.record_rejected(old, TEST_NOW - timedelta(days=3650))
        await linkage.record_rejected(new, TEST_NOW - timedelta(days=3650))
    assert await stores.pg.rejected(None) == await stores.sqlite.linkage.rejected(None)
    assert await stores.pg.import_rejected(imported, kept_since) == \
        await stores.sqlite.linkage.import_rejected(imported, kept_since) == 2
    assert await stores.pg.import_rejected(imported, kept_since) == \
        await stores.sqlite.linkage.import_rejected(imported, kept_since) == 0  # each once
    assert await stores.pg.rejected(CODE) == await stores.sqlite.linkage.rejected(CODE)
    assert [r.sealed for r in await stores.pg.rejected(None)] == [b"\x01sealed-new", b"\x02x", b"\x03y"]
    assert await stores.pg.prune_rejected(TEST_NOW + timedelta(days=1)) == \
        await stores.sqlite.linkage.prune_rejected(TEST_NOW + timedelta(days=1)) == 3


async def test_wipe_empties_every_table_but_keeps_the_schema_version(stores: Stores) -> None:
    await _apply(stores, FIX / "valid-full")
    await stores.pg_db.write(pg_wipe.wipe_all)
    assert [line for line in pg_dump(stores.url) if not line.startswith('INSERT INTO "bcl_schema"')] == []
    assert len([line for line in pg_dump(stores.url) if line.startswith('INSERT INTO "bcl_schema"')]) == 1
    await stores.pg_db.write(_register)  # identities restart, references are gone: a centre anew
    assert dump(stores.sqlite_path)  # the SQLite store was not touched


class _Gated(Load):
    """A load that waits at a point until another is let go (threads: the load's work
    runs on worker threads)."""

    def __init__(self, path: Path, *, asked: threading.Event | None = None, wait_rows: threading.Event | None = None,
                 wait_commit: threading.Event | None = None) -> None:
        super().__init__(path)
        self._asked, self._wait_rows, self._wait_commit = asked, wait_rows, wait_commit

    @contextmanager
    def rows(self) -> Iterator[Iterator[Chunk]]:
        if self._asked is not None:
            self._asked.set()
        if self._wait_rows is not None:
            assert self._wait_rows.wait(30)
        with super().rows() as stream:
            yield stream

    def before_commit(self) -> int:
        if self._wait_commit is not None:
            assert self._wait_commit.wait(30)
        return super().before_commit()

    def backup_bytes(self) -> bytes:
        if self._wait_commit is not None:
            assert self._wait_commit.wait(30)
        return super().backup_bytes()


async def test_the_same_batch_applied_twice_at_once_is_applied_once_then_already_applied(stores: Stores) -> None:
    """Two workers ingest the same batch at once: the second, undone by PostgreSQL when the
    first commits, runs again from its own start and finds the batch applied."""
    source = _source(FIX / "valid-full")
    manifest = _manifest(source)
    source.close()
    arrival = BatchArrival(manifest, RECEIVED, "test", f"backups/{CODE}/00000002.bclbak")
    b_asked, a_done = threading.Event(), threading.Event()
    first = _Gated(FIX / "valid-full", wait_commit=b_asked)
    second = _Gated(FIX / "valid-full", asked=b_asked, wait_rows=a_done)
    first_problems, second_problems = Problems(), Problems()
    second_task = asyncio.ensure_future(stores.pg.apply_batch(arrival, second, second_problems))
    a = await stores.pg.apply_batch(arrival, first, first_problems)
    a_done.set()
    b = await second_task
    assert a.outcome == "applied" and first.published == 1
    assert (b.outcome, b.counts, second_problems.items) == ("already-applied", a.counts, [])
    assert second.asked == 1 and second.published == 0  # run again: the sequence check answered first


async def _waiting_on_locks(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'"))


async def test_a_restore_undone_by_a_concurrent_write_is_refused_as_busy_and_changes_nothing(
        stores: Stores) -> None:
    """A restore cannot run again (its backups are read once): when PostgreSQL undoes it
    (another transaction changed rows it was about to replace), the operator hears
    "busy" and nothing of the restore stays."""
    await _apply(stores, FIX / "valid-full")
    other = await asyncpg.connect(stores.url)
    try:
        held = [await _pg_rows(stores.pg_db, sql) for sql in HELD]
        audit_lines = await _pg_rows(stores.pg_db, "SELECT count(*) FROM audit_log")
        writing = other.transaction()
        await writing.start()
        await other.execute("UPDATE taxes SET total_income = total_income WHERE municipality_code = $1", CODE)
        audit = AuditEntry(RECEIVED, "op", "cli", CODE, "restore", "sequence", None, "2")
        restore = asyncio.ensure_future(
            stores.pg.restore_batches(CODE, _steps([FIX / "valid-full"]), Problems(), audit))
        for _ in range(1000):  # the restore waits for the other transaction's row locks
            if await stores.pg_db.read(_waiting_on_locks):
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the restore never waited for the other transaction")
        await writing.commit()
        with pytest.raises(StoreBusy, match="restore again"):
            await restore
    finally:
        await other.close()
    assert [await _pg_rows(stores.pg_db, sql) for sql in HELD] == held
    assert await _pg_rows(stores.pg_db, "SELECT count(*) FROM audit_log") == audit_lines


def _delta(tmp_path: Path, name: str, *, residents: list[list[str]], seals: list[list[str]],
           taxes: list[list[str]]) -> Path:
    """valid-delta with other rows (its headers, its impressions), as sequence 3."""
    target = tmp_path / name
    shutil.copytree(FIX / "valid-delta", target)
    files = {}
    for file, rows in (("residents.csv", residents), ("seals.csv", seals), ("taxes.csv", taxes)):
        with (target / file).open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        files[file] = write_csv(target / file, header, rows)
    write_manifest(target, municipality_code=CODE, sequence=3, kind="delta",
                   created_at="2026-06-01T00:00:00+09:00", files=files)
    return target


def _resident(code: str, address: str, change: str) -> list[str]:
    return [code, "00000109", "試験 一郎", "シケン イチロウ", "1990-01-01", "1", "世帯主", address,
            "2020-01-01", "active", "", "", "試験 一郎", "", "0", "0", change]


async def test_a_delta_changing_a_key_twice_is_applied_in_order_alike(
        stores: Stores, tmp_path: Path) -> None:
    await _apply(stores, FIX / "valid-full")
    batch = _delta(
        tmp_path, "twice",
        # 10000000990 added, then changed: the change sees the addition
        residents=[_resident("10000000990", "東雲県北山町1番地", "A"), _resident("10000000990", "東雲県北山町2番地", "U"),
                   _resident("10000000059", "東雲県北山町3番地", "U"), _resident("10000000017", "", "D"),
                   _resident("10000000991", "東雲県北山町4番地", "A")],
        seals=[["10000000990", "0000201", "2026-03-20", "active", "seals/suzuki.png", "A"],
               ["10000000025", "0000102", "", "", "", "D"]],
        taxes=[["10000000990", "2025", "1", "1", "0", "1", "0", "0", "A"],
               ["10000000025", "2025", "2", "2", "0", "2", "0", "0", "U"]])
    lite, pg, lite_problems, pg_problems = await _apply(stores, batch)
    assert pg == lite and pg.outcome == "applied", (pg_problems.items, lite_problems.items)
    assert pg.counts["residents.added"] == 2 and pg.counts["residents.deleted"] == 1
    await _assert_same_held(stores)
    assert (await _pg_rows(stores.pg_db, "SELECT address FROM residents WHERE resident_code = '10000000990'")
            == [("東雲県北山町2番地",)])


async def test_a_delta_with_every_kind_of_wrong_change_is_rejected_alike(stores: Stores, tmp_path: Path) -> None:
    await _apply(stores, FIX / "valid-full")
    batch = _delta(
        tmp_path, "wrong",
        residents=[_resident("10000000017", "東雲県北山町1番地", "A"), _resident("10000000990", "", "U"),
                   _resident("10000000991", "", "D"), _resident("10000000992", "東雲県北山町4番地", "A")],
        seals=[["10000000993", "0000201", "2026-03-20", "active", "seals/suzuki.png", "A"],
               ["10000000025", "0000999", "", "", "", "D"],
               ["10000000017", "0000101", "2001-04-02", "active", "seals/suzuki.png", "A"]],
        taxes=[["10000000993", "2025", "1", "1", "0", "1", "0", "0", "A"],
               ["10000000025", "2019", "2", "2", "0", "2", "0", "0", "U"]])
    before = pg_dump(stores.url)
    lite, pg, lite_problems, pg_problems = await _apply(stores, batch)
    assert pg.outcome == lite.outcome == "rejected"
    assert pg_problems.items == lite_problems.items
    assert len(pg_problems.items) >= 7, pg_problems.items
    assert pg_dump(stores.url) == before


async def test_an_ingest_load_with_a_child_reader_applies_and_publishes_its_backup(
        stores: Stores, tmp_path: Path) -> None:
    """The service's own load (rows read by a child process, the backup written beside
    them) driven by the PostgreSQL store from worker threads."""
    problems = Problems()
    path = FIX / "valid-full"
    source = open_source(path, problems)
    assert source is not None
    try:
        manifest = _manifest(source)
        final = tmp_path / "backups" / CODE / "00000002-full.bclbak"
        seen: list[tuple[int, int]] = []
        load = IngestLoad(source, path, manifest, TODAY, in_child=lambda m: True, key=b"k" * 32, final=final,
                          partial=final.with_name("x.partial"), tmp_dir=tmp_path, progress=lambda d, t: seen.append((d, t)))
        arrival = BatchArrival(manifest, RECEIVED, "test", f"backups/{CODE}/00000002-full.bclbak")
        outcome = await stores.pg.apply_batch(arrival, load, problems)
    finally:
        source.close()
    assert outcome.outcome == "applied", problems.items
    assert outcome.counts == {"residents": 10, "seals": 4, "taxes": 6}
    # the backup is a row of the batch's transaction; the local file that staged it is gone
    assert not final.exists() and not final.with_name("x.partial").exists() and seen[-1] == (20, 20)
    (body,) = pg_query(stores.url, "SELECT body FROM files WHERE name = ?", arrival.backup_path)[0]
    assert [b.size for b in await stores.pg.backups(CODE)] == [len(body)]
    kept = tmp_path / "kept.bclbak"
    kept.write_bytes(bytes(body))
    verify_backup(b"k" * 32, kept)  # whole: every chunk decrypts


async def test_the_export_of_held_data_is_the_same_file_for_file(stores: Stores, tmp_path: Path) -> None:
    for batch in ("valid-full", "valid-delta"):
        await _apply(stores, FIX / batch)
    created = "2026-06-17T10:00:00+09:00"
    lite = await stores.sqlite.linkage.export_held(
        CODE, lambda held: write_export(held, CODE, tmp_path / "lite", created))
    pg = await stores.pg.export_held(CODE, lambda held: write_export(held, CODE, tmp_path / "pg", created))
    assert (pg.sequence, pg.counts) == (lite.sequence, lite.counts) == (3, pg.counts)
    names = sorted(p.relative_to(tmp_path / "lite").as_posix() for p in (tmp_path / "lite").rglob("*"))
    assert names == sorted(p.relative_to(tmp_path / "pg").as_posix() for p in (tmp_path / "pg").rglob("*"))
    for name in names:
        if (tmp_path / "lite" / name).is_file():
            assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "lite" / name).read_bytes(), name


PLANS = [("10000000091", "東雲県北山町大字上原301番地"), ("10000000059", "東雲県北山町大字上原88番地"),
         ("10000000017", "東雲県北山町大字上原120番地")]


async def _plans(conn: Conn) -> None:
    await conn.executemany("INSERT INTO evacuation_plans (municipality_code, resident_code, supporter, destination, "
                           "address, updated_at, updated_by) VALUES ($1, $2, '隣人', '公民館', $3, $4, 'op')",
                           [(CODE, r, a, RECEIVED) for r, a in PLANS])


def _plans_sqlite(conn: sqlite3.Connection) -> None:
    conn.executemany("INSERT INTO evacuation_plans (municipality_code, resident_code, supporter, destination, "
                     "address, updated_at, updated_by) VALUES (?, ?, '隣人', '公民館', ?, ?, 'op')",
                     [(CODE, r, a, RECEIVED) for r, a in PLANS])


async def test_plans_of_people_a_batch_changed_are_flagged_alike(stores: Stores) -> None:
    await _apply(stores, FIX / "valid-full")
    await stores.sqlite.db.write(_plans_sqlite)
    await stores.pg_db.write(_plans)
    lite, pg, _, _ = await _apply(stores, FIX / "valid-delta")
    assert pg == lite and pg.counts["plans_flagged"] >= 1
    sql = "SELECT resident_code, review_reason, flagged_at FROM evacuation_plans ORDER BY resident_code"
    assert await _pg_rows(stores.pg_db, sql) == _sqlite_rows(stores.sqlite_path, sql)
    await stores.pg_db.write(pg_wipe.wipe_all)
    await stores.pg_db.write(_register)
    lite, pg, _, _ = await _apply(stores, FIX / "valid-full")
    assert pg.outcome == "applied"
    assert [b.id for b in await stores.pg.batches(CODE, 10)] == [1]  # identities restarted with the wipe
