"""The PostgreSQL database itself (store/pg/db.py) on the test run's own server: the
schema made and refused, writes that stay exact under concurrency, instants as ISO text,
a server restart, and `database copy` from a SQLite centre."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bcl_console.store.errors import StoreCannotOpen, StoreUnavailable
from bcl_console.store.pg.db import LATEST_VERSION, PgDatabase, check_url, masked
from tests.conftest import query
from tests.pg import TestServer, pg_query


async def test_an_empty_database_is_migrated_once(pg_server: TestServer) -> None:
    url = pg_server.fresh()
    db = PgDatabase(url)
    assert await db.open() == (0, LATEST_VERSION)
    await db.close()
    again = PgDatabase(url)
    assert await again.open() == (LATEST_VERSION, LATEST_VERSION)
    await again.close()
    assert pg_query(url, "SELECT count(*) FROM municipalities") == [(0,)]


async def test_a_newer_or_foreign_database_is_refused_and_left_alone(pg_server: TestServer) -> None:
    url = pg_server.fresh()
    db = PgDatabase(url)
    await db.open()
    await db.close()
    pg_query(url, "UPDATE bcl_schema SET version = 999")
    with pytest.raises(StoreCannotOpen, match="newer than this program"):
        await PgDatabase(url).open()
    assert pg_query(url, "SELECT version FROM bcl_schema") == [(999,)]

    foreign = pg_server.fresh()
    pg_query(foreign, "CREATE TABLE invoices (id integer)")
    with pytest.raises(StoreCannotOpen, match="not a bcl-console centre's"):
        await PgDatabase(foreign).open()
    assert pg_query(foreign, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'municipalities'") \
        == [(0,)]


@pytest.mark.parametrize("url, words", [
    ("mysql://root@127.0.0.1/bcl", "is not postgresql://"),
    ("postgresql://postgres@127.0.0.1:5432", "names no database"),
    ("postgresql://postgres@127.0.0.1:notaport/x", "is not valid"),
])
def test_a_wrong_url_is_one_sentence(url: str, words: str) -> None:
    with pytest.raises(StoreCannotOpen, match=words):
        check_url(url)


async def test_unreachable_server_and_missing_database(pg_server: TestServer) -> None:
    with pytest.raises(StoreCannotOpen, match="cannot reach the PostgreSQL server"):
        await PgDatabase("postgresql://postgres@127.0.0.1:1/bcl").open()
    with pytest.raises(StoreCannotOpen, match="does not exist"):
        await PgDatabase(pg_server.url("no_such_database")).open()
    assert masked("postgresql://bcl:s3cret@db:5432/bcl") == "postgresql://bcl:***@db:5432/bcl"


async def test_concurrent_read_modify_writes_are_serialized(pg_server: TestServer) -> None:
    """Forty writers each read a counter and write it plus one, at once: SERIALIZABLE and
    the retries make the total exactly forty, as SQLite's single writer does."""
    db = PgDatabase(pg_server.fresh(), pool_size=10)
    await db.open()
    try:
        async def bump(conn) -> None:  # type: ignore[no-untyped-def]
            value = await conn.fetchval("SELECT value FROM meta WHERE key = 'n'")
            n = int(value or 0) + 1
            await asyncio.sleep(0.001)  # widen the window between the read and the write
            await conn.execute("INSERT INTO meta (key, value) VALUES ('n', $1) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", str(n))

        await asyncio.gather(*(db.write(bump) for _ in range(40)))

        async def read(conn) -> str:  # type: ignore[no-untyped-def]
            return str(await conn.fetchval("SELECT value FROM meta WHERE key = 'n'"))

        assert await db.read(read) == "40"
    finally:
        await db.close()


async def test_instants_and_days_are_iso_text_both_ways(pg_server: TestServer) -> None:
    db = PgDatabase(pg_server.fresh())
    await db.open()
    try:
        async def write(conn) -> tuple[str, str]:  # type: ignore[no-untyped-def]
            row = await conn.fetchrow(
                "INSERT INTO disasters (name, kind, occurred_on, declared_at) VALUES ('x', 'flood', $1, $2) "
                "RETURNING occurred_on, declared_at", "2026-06-17", "2026-06-17T10:00:00+09:00")
            return row[0], row[1]

        assert await db.write(write) == ("2026-06-17", "2026-06-17T01:00:00.000000+00:00")
    finally:
        await db.close()


@pytest.mark.slow
async def test_a_restart_fails_in_flight_work_cleanly_and_the_next_succeeds(tmp_path: Path) -> None:
    """The server goes away: a write then is StoreUnavailable (HTTP 503), nothing half
    done; once it is back the same pool serves again without a restart of ours."""
    from bcl_console.services.platform.postgres_local import LocalCluster
    from tests.pg import missing_reason, skip_or_fail

    if (reason := missing_reason()) is not None:
        skip_or_fail(reason)
    cluster = LocalCluster(tmp_path / "pg", settings={"fsync": "off"})
    cluster.init()
    cluster.start()
    try:
        db = PgDatabase(cluster.url(), pool_size=2)
        await db.open()

        async def put(conn, key: str) -> None:  # type: ignore[no-untyped-def]
            await conn.execute("INSERT INTO meta (key, value) VALUES ($1, 'v')", key)

        await db.write(put, "before")
        cluster.stop("immediate")
        with pytest.raises(StoreUnavailable):
            await db.write(put, "during")
        cluster.start()
        for _ in range(50):  # the pool's old connections are dropped as they fail
            try:
                await db.write(put, "after")
                break
            except StoreUnavailable:
                await asyncio.sleep(0.1)
        keys = pg_query(cluster.url(), "SELECT key FROM meta ORDER BY key")
        assert keys == [("after",), ("before",)]
        await db.close()
    finally:
        cluster.remove()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bcl_console", *args], capture_output=True, text=True,
                          timeout=240)


@pytest.mark.slow
def test_database_copy_moves_the_demo_verified_and_refuses_a_second_time(
        demo_template: Path, tmp_path: Path, pg_server: TestServer) -> None:
    import shutil

    data = tmp_path / "centre"
    shutil.copytree(demo_template, data)
    names = [r[0] for r in query(data / "bcl.sqlite3", "SELECT document_path FROM issuances WHERE document_path "
                                 "IS NOT NULL UNION SELECT path FROM linkage_backups ORDER BY 1")]
    lost = names.pop(len(names) // 2)
    (data / lost).unlink()  # a document lost before the copy: named, not invented
    url = pg_server.fresh()
    done = _cli("--data-dir", str(data), "database", "copy", "--to", url, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verified"] is True
    tables = {t["table"]: t for t in doc["tables"]}
    for name in ("municipalities", "residents", "issuances", "terminals", "audit_log"):
        sqlite_count = query(data / "bcl.sqlite3", f"SELECT count(*) FROM {name}")[0][0]  # noqa: S608
        assert tables[name]["sqlite_rows"] == tables[name]["postgresql_rows"] == sqlite_count > 0
    assert pg_query(url, "SELECT count(*) FROM issuances WHERE settle_key IS NOT NULL") == \
        query(data / "bcl.sqlite3", "SELECT count(*) FROM issuances WHERE settle_key IS NOT NULL")
    # the documents and backups in the data directory are rows now, byte for byte
    assert names and tables["files"]["postgresql_rows"] == len(names) and doc["files_missing"] == [lost]
    for name in (names[0], names[-1]):
        (body,) = pg_query(url, "SELECT body FROM files WHERE name = ?", name)[0]
        assert bytes(body) == (data / name).read_bytes()
    # new rows continue after the copied ids
    pg_query(url, "INSERT INTO audit_log (at, actor, interface, action) VALUES (now(), 't', 'cli', 'x')")

    again = _cli("--data-dir", str(data), "database", "copy", "--to", url)
    assert again.returncode == 2
    assert "not empty" in again.stderr and again.stderr.count("\n") == 1
    human = _cli("--data-dir", str(data), "database", "copy", "--to", pg_server.fresh())
    assert human.returncode == 0, human.stderr
    assert f"1 document or backup file(s) recorded in the database were not in the data directory: {lost}" \
        in human.stderr


@pytest.mark.slow
def test_database_copy_of_a_bad_value_names_it_and_copies_nothing(
        demo_template: Path, tmp_path: Path, pg_server: TestServer) -> None:
    import shutil
    import sqlite3

    data = tmp_path / "centre"
    shutil.copytree(demo_template, data)
    conn = sqlite3.connect(data / "bcl.sqlite3")
    conn.execute("UPDATE issuances SET voided_at = 'yesterday' WHERE id = (SELECT min(id) FROM issuances)")
    conn.commit()
    conn.close()
    url = pg_server.fresh()
    done = _cli("--data-dir", str(data), "database", "copy", "--to", url)
    assert done.returncode == 1
    assert "table issuances" in done.stderr and "column voided_at" in done.stderr
    assert pg_query(url, "SELECT count(*) FROM municipalities") == [(0,)]


def test_init_on_a_server_that_refuses_makes_nothing(pg_server: TestServer, tmp_path: Path) -> None:
    """`init --database URL` that cannot open the database (unreachable, missing, newer):
    one sentence, exit 2, and no data directory, keys or log made for a centre that is not."""
    newer = pg_server.fresh()
    pg_query(newer, "CREATE TABLE bcl_schema (id integer PRIMARY KEY, version integer NOT NULL)")
    pg_query(newer, "INSERT INTO bcl_schema VALUES (1, 999)")
    for n, url in enumerate(["postgresql://postgres@127.0.0.1:1/bcl", pg_server.url("no_such_database"), newer]):
        data = tmp_path / f"centre-{n}"
        out = subprocess.run([sys.executable, "-m", "bcl_console", "--data-dir", str(data), "--database", url,
                              "init", "--json"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (url, out.stdout, out.stderr)
        assert "error" in json.loads(out.stdout)
        assert not data.exists(), (url, sorted(p.name for p in data.rglob("*")))
