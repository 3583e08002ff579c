"""The PostgreSQL issuances, residents and settlement areas against the SQLite ones: the
same inputs give the same results, and the relay's hot path stays exact when many
writers race on PostgreSQL (certificate numbers, idempotency keys, guarded changes)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bcl_console.domain.errors import Conflict, NotFound
from bcl_console.domain.municipality import (
    CertificateType,
    Hosting,
    Kind,
    Municipality,
    ServiceHours,
)
from bcl_console.store import disasters as sq_disasters
from bcl_console.store import issuances as sq_iss
from bcl_console.store import municipalities as sq_muni
from bcl_console.store import residents as sq_res
from bcl_console.store import settlement as sq_set
from bcl_console.store.api import (
    AuditEntry,
    FeeControl,
    HoursControl,
    IssuanceRecord,
    IssuedDocumentPath,
    StatementInputs,
    SuspensionControl,
)
from bcl_console.store.db import Database
from bcl_console.store.pg import issuances as pg_iss
from bcl_console.store.pg import municipalities as pg_muni
from bcl_console.store.pg import residents as pg_res
from bcl_console.store.pg import settlement as pg_set
from bcl_console.store.pg.db import PgDatabase
from bcl_console.store.pg.issuances import PgIssuances
from bcl_console.store.pg.municipalities import PgMunicipalities
from bcl_console.store.pg.residents import PgResidents
from bcl_console.store.pg.settlement import PgSettlement
from bcl_console.store.residents import SqliteResidents
from tests.pg import TestServer, run_sync

A, B = "011002", "013455"
PNG = b"\x89PNG\r\n\x1a\nseal"
SHA = "ab" * 32


def _resident(code: str, household: str, name: str, kana: str, born: str, relationship: str,
              status: str = "active", restricted: int = 0) -> tuple[Any, ...]:
    return (code, household, name, kana, born, 1, relationship, "北海道札幌市1-1", "2010-04-01", "", "",
            "", status, None if status == "active" else "2025-01-10", 0, restricted)


RESIDENTS_A = [
    _resident("10000000001", "H001", "山田 太郎", "ヤマダ タロウ", "1970-05-01", "世帯主"),
    _resident("10000000002", "H001", "山田　花子", "ヤマダ ハナコ", "1972-08-09", "妻"),
    _resident("10000000003", "H001", "山田 一郎", "ヤマダ イチロウ", "2001-01-20", "子"),
    _resident("10000000004", "H002", "Smith John", "スミス ジョン", "1980-02-29", "世帯主"),
    _resident("10000000005", "H002", "ＡＢＣ 100%_x", "エービーシー", "1985-03-03", "妻", restricted=1),
    _resident("10000000006", "H003", "佐藤 次郎", "サトウ ジロウ", "1950-12-31", "世帯主", status="moved-out"),
]
RESIDENTS_B = [
    _resident("10000000006", "K010", "佐藤 次郎", "サトウ ジロウ", "1950-12-31", "世帯主"),
    _resident("20000000001", "K011", "smith jane", "スミス ジェーン", "1990-07-07", "世帯主"),
]
SEALS = [("10000000001", "S-1", "2019-04-01", "abolished", SHA), ("10000000001", "S-2", "2023-06-01", "active", SHA),
         ("10000000004", "S-9", "2021-01-01", "active", SHA)]
TAXES = [("10000000001", 2024, 4_000_000, 4_000_000, 1_200_000, 2_800_000, 168_000, 112_000),
         ("10000000001", 2025, 4_100_000, 4_100_000, 1_200_000, 2_900_000, 174_000, 116_000, 2, 430_000,
          600_000, 380_000),
         ("10000000002", 2025, 0, 0, 0, 0, 0, 0)]


def _history() -> list[tuple[object, ...]]:
    """Store issuances over two fiscal years, across Japan's month and year boundaries."""
    rows: list[tuple[object, ...]] = []
    times = ["2025-04-01T01:00:00.000000+00:00", "2025-06-30T15:30:00.000000+00:00",
             "2026-03-31T14:59:59.999000+00:00", "2026-03-31T15:00:00.000000+00:00",
             "2026-05-10T03:00:00.000000+00:00"]
    n = 0
    for i, at in enumerate(times):
        for code, operator in ((A, "store-1"), (B, "store-2"), (A, None)):
            for state in ("printed", "issued", "voided", "awaiting_payment"):
                n += 1
                issued = None if state == "awaiting_payment" else at
                done = at if state in ("printed", "voided") else None
                rows.append((f"h{n:04d}", ("residence", "seal", "tax")[n % 3], code,
                             "10000000001" if code == A else "20000000001", "store" if i % 2 == 0 or operator
                             else "counter", operator, 300 + 50 * (n % 2), state, at, issued, done,
                             done if state == "voided" else None))
    return rows


def _seed_sqlite(path: Path) -> None:
    async def go() -> None:
        db = Database(path)
        await db.open()
        try:
            await db.write(_seed, path)
        finally:
            await db.close()

    run_sync(go)


def _seed(conn: sqlite3.Connection, _path: Path) -> None:
    at = "2025-01-01T00:00:00.000000+00:00"
    sq_muni.insert_municipality(conn, Municipality(A, "札幌市", Kind.DESIGNATED_CITY, 1_960_000, Hosting.BCL,
                                                   service_start=date(2025, 1, 1), prefecture="北海道"), at)
    sq_muni.insert_municipality(conn, Municipality(B, "北山町", Kind.TOWN, 9_000, Hosting.BCL), at)
    sq_muni.set_fee(conn, B, CertificateType.SEAL, 250)
    sq_res.insert_residents(conn, A, RESIDENTS_A)
    sq_res.insert_residents(conn, B, RESIDENTS_B)
    sq_res.insert_seal_impression(conn, SHA, PNG)
    sq_res.insert_seals(conn, A, SEALS)
    sq_res.insert_taxes(conn, A, TAXES)
    first = sq_disasters.insert_disaster(conn, "大雨", "flood", "2025-07-01", at, [A])
    second = sq_disasters.insert_disaster(conn, "地震", "earthquake", "2025-09-01", at, [A])
    sq_disasters.insert_assessments(conn, [
        (first, A, "H001", "北海道札幌市1-1", "半壊", 30, "検査員", "2025-07-05", "床上浸水", 80),
        (second, A, "H001", "北海道札幌市1-1", "全壊", 60, "検査員", "2025-09-03", None, None)])
    for disaster_id, day in ((first, "2025-07-02"), (second, "2025-09-02")):
        conn.execute("INSERT INTO victim_reports (disaster_id, municipality_code, resident_code, address, harm, "
                     "reported_on, recorded_at, recorded_by) VALUES (?,?,?,?,?,?,?,?)",
                     (disaster_id, A, "10000000001", "北海道札幌市1-1", "家屋浸水", day, at, "clerk"))
    sq_iss.insert_history(conn, _history())
    conn.execute("INSERT INTO onboarding_plans (municipality_code, service_start, made_on, template_version, "
                 "created_at, created_by) VALUES (?, '2026-08-01', '2026-05-01', 1, ?, 'lead')", (B, at))
    for stage, outcome in (("linkage", "passed"), ("stage1", "failed"), ("stage1", "passed"),
                           ("stage2", "passed"), ("stage2", "failed"), ("stage3", "not-required")):
        conn.execute("INSERT INTO stage_runs (municipality_code, stage, started_at, outcome, run_by) "
                     "VALUES (?,?,?,?, 'lead')", (B, stage, at, outcome))
    conn.execute("INSERT INTO failure_drills (municipality_code, started_at) VALUES (?, ?)", (B, at))
    sq_iss.insert_refusal(conn, "2026-05-10T03:00:00.000000+00:00", "store-1", A, "closed")
    sq_iss.insert_refusal(conn, "2026-05-10T03:00:01.000000+00:00", "store-1", A, "bad_signature")
    sq_iss.insert_refusal(conn, "2026-05-10T03:00:02.000000+00:00", None, None, "closed")


@dataclass
class Pair:
    sqlite: Database
    pg: PgDatabase

    async def read(self, sq: Callable[..., Any], pg: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """The same read on both stores: equal results, returned."""
        expected = await self.sqlite.read(sq, *args)
        got = await self.pg.read(pg, *args)
        assert got == expected, f"{pg.__name__}{args}"
        return got

    async def write(self, sq: Callable[..., Any], pg: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        expected = await self.sqlite.write(sq, *args)
        got = await self.pg.write(pg, *args)
        assert got == expected, f"{pg.__name__}{args}"
        return got


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pg-areas-b") / "bcl.sqlite3"
    _seed_sqlite(path)
    return path


@pytest.fixture
async def pair(seeded_sqlite: Path, pg_server: TestServer, tmp_path: Path) -> AsyncIterator[Pair]:
    from bcl_console.store.copy import copy_sqlite_to_postgres

    def build(url: str) -> None:
        run_sync(lambda: copy_sqlite_to_postgres(seeded_sqlite, url))

    # copy_sqlite_to_postgres wants an empty database: the template is made from one
    template = pg_server.template_of("bcl_pg_areas_b", build)
    path = tmp_path / "bcl.sqlite3"
    shutil.copy(seeded_sqlite, path)
    sqlite, pg = Database(path), PgDatabase(pg_server.fresh(template), pool_size=8)
    await sqlite.open()
    await pg.open()
    try:
        yield Pair(sqlite, pg)
    finally:
        await pg.close()
        await sqlite.close()


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [{k: (bytes(r[k]) if isinstance(r[k], memoryview) else r[k]) for k in r.keys()} for r in rows]


def _audit(action: str, code: str | None = A, at: str = "2026-06-17T01:00:00.000000+00:00") -> AuditEntry:
    return AuditEntry(at, "tester", "cli", code, action)


# -- residents -------------------------------------------------------------------------------------


async def test_resident_reads_match_sqlite(pair: Pair) -> None:
    counts = await pair.read(sq_res.held_counts, pg_res.held_counts)
    assert counts[A].residents == 6 and counts[A].active == 5 and counts[A].seals == 3 and counts[B].taxes == 0
    assert (await pair.read(sq_res.get_resident, pg_res.get_resident, A, "10000000002")).name == "山田　花子"
    assert await pair.read(sq_res.get_resident, pg_res.get_resident, B, "10000000001") is None
    moved = await pair.read(sq_res.find_resident, pg_res.find_resident, "10000000006")
    assert moved.municipality_code == B  # the active record first
    members = await pair.read(sq_res.household_members, pg_res.household_members, A, "H001")
    assert [m.relationship for m in members] == ["世帯主", "妻", "子"]
    for code in (A, B):
        for sq, pg in ((sq_res.iter_residents, pg_res.iter_residents), (sq_res.iter_seals, pg_res.iter_seals),
                       (sq_res.iter_taxes, pg_res.iter_taxes)):
            expected = _rows(await pair.sqlite.read(lambda c, f=sq, m=code: list(f(c, m))))
            assert _rows(await pair.pg.read(pg, code)) == expected
    assert await pair.read(sq_res.seal_impression, pg_res.seal_impression, SHA) == PNG
    assert await pair.read(sq_res.seal_impression, pg_res.seal_impression, "00") is None
    for status, restricted in (("active", None), ("active", True), ("active", False), ("moved-out", None)):
        await pair.read(sq_res.resident_codes_by, pg_res.resident_codes_by, A, status, restricted)
    values = await pair.read(sq_res.resident_values, pg_res.resident_values, A,
                             ["10000000004", "99999999999", "10000000001"])
    assert list(values) == ["10000000004", "10000000001"]
    assert await pair.read(sq_res.test_residents, pg_res.test_residents, A, 3) == [
        "10000000001", "10000000004", "10000000002"]  # with a seal, then with a tax record
    assert await pair.read(sq_res.latest_tax_year, pg_res.latest_tax_year, A, "10000000001") == 2025
    assert await pair.read(sq_res.latest_tax_year, pg_res.latest_tax_year, A, "10000000003") is None


SEARCHES = [
    ("山田花子", None, ["10000000002"]), ("ヤマダ", A, ["10000000001", "10000000002", "10000000003"]),
    ("SMITH", None, ["10000000004", "20000000001"]),  # ASCII folds, as SQLite's LIKE
    ("ａｂｃ", None, []),  # full-width letters do not, as in SQLite
    ("100%", None, ["10000000005"]), ("%", None, ["10000000005"]), ("0_%", None, []),  # % and _ as such
    ("H001", A, ["10000000001", "10000000002", "10000000003"]), ("10000000006", None, ["10000000006"] * 2),
    ("佐藤", B, ["10000000006"])]


async def test_search_matches_sqlite(pair: Pair) -> None:
    for text, code, found in SEARCHES:
        got = await pair.read(sq_res.search_residents, pg_res.search_residents, text, code, 20)
        assert [r.resident_code for r in got] == found, text
    assert len(await pair.read(sq_res.search_residents, pg_res.search_residents, "ヤマダ", None, 2)) == 2


async def test_resident_writes_match_sqlite(pair: Pair) -> None:
    extra = [_resident("30000000001", "K020", "新 住民", "シン ジュウミン", "2000-01-01", "世帯主")]
    assert await pair.write(sq_res.insert_residents, pg_res.insert_residents, B, extra) == 1
    assert await pair.write(sq_res.insert_taxes, pg_res.insert_taxes, B, [
        ("30000000001", 2025, 1, 1, 0, 1, 0, 0), ("20000000001", 2025, 9, 9, 0, 9, 1, 1, 0, 430_000, 0, 0)]) == 2
    await pair.write(sq_res.insert_seal_impression, pg_res.insert_seal_impression, SHA, PNG)  # again: ignored
    assert await pair.write(sq_res.insert_seals, pg_res.insert_seals, B,
                            [("30000000001", "S-1", "2025-01-01", "active", SHA)]) == 1
    assert (await pair.read(sq_res.held_counts, pg_res.held_counts))[B].taxes == 2
    await pair.write(sq_res.delete_municipality_residents, pg_res.delete_municipality_residents, B)
    assert B not in await pair.read(sq_res.held_counts, pg_res.held_counts)
    store = PgResidents(pair.pg)
    assert await store.held_counts() == await SqliteResidents(pair.sqlite).held_counts()
    assert [r.resident_code for r in await store.search_residents("smith", A)] == ["10000000004"]
    assert await store.find_resident("20000000001") is None


# -- municipalities (what issuances and settlement read) ----------------------------------------


async def test_municipalities_match_sqlite(pair: Pair) -> None:
    listed = await pair.read(sq_muni.municipalities_with_fees, pg_muni.municipalities_with_fees)
    assert [m.code for m, _ in listed] == [A, B]
    b = listed[1][0]
    assert b.failure_drill and b.awaiting_stages and "stage2" in b.awaiting_stages
    assert "stage1" not in b.awaiting_stages and "linkage" not in b.awaiting_stages
    assert await pair.read(sq_muni.municipality_with_fees, pg_muni.municipality_with_fees, "999999") is None
    assert await pair.read(sq_muni.count_municipalities, pg_muni.count_municipalities) == 2
    new = Municipality("472018", "那覇市", Kind.CITY, 317_000, Hosting.OWN_SERVER, server_url="https://naha.example")
    fees = await pair.write(sq_muni.add_municipality, pg_muni.add_municipality, new, _audit("add", "472018"))
    assert fees[CertificateType.RESIDENCE] > 0
    for db, fn in ((pair.sqlite, sq_muni.add_municipality), (pair.pg, pg_muni.add_municipality)):
        with pytest.raises(Conflict):
            await db.write(fn, new, _audit("add", "472018"))
    for control, value in ((HoursControl(ServiceHours("07:00", "22:00")), "07:00-22:00"),
                           (SuspensionControl(True, "点検"), "suspended: 点検"),
                           (FeeControl(CertificateType.TAX, 400), "400")):
        audit = replace(_audit("control", B), new_value=value)
        assert await pair.write(sq_muni.change_control, pg_muni.change_control, B, control, audit) is True
        assert await pair.write(sq_muni.change_control, pg_muni.change_control, B, control, audit) is False
    for db, fn in ((pair.sqlite, sq_muni.change_control), (pair.pg, pg_muni.change_control)):
        with pytest.raises(NotFound):
            await db.write(fn, "999999", FeeControl(CertificateType.TAX, 1), _audit("control", "999999"))
    await pair.write(sq_muni.set_service_start, pg_muni.set_service_start, B, date(2026, 9, 1))
    store = PgMunicipalities(pair.pg)
    got = await store.municipality_with_fees(B)
    assert got is not None and got[0].suspended and got[1][CertificateType.TAX] == 400
    assert got[0].service_start == date(2026, 9, 1) and got[0].hours == ServiceHours("07:00", "22:00")
    assert await store.municipalities_with_fees() == await pair.sqlite.read(sq_muni.municipalities_with_fees)
    trail = "SELECT action, old_value, new_value FROM audit_log ORDER BY id"
    assert [tuple(r) for r in await pair.pg.read(lambda c: c.fetch(trail))] == [
        tuple(r) for r in await pair.sqlite.read(lambda c: c.execute(trail).fetchall())]


# -- issuances -------------------------------------------------------------------------------------


def _request(request_id: str, operator: str = "store-1", code: str = A) -> IssuanceRecord:
    return IssuanceRecord(request_id, "residence", {"copies": 1, "items": ["本籍"]}, code, "10000000001", "store",
                          operator, 300, "awaiting_payment", None, None, None, None,
                          "2026-06-17T01:00:00.123456+00:00", None, None)


def _issued(request_id: str, code: str = "VC-1") -> IssuedDocumentPath:
    return IssuedDocumentPath(request_id, code, "cd" * 32, 2, f"2026/06/{request_id}.pdf",
                              "2026-06-17T01:00:02.000001+00:00", 812, ('{"p":1}', '{"p":2}'), "第 2026-000001 号")


async def test_issuance_reads_match_sqlite(pair: Pair) -> None:
    for ctype, options in ((CertificateType.RESIDENCE, {}), (CertificateType.SEAL, {}),
                           (CertificateType.TAX, {}), (CertificateType.TAX, {"fiscal_year": 2024}),
                           (CertificateType.TAX, {"fiscal_year": 2019}), (CertificateType.DISASTER, {}),
                           (CertificateType.DISASTER, {"disaster_id": 1}), (CertificateType.DISASTER_VICTIM, {}),
                           (CertificateType.DISASTER_VICTIM, {"disaster_id": 1})):
        for municipality in (A, None):
            source = await pair.read(sq_iss.certificate_source, pg_iss.certificate_source, "10000000001", ctype,
                                     options, municipality)
            assert source.municipality.code == A and len(source.members) == 3
    seal = await pair.read(sq_iss.certificate_source, pg_iss.certificate_source, "10000000001",
                           CertificateType.SEAL, {}, A)
    assert seal.seal is not None and seal.seal.seal_number == "S-2" and seal.seal.png == PNG
    disaster = await pair.read(sq_iss.certificate_source, pg_iss.certificate_source, "10000000001",
                               CertificateType.DISASTER, {}, A)
    assert disaster.disaster is not None and disaster.disaster.damage_class == "全壊"
    with pytest.raises(NotFound):
        await pair.pg.read(pg_iss.certificate_source, "99999999999", CertificateType.RESIDENCE, {}, None)
    route = await pair.read(sq_iss.route, pg_iss.route, B)
    assert route.fees[CertificateType.SEAL] == 250
    assert await pair.read(sq_iss.route, pg_iss.route, "999999") is None
    await pair.read(sq_iss.by_request, pg_iss.by_request, "h0001")
    assert await pair.read(sq_iss.by_code, pg_iss.by_code, "nothing") is None
    assert len(await pair.read(sq_iss.recent, pg_iss.recent, 7)) == 7
    counts = await pair.read(sq_iss.counts_since, pg_iss.counts_since, "2026-03-31T15:00:00.000000+00:00")
    assert sum(c[4] for c in counts) == 24
    assert await pair.read(sq_iss.refusals_since, pg_iss.refusals_since, "2026-01-01T00:00:00+00:00") == [
        ("closed", 2), ("bad_signature", 1)]


async def test_request_lifecycle_matches_sqlite(pair: Pair) -> None:
    r = _request("r1")
    assert await pair.write(sq_iss.open_request, pg_iss.open_request, r, "s1", "key-1", "body-1", 2) == r
    again = replace(r, request_id="r1-retry")
    assert await pair.write(sq_iss.open_request, pg_iss.open_request, again, "s1", "key-1", "body-1", 2) == r
    for db, fn in ((pair.sqlite, sq_iss.open_request), (pair.pg, pg_iss.open_request)):
        with pytest.raises(Conflict) as refused:
            await db.write(fn, again, "s1", "key-1", "another body", 2)
        assert refused.value.code == "idempotency_conflict"
    found = await pair.read(sq_iss.by_idempotency, pg_iss.by_idempotency, "store-1", "key-1")
    assert found.copies == 2 and found.body_sha256 == "body-1"
    audit = _audit("counter-issue")
    assert await pair.write(sq_iss.mark_issued, pg_iss.mark_issued, _issued("r1"), audit) is True
    assert await pair.write(sq_iss.mark_issued, pg_iss.mark_issued, _issued("r1", "VC-2"), audit) is False
    issued = await pair.read(sq_iss.by_code, pg_iss.by_code, "VC-1")
    assert issued.state == "issued" and issued.signed_pages == ('{"p":1}', '{"p":2}')
    at = "2026-06-17T01:00:09.000000+00:00"
    assert await pair.write(sq_iss.complete, pg_iss.complete, "r1", True, at, audit) is True
    assert await pair.write(sq_iss.complete, pg_iss.complete, "r1", False, at, audit) is False
    await pair.write(sq_iss.open_request, pg_iss.open_request, _request("r2"), "s1", "key-2", "b", 1)
    await pair.write(sq_iss.mark_issued, pg_iss.mark_issued, _issued("r2", "VC-3"), None)
    assert await pair.write(sq_iss.complete, pg_iss.complete, "r2", False, at, None) is True
    voided = await pair.read(sq_iss.by_request, pg_iss.by_request, "r2")
    assert voided.state == "voided" and voided.voided_at == at
    await pair.write(sq_iss.insert_issued, pg_iss.insert_issued, replace(
        _request("r3"), state="issued", verification_code="VC-4", issued_at=at, channel="counter"))
    await pair.read(sq_iss.recent, pg_iss.recent, 5)
    assert await pair.read(sq_iss.counts_since, pg_iss.counts_since, at) == []
    audits = "SELECT count(*) FROM audit_log WHERE action = 'counter-issue'"
    assert await pair.pg.read(lambda c: c.fetchval(audits)) == 2  # with the changes only
    for n in (1, 2, 3):
        assert await pair.write(sq_iss.next_number, pg_iss.next_number, A, 2026) == n
    assert await pair.write(sq_iss.next_number, pg_iss.next_number, A, 2027) == 1


async def test_twenty_concurrent_numbers_are_distinct(pair: Pair) -> None:
    store = PgIssuances(pair.pg)
    numbers = await asyncio.gather(*(store.next_number(B, 2026) for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))
    assert await store.next_number(B, 2026) == 21
    # two databases (two workers) on one server share the sequence too
    other = PgDatabase(pair.pg.url, pool_size=4)
    await other.open()
    try:
        more = await asyncio.gather(*(PgIssuances(db).next_number(B, 2026)
                                      for db in (pair.pg, other) for _ in range(10)))
    finally:
        await other.close()
    assert sorted(more) == list(range(22, 42))
    burst = await asyncio.gather(*(store.next_number(A, 2030) for _ in range(200)))  # none is refused as busy
    assert sorted(burst) == list(range(1, 201))


async def test_concurrent_retries_of_one_key_open_one_request(pair: Pair) -> None:
    store = PgIssuances(pair.pg)
    attempts = [_request(f"race-{i}") for i in range(10)]
    saved = await asyncio.gather(*(store.open_request(r, session_id="s", idempotency_key="same", body_sha256="b",
                                                      copies=1) for r in attempts))
    assert len({s.request_id for s in saved}) == 1
    rows = "SELECT count(*) FROM issuances WHERE idempotency_key = 'same'"
    assert await pair.pg.read(lambda c: c.fetchval(rows)) == 1
    request_id = saved[0].request_id
    marks = await asyncio.gather(*(store.mark_issued(_issued(request_id, f"VC-race-{i}"), _audit("pay"))
                                   for i in range(8)))
    assert marks.count(True) == 1
    done = await asyncio.gather(*(store.complete(request_id, i % 2 == 0, "2026-06-17T02:00:00.000000+00:00")
                                  for i in range(8)))
    assert done.count(True) == 1
    assert (await store.by_request(request_id)).state in ("printed", "voided")  # type: ignore[union-attr]
    assert await pair.pg.read(lambda c: c.fetchval("SELECT count(*) FROM audit_log WHERE action = 'pay'")) == 1


async def test_pg_issuances_class(pair: Pair) -> None:
    store = PgIssuances(pair.pg)
    assert (await store.municipality(B)).name == "北山町"  # type: ignore[union-attr]
    assert (await store.resident(A, "10000000004")).name == "Smith John"  # type: ignore[union-attr]
    assert (await store.route(A)) is not None
    await store.record_refusal("2026-06-17T01:00:00.000000+00:00", "store-9", B, "suspended")
    await store.record_issued(replace(_request("c1"), state="issued", verification_code="VC-c1",
                                      issued_at="2026-06-17T01:00:00.000000+00:00", channel="counter"))
    assert (await store.by_code("VC-c1")).request_id == "c1"  # type: ignore[union-attr]
    assert await store.by_idempotency("store-1", "none") is None
    source = await store.certificate_source("20000000001", CertificateType.RESIDENCE, {}, None)
    assert source.municipality.code == B


# -- settlement ------------------------------------------------------------------------------------


def _compose(inputs: StatementInputs) -> str:
    return json.dumps({"year": inputs.fiscal_year, "own": inputs.own, "late": inputs.late,
                       "voided": inputs.voided, "municipalities": [m.code for m in inputs.municipalities]},
                      ensure_ascii=False)


_SETTLE_COLUMNS_SQL = ("SELECT request_id, settled_year, void_settled_year, settle_year, settle_key "
                       "FROM issuances ORDER BY request_id")


async def _settle_columns(pair: Pair) -> list[tuple[Any, ...]]:
    """What the triggers and the closes keep on every issuance, equal on both stores."""
    expected = await pair.sqlite.read(lambda c: [tuple(r) for r in c.execute(_SETTLE_COLUMNS_SQL)])
    got = await pair.pg.read(lambda c: c.fetch(_SETTLE_COLUMNS_SQL + ' COLLATE "C"'))
    assert [tuple(r) for r in got] == expected
    return expected


async def test_settlement_matches_sqlite(pair: Pair) -> None:
    inputs = await pair.read(sq_set.statement_inputs, pg_set.statement_inputs, 2025)
    assert inputs.own and not inputs.late and not inputs.voided
    assert {g[3] for g in inputs.own} == {"2025-04", "2025-07", "2026-03"}  # Japan's months
    assert (await pair.read(sq_set.statement_inputs, pg_set.statement_inputs, 2026)).own
    before = await _settle_columns(pair)
    # an open year's billable rows already name it: the close writes none of them
    assert {r[1] for r in before if r[3] == 2025} == {2025}
    first = await pair.write(sq_set.close_year, pg_set.close_year, 2025, _compose, _audit("close", None))
    assert await pair.write(sq_set.close_year, pg_set.close_year, 2025, _compose, _audit("close", None)) == first
    assert await _settle_columns(pair) == before
    assert await pair.read(sq_set.closed_years, pg_set.closed_years) == [2025]
    assert await pair.read(sq_set.closed_document, pg_set.closed_document, 2025) == first
    assert await pair.read(sq_set.closed_document, pg_set.closed_document, 2024) is None
    # after the close: a late issuance of the closed year, and a counted one voided
    late = replace(_request("late-1", "store-2", B), state="printed", issued_at="2026-03-30T00:00:00.000000+00:00",
                   fee=450)
    await pair.write(sq_iss.insert_issued, pg_iss.insert_issued, late)
    counted = "h0002"  # issued in 2025-04, counted by the close
    assert await pair.write(sq_iss.complete, pg_iss.complete, counted, False,
                            "2026-05-01T00:00:00.000000+00:00", None) is True
    rows = {r[0]: r for r in await _settle_columns(pair)}
    assert rows["late-1"][1:4] == (None, None, 2025)  # late: no statement yet, its own year kept
    assert rows[counted][1:4] == (2025, None, 2025)  # counted: frozen as counted, key kept
    inputs = await pair.read(sq_set.statement_inputs, pg_set.statement_inputs, 2026)
    assert inputs.late == [(B, "store-2", "residence", "2026-03", 1, 450)]
    assert len(inputs.voided) == 1 and inputs.voided[0][3] == "2025-04"
    second = await pair.write(sq_set.close_year, pg_set.close_year, 2026, _compose, _audit("close", None))
    assert json.loads(second)["late"]
    rows = {r[0]: r for r in await _settle_columns(pair)}
    assert rows["late-1"][1:4] == (2026, None, 2025) and rows[counted][1:3] == (2025, 2026)
    after = await pair.read(sq_set.statement_inputs, pg_set.statement_inputs, 2027)
    assert not after.own and not after.late and not after.voided
    assert await pair.read(sq_set.closed_years, pg_set.closed_years) == [2025, 2026]
    # a late event after both closes, and an uncounted row voided: a failed print of 2027
    late2 = replace(_request("late-2", "store-2", B), state="printed", issued_at="2025-06-30T00:00:00.000000+00:00")
    await pair.write(sq_iss.insert_issued, pg_iss.insert_issued, late2)
    own = replace(_request("own-2027", "store-2", B), state="issued", issued_at="2027-06-30T00:00:00.000000+00:00")
    await pair.write(sq_iss.insert_issued, pg_iss.insert_issued, own)
    rows = {r[0]: r for r in await _settle_columns(pair)}
    assert rows["late-2"][1:4] == (None, None, 2025) and rows["own-2027"][1:4] == (2027, None, 2027)
    assert await pair.write(sq_iss.complete, pg_iss.complete, "own-2027", False,
                            "2027-07-01T00:00:00.000000+00:00", None) is True
    rows = {r[0]: r for r in await _settle_columns(pair)}
    assert rows["own-2027"][1:] == (None, None, None, None)  # never counted, never taken back
    inputs = await pair.read(sq_set.statement_inputs, pg_set.statement_inputs, 2027)
    assert not inputs.own and not inputs.voided
    assert inputs.late == [(B, "store-2", "residence", "2025-06", 1, 300)]


async def test_concurrent_closes_store_one_statement(pair: Pair) -> None:
    store = PgSettlement(pair.pg)
    calls: list[int] = []

    def compose(inputs: StatementInputs) -> str:
        calls.append(inputs.fiscal_year)
        return _compose(inputs) + f"#{len(calls)}"

    docs = await asyncio.gather(*(store.close_year(2025, compose, _audit("close", None)) for _ in range(5)))
    assert len(set(docs)) == 1
    assert await store.closed_document(2025) == docs[0]
    assert await store.closed_years() == [2025]
    assert await pair.pg.read(lambda c: c.fetchval("SELECT count(*) FROM audit_log WHERE action = 'close'")) == 1
    assert json.loads(docs[0].rsplit("#", 1)[0])["own"]  # the year's rows, not written by the close


async def test_issuances_written_during_a_close_are_either_its_own_or_late(pair: Pair) -> None:
    """The boundary is the close's transaction: of an issuance of the year written while the
    year closes, either the statement counts it, or it is late (the next year's counts it)."""
    store = PgSettlement(pair.pg)
    issued = [replace(_request(f"race-{i}", "store-9", B), state="printed", fee=1000,
                      issued_at="2026-01-15T00:00:00.000000+00:00") for i in range(20)]

    async def write_all() -> None:
        for record in issued:
            await pair.pg.write(pg_iss.insert_issued, record)
            await asyncio.sleep(0.005)  # spread over the close: some before it, some after

    doc, _ = await asyncio.gather(store.close_year(2025, _compose, _audit("close", None)), write_all())
    in_close = sum(g[5] for g in json.loads(doc)["own"] if g[1] == "store-9") // 1000
    late = sum(g[5] for g in (await store.statement_inputs(2026)).late if g[1] == "store-9") // 1000
    assert in_close + late == len(issued)


async def test_japan_month_is_exact_to_the_microsecond(pair: Pair) -> None:
    """An issue in the last microsecond of March in Japan settles in March (fiscal year
    2025). SQLite's strftime rounds to the millisecond and puts it in April; PostgreSQL's
    trigger does not round."""
    for request_id, at in (("edge-1", "2026-03-31T14:59:59.999999+00:00"),
                           ("edge-2", "2026-03-31T15:00:00.000000+00:00")):
        await pair.pg.write(pg_iss.insert_issued, replace(_request(request_id), state="printed", issued_at=at))
    rows = await pair.pg.read(lambda c: c.fetch(
        "SELECT request_id, jst_month, jst_fiscal_year, settle_year FROM issuances "
        "WHERE request_id LIKE 'edge-%' ORDER BY request_id"))
    assert [tuple(r) for r in rows] == [("edge-1", "2026-03", 2025, 2025), ("edge-2", "2026-04", 2026, 2026)]
