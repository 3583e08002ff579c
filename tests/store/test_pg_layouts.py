"""The PostgreSQL layout versions (and the columns they brought: a document's layout
version, a resident's 旧氏 and ローマ字) against the SQLite ones: the same inputs give the
same results and the same refusals, and concurrent stagings on PostgreSQL stage once."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bcl_console.domain.errors import Conflict
from bcl_console.domain.municipality import Hosting, Kind, Municipality
from bcl_console.store import audit as sq_audit
from bcl_console.store import issuances as sq_iss
from bcl_console.store import layouts as sq_lay
from bcl_console.store import municipalities as sq_muni
from bcl_console.store import residents as sq_res
from bcl_console.store.api import AuditEntry, IssuanceRecord, IssuedDocumentPath, RetestRecord
from bcl_console.store.db import Database
from bcl_console.store.pg import audit as pg_audit
from bcl_console.store.pg import batch_load as pg_load
from bcl_console.store.pg import issuances as pg_iss
from bcl_console.store.pg import layouts as pg_lay
from bcl_console.store.pg import residents as pg_res
from bcl_console.store.pg.db import PgDatabase
from bcl_console.store.pg.layouts import PgLayouts
from tests.pg import TestServer, run_sync

A, B = "011002", "013455"
AT = "2026-06-17T01:00:00.000000+00:00"


def _resident(code: str, name: str, former: str | None = None, roman: str | None = None,
              status: str = "active", restricted: int = 0) -> tuple[Any, ...]:
    """A resident row; without 旧氏 and ローマ字 (16 values, as before version 20) when both are None."""
    row: tuple[Any, ...] = (code, "H001", name, "ヤマダ", "1970-05-01", 2, "妻", "北海道札幌市1-1", "2010-04-01",
                            "", "", "", status, None if status == "active" else "2025-01-10", 0, restricted)
    return row if former is None and roman is None else (*row, former or "", roman or "")


RESIDENTS_A = [
    _resident("10000000001", "山田 花子", "佐藤", "YAMADA Hanako"),
    _resident("10000000002", "山田 次子", "", "YAMADA Tsugiko"),  # ローマ字 only
    _resident("10000000003", "山田 三子"),  # neither (16 values)
    _resident("10000000004", "山田 四子", "鈴木", ""),  # 旧氏 only
    _resident("10000000005", "山田 五子", "田中", "YAMADA Itsuko", restricted=1),
    _resident("10000000006", "山田 六子", "高橋", "YAMADA Mutsuko", status="moved-out"),
    _resident("10000000000", "山田 零子", "伊藤", "YAMADA Reiko"),
]


def _seed(conn: sqlite3.Connection) -> None:
    at = "2025-01-01T00:00:00.000000+00:00"
    sq_muni.insert_municipality(conn, Municipality(A, "札幌市", Kind.DESIGNATED_CITY, 1_960_000, Hosting.BCL,
                                                   service_start=date(2025, 1, 1), prefecture="北海道"), at)
    sq_muni.insert_municipality(conn, Municipality(B, "北山町", Kind.TOWN, 9_000, Hosting.BCL), at)
    sq_res.insert_residents(conn, A, RESIDENTS_A)
    # the tax layout's version 2 already staged and re-tested, so that the copy carries both tables
    sq_lay.stage(conn, "tax", 2, AuditEntry(at, "lead", "cli", None, "layout-stage"))
    sq_lay.record_retest(conn, RetestRecord(0, "tax", 2, A, at, "2025-01-01T00:00:09.500000+00:00", "lead",
                                            "passed", "", {"issuances": [], "log": ["ok"]}),
                         AuditEntry(at, "lead", "cli", A, "layout-retest"))


@dataclass
class Pair:
    sqlite: Database
    pg: PgDatabase

    async def read(self, sq: Callable[..., Any], pg: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        expected = await self.sqlite.read(sq, *args)
        got = await self.pg.read(pg, *args)
        assert got == expected, f"{pg.__name__}{args}"
        return got

    async def write(self, sq: Callable[..., Any], pg: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        expected = await self.sqlite.write(sq, *args)
        got = await self.pg.write(pg, *args)
        assert got == expected, f"{pg.__name__}{args}"
        return got

    async def refused(self, sq: Callable[..., Any], pg: Callable[..., Awaitable[Any]], *args: Any) -> str:
        """The same write refused by both with the same sentence, nothing changed."""
        with pytest.raises(Conflict) as on_sqlite:
            await self.sqlite.write(sq, *args)
        with pytest.raises(Conflict) as on_pg:
            await self.pg.write(pg, *args)
        assert str(on_pg.value) == str(on_sqlite.value) and on_pg.value.field == on_sqlite.value.field
        return str(on_pg.value)

    async def same_state(self) -> None:
        await self.read(sq_lay.layouts, pg_lay.layouts)
        await self.read(sq_lay.retests, pg_lay.retests, None, None)
        await self.read(sq_audit.list_audit, pg_audit.list_audit, None, 100)


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pg-layouts") / "bcl.sqlite3"

    async def go() -> None:
        db = Database(path)
        await db.open()
        try:
            await db.write(_seed)
        finally:
            await db.close()

    run_sync(go)
    return path


@pytest.fixture
async def pair(seeded_sqlite: Path, pg_server: TestServer, tmp_path: Path) -> AsyncIterator[Pair]:
    from bcl_console.store.copy import copy_sqlite_to_postgres

    def build(url: str) -> None:
        copies = run_sync(lambda: copy_sqlite_to_postgres(seeded_sqlite, url))
        assert all(c.matches for c in copies)

    template = pg_server.template_of("bcl_pg_layouts", build)
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


def _audit(action: str, at: str = AT, code: str | None = None) -> AuditEntry:
    return AuditEntry(at, "tester", "cli", code, action)


def _retest(code: str, outcome: str, version: int = 2, type_: str = "residence") -> RetestRecord:
    return RetestRecord(0, type_, version, code, AT, "2026-06-17T01:00:03.250000+00:00", "tester", outcome,
                        "" if outcome == "passed" else "the 旧氏 is not printed",
                        {"issuances": [{"resident": "10000000001", "layout_version": version, "verdict": outcome}],
                         "test_cards": 2, "log": ["発行", "検証"], "seconds": 3.25})


async def test_the_copied_layouts_match(pair: Pair) -> None:
    await pair.same_state()
    rows = await pair.read(sq_lay.layouts, pg_lay.layouts)
    assert [(r.type, r.version, r.state, r.staged_at) for r in rows] == [
        ("tax", 2, "staged", "2025-01-01T00:00:00.000000+00:00")]
    [retest] = await pair.read(sq_lay.retests, pg_lay.retests, "tax", 2)
    assert retest.finished_at == "2025-01-01T00:00:09.500000+00:00" and retest.evidence["log"] == ["ok"]
    assert await pair.read(sq_lay.staged_version, pg_lay.staged_version, "tax") == 2
    assert await pair.read(sq_lay.active_version, pg_lay.active_version, "tax") == 1


async def test_stage_retest_activate_match_sqlite(pair: Pair) -> None:
    assert await pair.read(sq_lay.active_version, pg_lay.active_version, "residence") == 1
    assert await pair.read(sq_lay.staged_version, pg_lay.staged_version, "residence") is None
    assert "not newer than the active version 1" in await pair.refused(
        sq_lay.stage, pg_lay.stage, "residence", 1, _audit("layout-stage"))
    assert await pair.write(sq_lay.stage, pg_lay.stage, "residence", 2, _audit("layout-stage")) is True
    assert await pair.write(sq_lay.stage, pg_lay.stage, "residence", 2, _audit("layout-stage")) is False
    assert "version 2 is already staged" in await pair.refused(
        sq_lay.stage, pg_lay.stage, "residence", 3, _audit("layout-stage"))
    await pair.same_state()

    # not staged, nothing to re-test, untested, failed: each refused with the same sentence
    assert "is not staged" in await pair.refused(sq_lay.activate, pg_lay.activate, "residence", 3, [A],
                                                 _audit("layout-activate"))
    assert "nothing to re-test" in await pair.refused(sq_lay.activate, pg_lay.activate, "residence", 2, [],
                                                      _audit("layout-activate"))
    assert f"{A}, {B} not re-tested" in await pair.refused(sq_lay.activate, pg_lay.activate, "residence", 2,
                                                            [A, B], _audit("layout-activate"))
    assert await pair.write(sq_lay.record_retest, pg_lay.record_retest, _retest(A, "failed"),
                            _audit("layout-retest", code=A)) == 2  # after the tax layout's
    assert await pair.write(sq_lay.record_retest, pg_lay.record_retest, _retest(B, "passed"),
                            _audit("layout-retest", code=B)) == 3
    assert await pair.read(sq_lay.latest_outcomes, pg_lay.latest_outcomes, "residence", 2) == {
        A: "failed", B: "passed"}
    assert f"the re-test failed for {A}" in await pair.refused(sq_lay.activate, pg_lay.activate, "residence", 2,
                                                               [A, B], _audit("layout-activate"))
    assert "not staged any more" in await pair.refused(sq_lay.record_retest, pg_lay.record_retest,
                                                       _retest(A, "passed", version=3), _audit("layout-retest"))
    assert await pair.write(sq_lay.record_retest, pg_lay.record_retest, _retest(A, "passed"),
                            _audit("layout-retest", code=A)) == 4
    assert await pair.read(sq_lay.latest_outcomes, pg_lay.latest_outcomes, "residence", 2) == {
        A: "passed", B: "passed"}  # the latest one counts
    newest = await pair.read(sq_lay.retests, pg_lay.retests, "residence", None)
    assert [r.id for r in newest] == [4, 3, 2] and newest[0].evidence["seconds"] == 3.25
    assert await pair.read(sq_lay.retests, pg_lay.retests, None, 3) == []

    later = "2026-06-18T02:30:00.123456+00:00"
    await pair.write(sq_lay.activate, pg_lay.activate, "residence", 2, [A, B], _audit("layout-activate", later))
    assert await pair.read(sq_lay.active_version, pg_lay.active_version, "residence") == 2
    assert await pair.read(sq_lay.staged_version, pg_lay.staged_version, "residence") is None
    [entry] = [e for e in await pair.read(sq_audit.list_audit, pg_audit.list_audit, None, 100)
               if e.action == "layout-activate"]
    assert entry.old_value == "1"

    # version 3 after 2: 2 is retired
    assert await pair.write(sq_lay.stage, pg_lay.stage, "residence", 3, _audit("layout-stage", later)) is True
    await pair.write(sq_lay.record_retest, pg_lay.record_retest, _retest(A, "passed", version=3),
                     _audit("layout-retest", later, A))
    await pair.write(sq_lay.activate, pg_lay.activate, "residence", 3, [A], _audit("layout-activate", later))
    rows = await pair.read(sq_lay.layouts, pg_lay.layouts)
    assert [(r.type, r.version, r.state) for r in rows] == [
        ("residence", 2, "retired"), ("residence", 3, "active"), ("tax", 2, "staged")]
    assert rows[0].activated_at == later and rows[0].retired_at == later
    await pair.same_state()


async def test_concurrent_stagings_stage_once(pair: Pair) -> None:
    store = PgLayouts(pair.pg)
    outcomes = await asyncio.gather(*(store.stage("seal", 2, _audit("layout-stage")) for _ in range(6)),
                                    return_exceptions=True)
    assert sorted(map(repr, outcomes)) == ["False"] * 5 + ["True"]
    both = await asyncio.gather(store.stage("residence", 2, _audit("layout-stage")),
                                store.stage("residence", 3, _audit("layout-stage")), return_exceptions=True)
    assert sum(r is True for r in both) == 1 and sum(isinstance(r, Conflict) for r in both) == 1
    assert len([r for r in await store.layouts() if r.state == "staged"]) == 3  # seal, residence, tax
    assert len([e for e in await pair.pg.read(pg_audit.list_audit, None, 100) if e.action == "layout-stage"]) == 3


async def test_residents_with_additions_match_sqlite(pair: Pair) -> None:
    # active, unrestricted, with 旧氏 or ローマ字; both held first, then by code
    assert await pair.read(sq_lay.resident_with_additions, pg_lay.resident_with_additions, A, 10) == [
        "10000000000", "10000000001", "10000000002", "10000000004"]
    assert await pair.read(sq_lay.resident_with_additions, pg_lay.resident_with_additions, A, 1) == ["10000000000"]
    assert await pair.read(sq_lay.resident_with_additions, pg_lay.resident_with_additions, B, 10) == []
    one = await pair.read(sq_res.get_resident, pg_res.get_resident, A, "10000000001")
    assert (one.former_surname, one.name_roman) == ("佐藤", "YAMADA Hanako")
    none = await pair.read(sq_res.get_resident, pg_res.get_resident, A, "10000000003")
    assert (none.former_surname, none.name_roman) == ("", "")
    await pair.read(sq_res.household_members, pg_res.household_members, A, "H001")


async def test_rows_without_additions_are_stored_empty(pair: Pair) -> None:
    """Rows of 16 values (no 旧氏/ローマ字) and of 18 go in alike on both stores, through
    insert_residents and through the PostgreSQL batch loader's inserts and COPY."""
    rows = [_resident("20000000001", "北 一"), _resident("20000000002", "北 二", "南", "KITA Ni")]
    assert await pair.write(sq_res.insert_residents, pg_res.insert_residents, B, rows) == 2
    more = [_resident("20000000003", "北 三"), _resident("20000000004", "北 四", "", "KITA Shi")]
    await pair.sqlite.write(sq_res.insert_residents, B, more)
    await pair.pg.write(pg_load.insert_rows, "residents", B, more[:1])
    await pair.pg.write(pg_load.copy_rows, "residents", B, more[1:])
    for code in ("20000000001", "20000000002", "20000000003", "20000000004"):
        await pair.read(sq_res.get_resident, pg_res.get_resident, B, code)
    got = await pair.read(sq_res.resident_values, pg_res.resident_values, B,
                          ["20000000001", "20000000002", "20000000003", "20000000004"])
    assert [v[-2:] for v in got.values()] == [("", ""), ("南", "KITA Ni"), ("", ""), ("", "KITA Shi")]
    assert await pair.read(sq_lay.resident_with_additions, pg_lay.resident_with_additions, B, 5) == [
        "20000000002", "20000000004"]


async def test_issuances_record_the_layout_version(pair: Pair) -> None:
    base = IssuanceRecord(request_id="r-1", type="residence", options={"scope": "self"}, municipality_code=A,
                          resident_code="10000000001", channel="counter", operator=None, fee=300,
                          state="issued", verification_code="V-1", content_sha256="c" * 64, pages=2,
                          document_path="a.pdf", created_at=AT, issued_at=AT, voided_at=None,
                          certificate_number="2026-000001", layout_version=2)
    await pair.write(sq_iss.insert_issued, pg_iss.insert_issued, base)
    await pair.write(sq_iss.insert_issued, pg_iss.insert_issued,
                     replace(base, request_id="r-2", verification_code="V-2", layout_version=1))
    assert (await pair.read(sq_iss.by_request, pg_iss.by_request, "r-1")).layout_version == 2
    assert (await pair.read(sq_iss.by_code, pg_iss.by_code, "V-2")).layout_version == 1

    waiting = replace(base, request_id="r-3", state="awaiting_payment", verification_code=None,
                      content_sha256=None, pages=None, document_path=None, issued_at=None,
                      certificate_number=None, layout_version=1)
    await pair.write(sq_iss.insert_issued, pg_iss.insert_issued, waiting)
    issued = IssuedDocumentPath("r-3", "V-3", "d" * 64, 2, "b.pdf", AT, 12, ("p1", "p2"), "2026-000002", 2)
    assert await pair.write(sq_iss.mark_issued, pg_iss.mark_issued, issued) is True
    assert await pair.write(sq_iss.mark_issued, pg_iss.mark_issued, issued) is False  # once only
    record = await pair.read(sq_iss.by_request, pg_iss.by_request, "r-3")
    assert record.layout_version == 2 and record.state == "issued" and record.signed_pages == ("p1", "p2")
