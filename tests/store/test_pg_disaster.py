"""The disaster area on PostgreSQL (store/pg/ledger.py, store/pg/disasters.py) against
the SQLite one: the same facts on the same data give the same answers, the same
refusals (class, sentence, field) and the same audit trail on both stores.

Each test starts from one small data set — three municipalities, a few households —
written by the SQLite store's own functions and copied into PostgreSQL by
``database copy`` once per session (a template database), then run step by step on a
SqliteDisaster and a PgDisaster side by side.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bcl_console.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from bcl_console.domain.municipality import Hosting, Kind, Municipality
from bcl_console.domain.support import RebuildMethod
from bcl_console.store import audit as sqlite_audit
from bcl_console.store import disasters as sqlite_disasters
from bcl_console.store import ledger as sqlite_ledger
from bcl_console.store.api import AuditEntry, CheckedAssessment, DisasterRow, DisasterStore
from bcl_console.store.copy import copy_sqlite_to_postgres
from bcl_console.store.db import Database
from bcl_console.store.disasters import SqliteDisaster
from bcl_console.store.municipalities import insert_municipality
from bcl_console.store.pg import audit as pg_audit
from bcl_console.store.pg import disasters as pg_disasters
from bcl_console.store.pg import ledger as pg_ledger
from bcl_console.store.pg.db import PgDatabase
from bcl_console.store.pg.disasters import PgDisaster
from bcl_console.store.residents import insert_residents
from tests.pg import TestServer, run_sync

T = TypeVar("T")

TOWN, VILLAGE, ELSEWHERE = "993611", "994821", "995002"
AT = "2026-06-17T01:00:00.000000+00:00"
LATER = "2026-06-17T02:30:00.123456+00:00"


def _person(resident: str, household: str, name: str, relationship: str, *, status: str = "active",
            help_: int = 0, address: str = "") -> tuple[Any, ...]:
    return (resident, household, name, name + "カナ", "1960-04-01", 1 if relationship != "妻" else 2, relationship,
            address or f"東雲県北山町{household}番地", "2000-01-01", "", "", "", status, None, help_, 0)


#: (municipality, resident rows in RESIDENT_FIELDS order). Household 00000002's head is
#: listed after its other member, and resident codes are not in household order, so the
#: ledger's order is really decided by the query.
PEOPLE = {
    TOWN: [
        _person("10000000011", "00000001", "山田 太郎", "世帯主"),
        _person("10000000029", "00000001", "山田 花子", "妻", help_=1),
        _person("10000000037", "00000001", "山田 一郎", "子"),
        _person("10000000045", "00000002", "佐藤 次郎", "子"),
        _person("10000000088", "00000002", "佐藤 三郎", "世帯主"),
        _person("10000000053", "00000003", "鈴木 四郎", "世帯主", help_=1),
        _person("10000000061", "00000003", "鈴木 五郎", "子", status="moved-out"),
        _person("10000000070", "00000004", "高橋 六子", "世帯主", status="deceased"),
    ],
    VILLAGE: [
        _person("20000000019", "00000100", "田中 七郎", "世帯主", address="東雲県桜川村100番地"),
        _person("20000000027", "00000100", "田中 八重", "妻", address="東雲県桜川村100番地"),
    ],
    ELSEWHERE: [_person("30000000016", "00000200", "伊藤 九郎", "世帯主")],
}


def _seed(conn: Any) -> None:
    for code, name in ((TOWN, "北山町"), (VILLAGE, "桜川村"), (ELSEWHERE, "南浜町")):
        insert_municipality(conn, Municipality(code, name, Kind.TOWN, 1000, Hosting.BCL), AT)
        insert_residents(conn, code, PEOPLE[code])


@pytest.fixture(scope="session")
def seed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data set on SQLite, once per session."""
    path = tmp_path_factory.mktemp("disaster-seed") / "bcl.db"

    async def make() -> None:
        db = Database(path)
        await db.open()
        try:
            await db.write(_seed)
        finally:
            await db.close()

    run_sync(make)
    return path


@pytest.fixture(scope="session")
def seed_template(seed_db: Path, pg_server: TestServer) -> str:
    """The same data set in a PostgreSQL template database."""
    return pg_server.template_of(
        "bcl_disaster_seed", lambda url: run_sync(lambda: copy_sqlite_to_postgres(seed_db, url)))


@dataclass
class Pair:
    sqlite: SqliteDisaster
    pg: PgDisaster
    sqlite_db: Database
    pg_db: PgDatabase

    async def same(self, call: Callable[[DisasterStore], Awaitable[T]]) -> T:
        """``call`` on both stores: the same result (returned), or the same refusal."""
        a = await _outcome(call, self.sqlite)
        b = await _outcome(call, self.pg)
        assert a == b
        if isinstance(a[0], type):
            raise AssertionError(f"both stores refused: {a}")
        return a[1]  # type: ignore[no-any-return]

    async def refused(self, kind: type[DomainError], call: Callable[[DisasterStore], Awaitable[object]]) -> str:
        """``call`` refused alike on both stores with ``kind``: the sentence."""
        a = await _outcome(call, self.sqlite)
        b = await _outcome(call, self.pg)
        assert a == b
        assert a[0] is kind, a
        return str(a[1])

    async def audit(self) -> list[AuditEntry]:
        a = await self.sqlite_db.read(sqlite_audit.list_audit, None, 1000)
        b = await self.pg_db.read(pg_audit.list_audit, None, 1000)
        assert a == b
        return a


async def _outcome(call: Callable[[DisasterStore], Awaitable[T]], store: DisasterStore) -> tuple[Any, ...]:
    try:
        return ("ok", await call(store))
    except DomainError as exc:
        return (type(exc), exc.message, exc.field)


@pytest.fixture
async def pair(seed_db: Path, seed_template: str, pg_server: TestServer, tmp_path: Path) -> AsyncIterator[Pair]:
    path = tmp_path / "bcl.db"
    shutil.copy(seed_db, path)
    sdb, pdb = Database(path), PgDatabase(pg_server.fresh(seed_template), pool_size=2)
    await sdb.open()
    try:
        await pdb.open()
        try:
            yield Pair(SqliteDisaster(sdb), PgDisaster(pdb), sdb, pdb)
        finally:
            await pdb.close()
    finally:
        await sdb.close()


def audit(action: str, code: str | None = TOWN, at: str = AT, **fields: Any) -> AuditEntry:
    return replace(AuditEntry(at, "tester", "cli", code, action), **fields)


def assessed(damage_class: str, ratio: int | None = None, on: str = "2026-06-15",
             flood: tuple[str, int] | None = None) -> Callable[[DisasterRow, str | None], CheckedAssessment]:
    """An AssessmentCheck: refuses an unknown household, as the service's does."""
    def check(d: DisasterRow, address: str | None) -> CheckedAssessment:
        if address is None:
            raise NotFound(f"household is not known in disaster {d.id}", field="household")
        level, depth = flood if flood else (None, None)
        return CheckedAssessment(address, damage_class, ratio, "調査員 中野", on, level, depth)
    return check


def on_day(day: str) -> Callable[[DisasterRow], str]:
    return lambda d: day


async def declare(pair: Pair, codes: list[str] | None = None) -> int:
    return await pair.same(lambda s: s.declare("令和8年6月豪雨", "flood", date(2026, 6, 10),
                                               codes or [TOWN, VILLAGE], audit("disaster-declared", None)))


async def test_declare_list_state_and_close(pair: Pair) -> None:
    assert await pair.same(lambda s: s.disasters()) == []
    msg = await pair.refused(NotFound, lambda s: s.declare("x", "flood", date(2026, 6, 1), [TOWN, "011002"],
                                                           audit("disaster-declared", None)))
    assert msg == "municipality 011002 is not registered"
    d = await declare(pair, [VILLAGE, TOWN])
    second = await pair.same(lambda s: s.declare("地震", "earthquake", date(2026, 6, 12), [ELSEWHERE],
                                                 audit("disaster-declared", None, at=LATER)))
    rows = await pair.same(lambda s: s.disasters())
    assert [(r.id, r.municipalities, r.occurred_on) for r in rows] == [
        (d, (TOWN, VILLAGE), date(2026, 6, 10)), (second, (ELSEWHERE,), date(2026, 6, 12))]
    assert rows[1].declared_at == LATER
    empty = await pair.same(lambda s: s.state(d))
    assert (empty.by_class, empty.shelters, empty.applications_waiting, empty.support) == ({}, [], 0, [])
    await pair.refused(NotFound, lambda s: s.state(99))
    centre = await pair.same(lambda s: s.open_shelter(d, TOWN, "北山小学校", 50, audit("shelter-opened")))
    assert "北山小学校" in await pair.refused(Conflict, lambda s: s.close(d, audit("disaster-closed", None)))
    await pair.same(lambda s: s.close_shelter(centre, audit("shelter-closed", at=LATER)))
    await pair.same(lambda s: s.close(d, audit("disaster-closed", None, at=LATER)))
    closed = await pair.same(lambda s: s.state(d))
    assert closed.disaster.closed_at == LATER and closed.shelters[0].closed_at == LATER
    assert "already closed" in await pair.refused(Conflict, lambda s: s.close(d, audit("disaster-closed", None)))
    assert "is closed" in await pair.refused(Conflict, lambda s: s.open_shelter(d, TOWN, "x", 5, audit("so")))
    trail = await pair.audit()
    assert [(e.action, e.municipality_code) for e in trail[:2]] == [("disaster-closed", VILLAGE),
                                                                     ("disaster-closed", TOWN)]


async def test_assessments_keep_their_revisions(pair: Pair) -> None:
    d = await declare(pair)
    first = await pair.same(lambda s: s.assess(d, TOWN, "00000001", assessed("半壊", 25), audit("assessed")))
    assert first.revision == 1 and first.address == "東雲県北山町00000001番地"
    again = await pair.same(lambda s: s.assess(d, TOWN, "00000001", assessed("全壊", on="2026-06-16",
                                                                              flood=("床上浸水", 120)),
                                               audit("assessed", at=LATER)))
    assert again.revision == 2 and [(h.damage_class, h.current) for h in again.history] == [
        ("半壊", False), ("全壊", True)]
    assert again.flood_level == "床上浸水" and again.history[1].assessed_on == "2026-06-16"
    await pair.refused(NotFound, lambda s: s.assess(d, TOWN, "99999999", assessed("全壊"), audit("assessed")))
    await pair.refused(NotFound, lambda s: s.assess(99, TOWN, "00000001", assessed("全壊"), audit("assessed")))
    history = await pair.same(lambda s: s.assessment_history(d, TOWN, "00000001"))
    assert [h.revision for h in history] == [1, 2]

    def both(d_: DisasterRow, addresses: Mapping[tuple[str, str], str | None]) -> list[
            tuple[tuple[str, str], CheckedAssessment]]:
        if any(a is None for a in addresses.values()):
            raise InvalidInput("a household of the file is not known", file="a.csv", line=2, field="household")
        return [(key, CheckedAssessment(str(a), "準半壊", 12, "調査員 石井", "2026-06-16"))
                for key, a in sorted(addresses.items())]

    keys = [(VILLAGE, "00000100"), (TOWN, "00000002"), (TOWN, "00000003")]
    assert await pair.same(lambda s: s.import_assessments(d, keys, both, "a.csv", audit("imported"))) == 3
    await pair.refused(InvalidInput, lambda s: s.import_assessments(d, [*keys, (TOWN, "00000004")], both, "a.csv",
                                                                    audit("imported")))
    state = await pair.same(lambda s: s.state(d))
    assert state.by_class == {"全壊": 1, "準半壊": 3}
    assert list(state.by_class) == sorted(state.by_class)
    trail = await pair.audit()
    assert [(e.action, e.municipality_code, e.new_value) for e in trail[:2]] == [
        ("imported", VILLAGE, "a.csv: 3 rows"), ("imported", TOWN, "a.csv: 3 rows")]


async def test_ledger_whereabouts_and_shelters(pair: Pair) -> None:
    d = await declare(pair)
    for household in ("00000002", "00000001"):
        await pair.same(lambda s, h=household: s.assess(d, TOWN, h, assessed("全壊"), audit("assessed")))
    await pair.same(lambda s: s.assess(d, VILLAGE, "00000100", assessed("半壊", 30), audit("assessed", VILLAGE)))
    ledger = await pair.same(lambda s: s.ledger(d, None))
    assert [(e.municipality_code, e.household_number, e.resident_code) for e in ledger] == [
        (TOWN, "00000001", "10000000011"), (TOWN, "00000001", "10000000029"), (TOWN, "00000001", "10000000037"),
        (TOWN, "00000002", "10000000088"), (TOWN, "00000002", "10000000045"),
        (VILLAGE, "00000100", "20000000019"), (VILLAGE, "00000100", "20000000027")]
    assert {(e.whereabouts, e.injury, e.shelter) for e in ledger} == {("home", "none", None)}
    assert [e.resident_code for e in await pair.same(lambda s: s.ledger(d, VILLAGE))] == ["20000000019",
                                                                                           "20000000027"]
    await pair.refused(NotFound, lambda s: s.ledger(99, None))

    await pair.same(lambda s: s.set_person(d, TOWN, "10000000037", whereabouts="relatives", injury="injured",
                                           note="骨折", audit=audit("victim-updated")))
    await pair.same(lambda s: s.set_person(d, TOWN, "10000000037", whereabouts=None, injury=None, note=None,
                                           audit=audit("victim-updated", at=LATER)))
    await pair.refused(NotFound, lambda s: s.set_person(d, TOWN, "10000000061", whereabouts="home", injury=None,
                                                        note=None, audit=audit("victim-updated")))
    await pair.refused(InvalidInput, lambda s: s.set_person(d, ELSEWHERE, "30000000016", whereabouts="home",
                                                            injury=None, note=None, audit=audit("victim-updated")))

    hall = await pair.same(lambda s: s.open_shelter(d, TOWN, "北山公民館", 2, audit("shelter-opened")))
    school = await pair.same(lambda s: s.open_shelter(d, TOWN, "北山小学校", 100, audit("shelter-opened")))
    await pair.refused(InvalidInput, lambda s: s.open_shelter(d, ELSEWHERE, "x", 5, audit("shelter-opened")))
    came = await pair.same(lambda s: s.check_in(hall, TOWN, "10000000029", "card", audit("checked-in")))
    assert (came.occupancy, came.capacity, came.shelter_name) == (1, 2, "北山公民館")
    await pair.same(lambda s: s.check_in(hall, TOWN, "10000000011", "hand", audit("checked-in", at=LATER)))
    assert "is full" in await pair.refused(Conflict, lambda s: s.check_in(hall, TOWN, "10000000037", "hand",
                                                                          audit("checked-in")))
    assert "already checked in at 北山公民館" in await pair.refused(
        Conflict, lambda s: s.check_in(school, TOWN, "10000000029", "card", audit("checked-in")))
    await pair.refused(NotFound, lambda s: s.check_in(school, TOWN, "10000000070", "card", audit("checked-in")))
    await pair.refused(NotFound, lambda s: s.check_in(99, TOWN, "10000000037", "card", audit("checked-in")))
    assert "check out first" in await pair.refused(
        Conflict, lambda s: s.set_person(d, TOWN, "10000000029", whereabouts="home", injury=None, note=None,
                                         audit=audit("victim-updated")))
    people = await pair.same(lambda s: s.shelter_people(hall))
    assert [(p.resident_code, p.name, p.checked_in_at, p.via) for p in people] == [
        ("10000000029", "山田 花子", AT, "card"), ("10000000011", "山田 太郎", LATER, "hand")]
    assert "2 people are still checked in" in await pair.refused(
        Conflict, lambda s: s.close_shelter(hall, audit("shelter-closed")))

    left = await pair.same(lambda s: s.check_out(TOWN, "10000000029", "relatives", audit("checked-out", at=LATER)))
    assert (left.shelter_id, left.whereabouts) == (hall, "relatives")
    await pair.refused(Conflict, lambda s: s.check_out(TOWN, "10000000029", "home", audit("checked-out")))
    again = await pair.same(lambda s: s.check_in(school, TOWN, "10000000029", "hand", audit("checked-in", at=LATER)))
    assert again.occupancy == 1
    centres = await pair.same(lambda s: s.shelters(d))
    assert [(c.id, c.occupancy) for c in centres] == [(hall, 1), (school, 1)]
    assert await pair.same(lambda s: s.shelters(None)) == centres
    assert await pair.same(lambda s: s.shelter(school)) == centres[1]
    assert await pair.same(lambda s: s.shelter(99)) is None

    rows = {e.resident_code: e for e in await pair.same(lambda s: s.ledger(d, TOWN))}
    assert (rows["10000000029"].whereabouts, rows["10000000029"].shelter) == ("shelter", "北山小学校")
    assert (rows["10000000011"].whereabouts, rows["10000000011"].shelter) == ("shelter", "北山公民館")
    assert (rows["10000000037"].whereabouts, rows["10000000037"].injury) == ("relatives", "injured")
    await pair.audit()


async def test_support_applications_from_apply_to_paid(pair: Pair) -> None:
    d = await declare(pair)
    await pair.same(lambda s: s.assess(d, TOWN, "00000001", assessed("全壊"), audit("assessed")))
    await pair.same(lambda s: s.assess(d, TOWN, "00000003", assessed("準半壊", 15), audit("assessed")))
    first = await pair.same(lambda s: s.apply_support(d, TOWN, "00000001", RebuildMethod.BUILD, demolished=False,
                                                      long_term=False, audit=audit("support-applied")))
    assert "already has support application" in await pair.refused(
        Conflict, lambda s: s.apply_support(d, TOWN, "00000001", None, demolished=False, long_term=False,
                                            audit=audit("support-applied")))
    assert "no damage assessment" in await pair.refused(
        InvalidInput, lambda s: s.apply_support(d, TOWN, "00000002", None, demolished=False, long_term=False,
                                                audit=audit("support-applied")))
    await pair.refused(NotFound, lambda s: s.apply_support(d, TOWN, "99999999", None, demolished=False,
                                                           long_term=False, audit=audit("support-applied")))
    await pair.refused(InvalidInput, lambda s: s.apply_support(d, ELSEWHERE, "00000200", None, demolished=False,
                                                               long_term=False, audit=audit("support-applied")))
    app = await pair.same(lambda s: s.support(first))
    assert app is not None and (app.members, app.state, app.total) == (3, "applied", 3_000_000)
    assert await pair.same(lambda s: s.support(99)) is None

    await pair.same(lambda s: s.decide_support(first, "applied", "approved", "書類確認済", audit("support-approved")))
    assert "is approved; only an applied one" in await pair.refused(
        Conflict, lambda s: s.decide_support(first, "applied", "rejected", None, audit("support-rejected")))
    await pair.refused(NotFound, lambda s: s.decide_support(99, "applied", "approved", None, audit("x")))
    await pair.same(lambda s: s.decide_support(first, "approved", "paid", None, audit("support-paid", at=LATER)))
    paid = await pair.same(lambda s: s.support_list(d))
    assert [(p.state, p.decided_at, p.paid_at, p.decided_by, p.note) for p in paid] == [
        ("paid", AT, LATER, "tester", "書類確認済")]
    await pair.refused(NotFound, lambda s: s.support_list(99))
    entry = next(e for e in await pair.same(lambda s: s.ledger(d, TOWN)) if e.resident_code == "10000000011")
    assert (entry.support_state, entry.support_total) == ("paid", 3_000_000)
    assert (await pair.same(lambda s: s.state(d))).support == paid
    trail = await pair.audit()
    assert [e.new_value for e in trail if e.action == "support-applied"] == ["3,000,000円"]


async def test_plans_and_online_applications(pair: Pair) -> None:
    d = await declare(pair)
    await pair.refused(NotFound, lambda s: s.needs_help("011002"))
    names = [h.resident_code for h in await pair.same(lambda s: s.needs_help(TOWN))]
    assert names == ["10000000029", "10000000053"]
    await pair.same(lambda s: s.set_plan(TOWN, "10000000011", "民生委員 木村", "北山小学校", "車いす", audit("plan-set")))
    await pair.same(lambda s: s.set_plan(TOWN, "10000000029", "長男", "北山公民館", "", audit("plan-set")))
    await pair.same(lambda s: s.set_plan(TOWN, "10000000029", "長男 一郎", "北山小学校", "薬",
                                         audit("plan-set", at=LATER)))
    await pair.refused(NotFound, lambda s: s.set_plan(TOWN, "10000000061", "x", "y", "", audit("plan-set")))
    plans = await pair.same(lambda s: s.needs_help(TOWN))
    assert [(h.resident_code, h.flagged, h.supporter, h.plan_updated_at) for h in plans] == [
        ("10000000011", 0, "民生委員 木村", AT), ("10000000029", 1, "長男 一郎", LATER),
        ("10000000053", 1, None, None)]
    flagged = (await pair.sqlite_db.write(sqlite_ledger.flag_plans, TOWN, LATER),
               await pair.pg_db.write(pg_ledger.flag_plans, TOWN, LATER))
    assert flagged == (1, 1)
    reasons = await pair.same(lambda s: s.needs_help(TOWN))
    assert reasons[0].review_reason == "no longer flagged as needing evacuation help" and reasons[1].review_reason is None
    # A planned person who leaves the resident data stays on the list, from the plan alone.
    await pair.same(lambda s: s.set_plan(TOWN, "10000000053", "隣人", "北山小学校", "", audit("plan-set")))
    gone = ("DELETE FROM residents WHERE municipality_code = ? AND resident_code = ?", (TOWN, "10000000053"))
    await pair.sqlite_db.write(lambda c: c.execute(*gone))
    await pair.pg_db.write(lambda c: c.execute(gone[0].replace("?", "$1", 1).replace("?", "$2"), *gone[1]))
    assert await pair.sqlite_db.write(sqlite_ledger.flag_plans, TOWN, LATER) == 1
    assert await pair.pg_db.write(pg_ledger.flag_plans, TOWN, LATER) == 1
    removed = (await pair.same(lambda s: s.needs_help(TOWN)))[2]
    assert (removed.resident_code, removed.name, removed.status, removed.birth_date, removed.supporter) == (
        "10000000053", "(not in the resident data)", "removed", None, "隣人")
    assert removed.review_reason == "removed from the resident data by a linkage batch"

    first = await pair.same(lambda s: s.apply_online(TOWN, "10000000037", d, AT))
    assert "already waiting" in await pair.refused(Conflict, lambda s: s.apply_online(TOWN, "10000000037", d, AT))
    await pair.refused(InvalidInput, lambda s: s.apply_online(ELSEWHERE, "30000000016", d, AT))
    await pair.refused(NotFound, lambda s: s.apply_online(TOWN, "10000000061", d, AT))
    other = await pair.same(lambda s: s.apply_online(VILLAGE, "20000000027", d, LATER))
    assert "no damage assessment" in await pair.refused(
        InvalidInput, lambda s: s.decide_application(first, True, None, audit("application-approved")))
    await pair.same(lambda s: s.assess(d, TOWN, "00000001", assessed("半壊", 22), audit("assessed")))
    assert await pair.same(lambda s: s.decide_application(first, True, None, audit("application-approved"))) == d
    await pair.same(lambda s: s.decide_application(other, False, "対象外", audit("application-rejected", VILLAGE)))
    assert "already approved" in await pair.refused(
        Conflict, lambda s: s.decide_application(first, False, None, audit("application-rejected")))
    await pair.refused(NotFound, lambda s: s.decide_application(99, True, None, audit("application-approved")))
    everything = await pair.same(lambda s: s.applications(None))
    assert [(a.id, a.state, a.reason) for a in everything] == [(first, "approved", None), (other, "rejected", "対象外")]
    assert await pair.same(lambda s: s.applications("rejected")) == everything[1:]
    assert await pair.same(lambda s: s.application(first)) == everything[0]
    await pair.same(lambda s: s.apply_online(TOWN, "10000000037", d, LATER))
    assert (await pair.same(lambda s: s.state(d))).applications_waiting == 1
    await pair.audit()


async def test_victim_reports_one_per_person_amended_in_place(pair: Pair) -> None:
    d = await declare(pair)
    report = await pair.same(lambda s: s.report_harm(d, TOWN, "10000000011", "床上浸水で家財が損壊", on_day("2026-06-12"),
                                                     amend=False, audit=audit("harm-reported")))
    assert (report.name, report.address, report.revision, report.amended_at) == (
        "山田 太郎", "東雲県北山町00000001番地", 1, None)
    assert "already reported harm for disaster" in await pair.refused(
        Conflict, lambda s: s.report_harm(d, TOWN, "10000000011", "二度目", on_day("2026-06-13"), amend=False,
                                          audit=audit("harm-reported")))
    assert "to amend" in await pair.refused(
        InvalidInput, lambda s: s.report_harm(d, TOWN, "10000000029", "x", on_day("2026-06-13"), amend=True,
                                              audit=audit("harm-reported")))
    await pair.refused(NotFound, lambda s: s.report_harm(d, TOWN, "10000000061", "x", on_day("2026-06-13"),
                                                         amend=False, audit=audit("harm-reported")))
    await pair.refused(InvalidInput, lambda s: s.report_harm(d, ELSEWHERE, "30000000016", "x", on_day("2026-06-13"),
                                                             amend=False, audit=audit("harm-reported")))
    amended = await pair.same(lambda s: s.report_harm(d, TOWN, "10000000011", "床上浸水、車両も水没", on_day("2026-06-11"),
                                                      amend=True, audit=audit("harm-reported", at=LATER)))
    assert (amended.id, amended.revision, amended.reported_on, amended.amended_at) == (
        report.id, 2, "2026-06-11", LATER)
    await pair.same(lambda s: s.report_harm(d, VILLAGE, "20000000019", "屋根が破損", on_day("2026-06-11"),
                                            amend=False, audit=audit("harm-reported", VILLAGE)))
    await pair.same(lambda s: s.report_harm(d, TOWN, "10000000029", "けが", on_day("2026-06-14"),
                                            amend=False, audit=audit("harm-reported")))
    every = await pair.same(lambda s: s.victim_reports(d, None))
    assert [(r.resident_code, r.reported_on) for r in every] == [
        ("10000000029", "2026-06-14"), ("20000000019", "2026-06-11"), ("10000000011", "2026-06-11")]
    assert await pair.same(lambda s: s.victim_reports(d, VILLAGE)) == every[1:2]
    await pair.refused(NotFound, lambda s: s.victim_reports(99, None))
    trail = await pair.audit()
    assert any(e.action == "harm-reported-amended" and e.old_value == "床上浸水で家財が損壊" for e in trail)
    await pair.same(lambda s: s.close(d, audit("disaster-closed", None)))
    assert "is closed" in await pair.refused(
        Conflict, lambda s: s.report_harm(d, TOWN, "10000000037", "x", on_day("2026-06-14"), amend=False,
                                          audit=audit("harm-reported")))


async def test_the_demo_writers_helpers(pair: Pair) -> None:
    """insert_disaster, heads_of_households and insert_assessments (the demo's bulk path)."""
    async def on_both(fn_sqlite: Callable[..., Any], fn_pg: Callable[..., Any], *args: Any) -> Any:
        a = await pair.sqlite_db.write(fn_sqlite, *args)
        b = await pair.pg_db.write(fn_pg, *args)
        assert a == b
        return a

    d = await on_both(sqlite_disasters.insert_disaster, pg_disasters.insert_disaster, "豪雨", "flood", "2026-06-10",
                      AT, [TOWN])
    heads = await on_both(sqlite_disasters.heads_of_households, pg_disasters.heads_of_households, TOWN)
    assert heads == [("00000001", "東雲県北山町00000001番地"), ("00000002", "東雲県北山町00000002番地"),
                     ("00000003", "東雲県北山町00000003番地")]
    rows = [(d, TOWN, h, a, "半壊", 25, "調査員", "2026-06-15", "床下浸水", 30) for h, a in heads]
    await on_both(sqlite_disasters.insert_assessments, pg_disasters.insert_assessments, rows)
    assert (await pair.same(lambda s: s.state(d))).by_class == {"半壊": 3}
    assert len(await pair.same(lambda s: s.ledger(d, TOWN))) == 6


async def test_concurrent_facts_on_postgresql_serialize(pair: Pair) -> None:
    """What SQLite's single writer gives by construction, PostgreSQL's SERIALIZABLE writes
    give across connections: a centre's last place goes once, a person is checked in once,
    and two assessments of one household make revisions 1 and 2 with one current."""
    pg = pair.pg
    d = await pg.declare("令和8年6月豪雨", "flood", date(2026, 6, 10), [TOWN], audit("disaster-declared", None))
    small = await pg.open_shelter(d, TOWN, "北山公民館", 1, audit("shelter-opened"))
    big = await pg.open_shelter(d, TOWN, "北山小学校", 100, audit("shelter-opened"))

    async def attempt(call: Awaitable[T]) -> T | str:
        try:
            return await call
        except Conflict as exc:
            return exc.message

    for _ in range(3):
        outcomes = await asyncio.gather(*(attempt(pg.check_in(small, TOWN, r, "card", audit("checked-in")))
                                          for r in ("10000000011", "10000000029")))
        assert sorted(type(o).__name__ for o in outcomes) == ["CheckIn", "str"], outcomes
        assert "is full (1 people)" in next(o for o in outcomes if isinstance(o, str))
        winner = next(o for o in outcomes if not isinstance(o, str))
        assert [p.resident_code for p in await pg.shelter_people(small)] == [winner.resident_code]  # type: ignore[union-attr]
        await pg.check_out(TOWN, winner.resident_code, "home", audit("checked-out"))  # type: ignore[union-attr]

        outcomes = await asyncio.gather(*(attempt(pg.check_in(s, TOWN, "10000000037", "hand", audit("checked-in")))
                                          for s in (small, big)))
        assert sorted(type(o).__name__ for o in outcomes) == ["CheckIn", "str"], outcomes
        assert "already checked in" in next(o for o in outcomes if isinstance(o, str))
        await pg.check_out(TOWN, "10000000037", "home", audit("checked-out"))

    await asyncio.gather(*(pg.assess(d, TOWN, "00000002", assessed(c), audit("assessed")) for c in ("全壊", "半壊")))
    history = await pg.assessment_history(d, TOWN, "00000002")
    assert [h.revision for h in history] == [1, 2] and [h.current for h in history] == [False, True]
    assert sum((await pg.state(d)).by_class.values()) == 1
