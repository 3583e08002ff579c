"""The PostgreSQL store's municipalities, overview, monitor, manage, cards, job runs,
test stages and onboarding areas give what the SQLite store gives: each function runs on
both (a fresh SQLite file, a fresh PostgreSQL database) with the same inputs, and the
results, the errors and the rows written are compared."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bcl_console.domain.errors import Conflict, DomainError
from bcl_console.domain.municipality import (
    CertificateType,
    Hosting,
    Kind,
    Municipality,
    ServiceHours,
)
from bcl_console.domain.onboarding import Outcome, Stage
from bcl_console.services.onboarding.service import schedule_template
from bcl_console.store import cards as sq_cards
from bcl_console.store import jobs as sq_jobs
from bcl_console.store import manage as sq_manage
from bcl_console.store import monitor as sq_monitor
from bcl_console.store import municipalities as sq_munis
from bcl_console.store import onboarding as sq_onb
from bcl_console.store import overview as sq_overview
from bcl_console.store import teststages as sq_stages
from bcl_console.store.api import (
    AuditEntry,
    CardRecord,
    FeeControl,
    HoursControl,
    PlanRequest,
    SuspensionControl,
)
from bcl_console.store.db import Database
from bcl_console.store.pg import cards as pg_cards
from bcl_console.store.pg import jobs as pg_jobs
from bcl_console.store.pg import manage as pg_manage
from bcl_console.store.pg import monitor as pg_monitor
from bcl_console.store.pg import municipalities as pg_munis
from bcl_console.store.pg import onboarding as pg_onb
from bcl_console.store.pg import overview as pg_overview
from bcl_console.store.pg import teststages as pg_stages
from bcl_console.store.pg.audit import PgAudit
from bcl_console.store.pg.cards import PgCards
from bcl_console.store.pg.db import Conn, PgDatabase
from bcl_console.store.pg.jobs import PgScheduler
from bcl_console.store.pg.manage import PgManage
from bcl_console.store.pg.monitor import PgMonitor
from bcl_console.store.pg.municipalities import PgMunicipalities
from bcl_console.store.pg.onboarding import PgOnboarding
from bcl_console.store.pg.overview import PgOverview
from bcl_console.store.pg.teststages import PgTestStages
from bcl_console.store.teststages import SqliteTestStages
from tests.conftest import _migrated
from tests.pg import TestServer, to_postgres

AT = "2026-06-17T01:00:00.000000+00:00"
LATER = "2026-06-17T02:30:00.123456+00:00"


def at(hour: int, minute: int = 0) -> str:
    return f"2026-06-17T{hour:02d}:{minute:02d}:00.000000+00:00"


def audit(action: str, code: str | None = "011002", field: str | None = None, new: str | None = None,
          when: str = AT) -> AuditEntry:
    return AuditEntry(when, "tester", "cli", code, action, field, None, new)


def muni(code: str, name: str = "北山町", *, hosting: Hosting = Hosting.BCL, start: date | None = None,
         **kw: Any) -> Municipality:
    return Municipality(code, name, Kind.TOWN, 12000, hosting, server_url=None, service_start=start, **kw)


@dataclass
class Area:
    """One store area on both engines: ``write``/``read`` run the function of one name on
    each and return the result after checking they agree."""

    both: Both
    sq: ModuleType
    pg: ModuleType

    async def write(self, name: str, *args: Any) -> Any:
        a = await self.both.sq.write(getattr(self.sq, name), *args)
        b = await self.both.pg.write(getattr(self.pg, name), *args)
        assert a == b, name
        return a

    async def read(self, name: str, *args: Any) -> Any:
        a = await self.both.sq.read(getattr(self.sq, name), *args)
        b = await self.both.pg.read(getattr(self.pg, name), *args)
        assert a == b, name
        return a

    async def refused(self, name: str, *args: Any) -> DomainError:
        """Both refuse with the same error (type, sentence, field), having written nothing."""
        before = await self.both.tables()
        with pytest.raises(DomainError) as sq_err:
            await self.both.sq.write(getattr(self.sq, name), *args)
        with pytest.raises(DomainError) as pg_err:
            await self.both.pg.write(getattr(self.pg, name), *args)
        assert type(sq_err.value) is type(pg_err.value)
        assert str(sq_err.value) == str(pg_err.value)
        assert sq_err.value.field == pg_err.value.field
        assert await self.both.tables() == before
        return sq_err.value


#: What each area writes, compared row by row after the writes (columns in a fixed order).
TABLES = {
    "municipalities": "code, name, kind, population, hosting, server_url, service_start, hours_open, hours_close, "
                      "suspended, suspension_reason, created_at, prefecture, mayor",
    "municipality_fees": "municipality_code, cert_type, yen",
    "audit_log": "id, at, actor, interface, municipality_code, action, field, old_value, new_value",
    "cards": "serial, municipality_code, resident_code, not_before, not_after, issued_at, revoked_at",
    "job_runs": "id, job, started_at, finished_at, outcome, detail",
    "onboarding_plans": "municipality_code, service_start, made_on, offers_seal, template_version, created_at, "
                        "created_by, override_reason, override_by, override_at",
    "onboarding_steps": "municipality_code, step_key, seq, phase, title_ja, title_en, starts_on, due_on, stage, "
                        "operation_checklist, fits, done_on, done_by, note, reminded",
    "stage_runs": "id, municipality_code, stage, started_at, finished_at, outcome, reason, evidence, log, run_by, "
                  "confirmed_by, confirmed_at, confirm_note",
    "onboarding_reminders": "id, at, municipality_code, step_key, kind, due_on",
    "failure_drills": "municipality_code, started_at",
}


@dataclass
class Both:
    sq: Database
    pg: PgDatabase

    def area(self, sq: ModuleType, pg: ModuleType) -> Area:
        return Area(self, sq, pg)

    async def execute(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Test data written the same on both (``?`` placeholders)."""
        def sq_run(conn: sqlite3.Connection) -> None:
            conn.executemany(sql, rows)

        async def pg_run(conn: Conn) -> None:
            await conn.executemany(to_postgres(sql), rows)

        await self.sq.write(sq_run)
        await self.pg.write(pg_run)

    async def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the compared tables, asserting both engines hold the same."""
        out = {}
        for table, columns in TABLES.items():
            sql = f"SELECT {columns} FROM {table}"  # noqa: S608 - the constant names above

            def sq_rows(conn: sqlite3.Connection, sql: str = sql) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in conn.execute(sql)]

            async def pg_rows(conn: Conn, sql: str = sql) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in await conn.fetch(sql)]

            # In the order of the first two columns, compared in Python (ids as numbers, text
            # by code point), so that neither engine's collation decides it.
            a = sorted(await self.sq.read(sq_rows), key=lambda r: (r[0], r[1]))
            b = sorted(await self.pg.read(pg_rows), key=lambda r: (r[0], r[1]))
            assert a == b, table
            out[table] = a
        return out


@pytest.fixture
async def both(tmp_path: Path, pg_server: TestServer) -> AsyncIterator[Both]:
    sq = Database(tmp_path / "bcl.sqlite3")
    await sq.open()
    pg = PgDatabase(pg_server.fresh(pg_server.template_of("bcl_empty", _migrated)), pool_size=2)
    await pg.open()
    try:
        yield Both(sq, pg)
    finally:
        await pg.close()
        await sq.close()


async def registered(both: Both, *ms: Municipality) -> None:
    munis = both.area(sq_munis, pg_munis)
    for m in ms:
        await munis.write("add_municipality", m, audit("register", m.code))


# -- municipalities ---------------------------------------------------------------------------


async def test_municipalities_registration_listing_and_controls_match(both: Both) -> None:
    munis = both.area(sq_munis, pg_munis)
    fees = await munis.write("add_municipality", muni("011002", start=date(2026, 4, 1), prefecture="北海道"),
                             audit("register"))
    assert fees[CertificateType.RESIDENCE] > 0
    await munis.write("add_municipality", muni("011001", "桜川村", hosting=Hosting.OWN_SERVER), audit("register"))
    err = await munis.refused("add_municipality", muni("011002"), audit("register"))
    assert "already registered" in str(err)

    assert [m.code for m, _ in await munis.read("municipalities_with_fees")] == ["011001", "011002"]
    assert await munis.read("municipality_with_fees", "999999") is None
    assert await munis.read("municipality_exists", "011001") is True
    assert await munis.read("municipality_exists", "999999") is False
    assert await munis.read("count_municipalities") == 2

    hours = HoursControl(ServiceHours("07:00", "22:00"))
    assert await munis.write("change_control", "011002", hours, audit("hours", field="hours", new="07:00-22:00"))
    assert not await munis.write("change_control", "011002", hours,
                                 audit("hours", field="hours", new="07:00-22:00"))
    stop = SuspensionControl(True, "system maintenance")
    assert await munis.write("change_control", "011002", stop,
                             audit("suspend", field="suspended", new="suspended: system maintenance"))
    fee = FeeControl(CertificateType.TAX, 150)
    assert await munis.write("change_control", "011002", fee, audit("fee", field="fee.tax", new="150"))
    assert await munis.write("change_control", "011002", FeeControl(CertificateType.TAX, 250),
                             audit("fee", field="fee.tax", new="250"))
    await munis.refused("change_control", "999999", fee, audit("fee", "999999", "fee.tax", "150"))
    await munis.write("set_service_start", "011001", date(2026, 10, 1))

    m, got = await munis.read("municipality_with_fees", "011002")
    assert (m.hours, m.suspended, got[CertificateType.TAX]) == (ServiceHours("07:00", "22:00"), True, 250)
    assert (await munis.read("get_municipality", "011001")).service_start == date(2026, 10, 1)
    tables = await both.tables()
    assert [r[5] for r in tables["audit_log"]] == ["register", "register", "hours", "suspend", "fee", "fee"]
    assert tables["audit_log"][-1][7:] == ("150", "250")


async def test_a_municipality_s_go_live_facts_match(both: Both) -> None:
    munis = both.area(sq_munis, pg_munis)
    await registered(both, muni("011002"), muni("011003", "南町"))
    await both.execute("INSERT INTO onboarding_plans (municipality_code, service_start, made_on, offers_seal, "
                       "template_version, created_at, created_by, override_reason) VALUES (?,?,?,?,?,?,?,?)",
                       [("011002", "2026-10-01", "2026-06-01", 1, 1, AT, "tester", None),
                        ("011003", "2026-10-01", "2026-06-01", 1, 1, AT, "tester", "the mayor decided")])
    await both.execute("INSERT INTO stage_runs (municipality_code, stage, started_at, outcome, run_by) "
                       "VALUES (?,?,?,?,?)",
                       [("011002", "linkage", AT, "passed", "t"), ("011002", "stage1", AT, "passed", "t"),
                        ("011002", "stage1", LATER, "failed", "t"), ("011002", "stage2", AT, "not-required", "t")])
    await both.execute("INSERT INTO failure_drills (municipality_code, started_at) VALUES (?,?)",
                       [("011003", AT)])
    assert await munis.read("passed_stage_set", "011002") == {Stage.LINKAGE, Stage.STAGE2}
    listed = await munis.read("list_municipalities")
    assert listed[0].awaiting_stages and not listed[1].awaiting_stages
    assert (listed[0].failure_drill, listed[1].failure_drill) == (False, True)


# -- manage -----------------------------------------------------------------------------------

_ISSUANCE = ("INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, fee, "
             "state, created_at, issued_at, completed_at, voided_at, certificate_number) "
             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")


def issuance(n: int, code: str, created: str, *, type_: str = "residence", channel: str = "store",
             state: str = "completed", operator: str | None = "seven") -> tuple[Any, ...]:
    done = None if state in ("pending", "issued") else created
    return (f"req-{n:04d}", type_, code, f"{n:011d}", channel, operator, 300, state, created,
            None if state == "pending" else created, done if state == "completed" else None,
            done if state == "voided" else None, None if state == "pending" else f"2026-{n:06d}")


async def test_a_day_of_issuances_pages_and_counts_match(both: Both) -> None:
    await registered(both, muni("011002"), muni("011003"))
    rows = [issuance(1, "011002", at(0, 30)), issuance(2, "011002", at(1), type_="tax"),
            issuance(3, "011002", at(1), channel="counter", operator=None),
            issuance(4, "011002", at(2), state="voided"), issuance(5, "011002", at(3), state="pending"),
            issuance(6, "011003", at(1)), issuance(7, "011002", "2026-06-18T01:00:00.000000+00:00"),
            issuance(8, "011002", "2026-06-16T23:59:59.999999+00:00", type_="seal")]
    await both.execute(_ISSUANCE, rows)
    manage = both.area(sq_manage, pg_manage)
    day = ("2026-06-17T00:00:00.000000+00:00", "2026-06-18T00:00:00.000000+00:00")
    full = await manage.read("day_issuances", "011002", *day, 100, 0)
    assert [i.request_id for i in full.rows] == ["req-0001", "req-0002", "req-0003", "req-0004", "req-0005"]
    assert full.total == 5 and len(full.counts) == 5
    page = await manage.read("day_issuances", "011002", *day, 2, 2)
    assert [i.request_id for i in page.rows] == ["req-0003", "req-0004"]
    assert (await manage.read("day_issuances", "011009", *day, 10, 0)).total == 0
    assert (await PgManage(both.pg).day_issuances("011002", *day, 2, 2)) == page


# -- cards ------------------------------------------------------------------------------------


def card(serial: str, resident: str, code: str = "011002") -> CardRecord:
    return CardRecord(serial, code, resident, AT, "2031-06-17T01:00:00.000000+00:00", AT, None)


async def test_cards_record_revoke_and_holders_match(both: Both) -> None:
    await registered(both, muni("011002"))
    cards = both.area(sq_cards, pg_cards)
    await cards.write("record_cards", [card("0a", "00000000003"), card("0b", "00000000001"),
                                       card("0c", "00000000003"), card("0d", "00000000002")], None)
    await cards.write("record_cards", [card("0e", "00000000009", "011003")],
                      audit("card-issue", "011003", "serial", "0e"))
    assert await cards.read("get_card", "0b") == card("0b", "00000000001")
    assert await cards.read("get_card", "ff") is None
    await cards.write("revoke", "0d", audit("card-revoke", None, "serial", "0d", LATER))
    await cards.write("revoke", "0d", audit("card-revoke", None, "serial", "0d", LATER))  # audited once
    err = await cards.refused("revoke", "ff", audit("card-revoke", None, "serial", "ff"))
    assert err.field == "card"
    assert (await cards.read("get_card", "0d")).revoked_at == LATER
    assert await cards.read("card_residents", "011002", 10) == ["00000000001", "00000000003"]
    assert await cards.read("card_residents", "011002", 1) == ["00000000001"]
    tables = await both.tables()
    assert [(r[4], r[5]) for r in tables["audit_log"]] == [("011002", "register"), ("011003", "card-issue"),
                                                            ("011002", "card-revoke")]
    store = PgCards(both.pg)
    assert await store.municipality_exists("011002") and not await store.municipality_exists("011003")
    assert await store.card("0d") == await cards.read("get_card", "0d")
    assert await store.card_residents("011002", 5) == ["00000000001", "00000000003"]


# -- job runs ---------------------------------------------------------------------------------


async def test_job_runs_match(both: Both) -> None:
    jobs = both.area(sq_jobs, pg_jobs)
    first = await jobs.write("start_job", "backup", AT)
    second = await jobs.write("start_job", "reminders", AT)
    assert (first, second) == (1, 2)
    await jobs.write("finish_job", first, LATER, "ok", "3 files")
    await jobs.write("finish_job", second, LATER, "failed", "the disk is full")
    third = await jobs.write("start_job", "backup", LATER)
    runs = await jobs.read("job_runs", 50)
    assert [(r.id, r.outcome) for r in runs] == [(third, "running"), (2, "failed"), (1, "ok")]
    assert runs[0].finished_at is None and runs[2].finished_at == LATER
    assert [r.id for r in await jobs.read("job_runs", 2)] == [third, 2]
    scheduler = PgScheduler(both.pg)
    run = await scheduler.start_job("settle", LATER)
    await scheduler.finish_job(run, LATER, "ok", "")
    assert (await scheduler.job_runs(1))[0] == type(runs[0])(run, "settle", LATER, LATER, "ok", "")
    munis = PgMunicipalities(both.pg)
    assert await munis.municipalities_with_fees() == []


# -- onboarding -------------------------------------------------------------------------------

TODAY = date(2026, 6, 17)


def plan_request(code: str, start: date, *, replace: bool = False, seal: bool = True) -> PlanRequest:
    return PlanRequest(code, start, TODAY, seal, replace, schedule_template())


async def test_plans_are_made_replanned_and_listed_alike(both: Both) -> None:
    await registered(both, muni("011002"), muni("011003", hosting=Hosting.OWN_SERVER),
                     muni("011004", start=date(2026, 4, 1)), muni("011005"))
    onb = both.area(sq_onb, pg_onb)
    await onb.write("make_plan", plan_request("011002", date(2026, 11, 1)), audit("plan", "011002"))
    await onb.write("make_plan", plan_request("011003", date(2026, 10, 1), seal=False), audit("plan", "011003"))
    assert "already has a plan" in str(await onb.refused("make_plan", plan_request("011002", date(2026, 12, 1)),
                                                         audit("plan")))
    assert "in service" in str(await onb.refused("make_plan", plan_request("011004", date(2026, 12, 1)),
                                                 audit("plan", "011004")))
    await onb.refused("make_plan", plan_request("999999", date(2026, 12, 1)), audit("plan", "999999"))
    await onb.refused("make_plan", plan_request("011005", TODAY), audit("plan", "011005"))

    await onb.write("tick_step", "011002", "materials-request", schedule_template(), TODAY, "sent",
                    audit("step", "011002", "step", "materials-request"))
    for step in ("materials-request", "linkage-test", "service-start", "no-such-step"):
        await onb.refused("tick_step", "011002", step, schedule_template(), TODAY, None, audit("step"))
    await onb.refused("tick_step", "011005", "budget", schedule_template(), TODAY, None, audit("step", "011005"))
    await onb.write("make_plan", plan_request("011002", date(2026, 12, 1), replace=True), audit("plan"))

    record = await onb.read("plan_record", "011002")
    assert record.plan.service_start == date(2026, 12, 1)
    assert [s.done_by for s in record.steps if s.done_on] == ["tester"]
    assert await onb.read("plan_record", "011005") is None
    await onb.refused("plan_record", "999999")
    everything = await onb.read("plans_of_all")
    assert [(m.code, p is not None, len(s) > 0) for m, p, s in everything] == [
        ("011002", True, True), ("011003", True, True), ("011004", False, False), ("011005", False, False)]
    assert await onb.read("list_plans") == [everything[1][1], everything[0][1]]  # by service start

    await onb.write("override", "011003", "the mayor decided", audit("override", "011003", new="the mayor decided"))
    await onb.write("override", "011003", None, audit("override", "011003", when=LATER))
    await onb.refused("override", "011005", "x", audit("override", "011005"))
    assert await onb.write("set_override", "011002", "why", "tester", AT) is True
    assert await onb.write("set_override", "011005", "why", "tester", AT) is False
    assert await onb.write("mark_step_done", "011002", "budget", TODAY, "tester", None) is True
    assert await onb.write("mark_step_done", "011002", "budget", TODAY, "tester", None) is False
    tables = await both.tables()
    assert [r[5] for r in tables["audit_log"][4:]] == ["plan", "plan", "step", "replan", "override", "override"]
    assert tables["audit_log"][-1][7] == "the mayor decided"

    store = PgOnboarding(both.pg)
    assert await store.plan_record("011002") == await onb.read("plan_record", "011002")
    assert await store.plans_of_all() == await onb.read("plans_of_all")


async def test_reminders_are_given_once_per_kind_alike(both: Both) -> None:
    await registered(both, muni("011002"), muni("011003"))
    onb = both.area(sq_onb, pg_onb)
    await onb.write("make_plan", plan_request("011002", date(2026, 10, 1)), audit("plan", "011002"))
    await onb.write("make_plan", plan_request("011003", date(2026, 11, 15)), audit("plan", "011003"))
    await onb.write("tick_step", "011002", "budget", schedule_template(), TODAY, None, audit("step"))
    given = await onb.write("mark_reminders", date(2026, 7, 1), AT)
    assert given and all(kind in ("due", "late") for _, _, kind in given)
    assert ("011002", "budget", "late") not in given
    assert await onb.write("mark_reminders", date(2026, 7, 1), AT) == []
    later = await onb.write("mark_reminders", date(2026, 8, 20), LATER)
    assert later
    await onb.write("tick_step", "011002", "materials-request", schedule_template(), TODAY, None, audit("step"))
    recent = await onb.read("recent_reminders", 5)
    assert len(recent) == 5 and recent[0].at == LATER
    assert all(r.step_key != "materials-request" or r.municipality_code != "011002"
               for r in await onb.read("recent_reminders", 500))
    assert await PgOnboarding(both.pg).mark_reminders(date(2026, 8, 20), LATER) == []
    assert await PgOnboarding(both.pg).recent_reminders(5) == recent
    await both.tables()


async def test_stage_runs_and_drills_match(both: Both) -> None:
    await registered(both, muni("011002"))
    onb = both.area(sq_onb, pg_onb)
    await onb.write("make_plan", plan_request("011002", date(2026, 10, 1)), audit("plan", "011002"))
    first = await onb.write("start_run", "011002", Stage.STAGE1, AT, "tester")
    second = await onb.write("start_run", "011002", Stage.STAGE3, AT, "tester")
    await onb.write("finish_run", first, LATER, Outcome.PASSED, "all good", {"checked": ["a", "b"], "n": 2},
                    "log text")
    await onb.write("finish_run", second, LATER, Outcome.AWAITING_CONFIRMATION, "look at it", {}, "")
    await onb.write("mark_stage_step_done", "011002", Stage.STAGE1, TODAY, f"stage run {first} passed")
    assert await onb.write("confirm_run", first, LATER, "chief", None) is False
    assert await onb.write("confirm_run", second, LATER, "chief", "fine") is True
    third = await onb.write("start_run", "011002", Stage.STAGE1, LATER, "tester")
    assert await onb.read("get_run", second) == (await onb.read("runs", "011002"))[1]
    assert await onb.read("get_run", 999) is None
    latest = await onb.read("latest_runs", "011002")
    assert (latest[Stage.STAGE1].id, latest[Stage.STAGE3].outcome) == (third, Outcome.PASSED)
    assert await onb.read("passed_stage_set", "011002") == {Stage.STAGE3}
    await onb.write("start_drill", "011002", AT)
    await onb.write("start_drill", "011002", LATER)
    assert (await both.tables())["failure_drills"] == [("011002", LATER)]
    await onb.write("end_drill", "011002")
    assert (await both.tables())["failure_drills"] == []


# -- overview, monitor and test stages (they read the residents', linkage and issuance areas) ---


def resident(code: str, n: int, household: str, status: str = "active", restricted: int = 0) -> tuple[Any, ...]:
    return (code, f"{n:011d}", household, f"住民{n}", "ジュウミン", "1980-01-01", 1, "世帯主", "北山町1-1",
            "2000-01-01", status, restricted)


async def held(both: Both) -> None:
    """Residents, seals, taxes, linkage batches and backups of two municipalities."""
    await both.execute("INSERT INTO residents (municipality_code, resident_code, household_number, name, name_kana, "
                       "birth_date, sex, relationship, address, resident_since, status, restricted) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       [resident("011002", 5, "h1"), resident("011002", 3, "h1"), resident("011002", 4, "h2"),
                        resident("011002", 2, "h3", "moved-out"), resident("011002", 1, "h4", restricted=1),
                        resident("011003", 9, "h9")])
    await both.execute("INSERT INTO seal_impressions (sha256, png) VALUES (?,?)", [("ab" * 32, b"\x89PNG")])
    await both.execute("INSERT INTO seals (municipality_code, resident_code, seal_number, registered_on, status, "
                       "impression_sha256) VALUES (?,?,?,?,?,?)",
                       [("011002", f"{4:011d}", "S1", "2010-01-01", "active", "ab" * 32)])
    await both.execute("INSERT INTO taxes (municipality_code, resident_code, fiscal_year, total_income, "
                       "salary_income, deductions, taxable_income, municipal_tax, prefectural_tax) "
                       "VALUES (?,?,?,?,?,?,?,?,?)",
                       [("011002", f"{5:011d}", 2025, 1, 1, 0, 1, 0, 0), ("011002", f"{5:011d}", 2024, 1, 1, 0, 1, 0, 0),
                        ("011002", f"{4:011d}", 2025, 1, 1, 0, 1, 0, 0)])
    await both.execute("INSERT INTO linkage_batches (municipality_code, sequence, kind, created_at, received_at, "
                       "source, outcome, counts) VALUES (?,?,?,?,?,?,?,?)",
                       [("011002", 1, "full", "2026-06-01T00:00:00+09:00", at(0), "sftp", "applied", '{"r": 5}'),
                        ("011002", 2, "delta", None, at(1), "sftp", "applied", "{}"),
                        ("011002", 3, "delta", None, at(2), "sftp", "rejected", "{}"),
                        ("011003", 1, "full", None, at(3), "upload", "applied", "{}")])
    await both.execute("INSERT INTO linkage_backups (municipality_code, sequence, kind, path, size, created_at) "
                       "VALUES (?,?,?,?,?,?)", [("011002", 2, "delta", "b/2", 10, at(1)),
                                                ("011002", 1, "full", "b/1", 99, at(0))])


async def test_the_overview_matches(both: Both) -> None:
    await registered(both, muni("011002"), muni("011003"), muni("011001"))
    await held(both)
    records = await both.area(sq_overview, pg_overview).read("overview")
    assert [m.code for m in records.municipalities] == ["011001", "011002", "011003"]
    assert (records.held["011002"].residents, records.held["011002"].active) == (5, 4)
    assert (records.held["011002"].households, records.held["011002"].seals) == (4, 1)
    assert records.last_linkage["011002"].sequence == 2 and "011001" not in records.last_linkage
    assert await PgOverview(both.pg).overview() == records


async def test_the_monitor_matches(both: Both) -> None:
    await registered(both, muni("011002"), muni("011003"))
    await both.execute(_ISSUANCE, [issuance(1, "011002", at(0, 30)), issuance(2, "011003", at(1), type_="tax"),
                                   issuance(3, "011002", at(1), channel="counter", operator=None),
                                   issuance(4, "011002", at(2), state="voided"),
                                   issuance(5, "011002", at(3), state="pending"),
                                   issuance(6, "011002", at(1), type_="seal", state="issued"),
                                   issuance(7, "011002", "2026-06-16T10:00:00.000000+00:00")])
    await both.execute("INSERT INTO relay_refusals (at, operator, municipality_code, reason) VALUES (?,?,?,?)",
                       [(at(1), "seven", "011002", "closed"), (at(2), "seven", "011002", "suspended"),
                        (at(3), None, None, "closed"), ("2026-06-16T10:00:00.000000+00:00", None, None, "bad")])
    monitor = both.area(sq_monitor, pg_monitor)
    since = "2026-06-17T00:00:00.000000+00:00"
    records = await monitor.read("monitor_records", 4, since)
    assert [f.request_id for f in records.feed] == ["req-0007", "req-0006", "req-0005", "req-0004"]
    assert len(records.counts) == 6 and sum(n for *_, n in records.counts) == 6
    assert records.refusals == [("closed", 2), ("suspended", 1)]
    assert await PgMonitor(both.pg).monitor(4, since) == records


async def test_the_test_stages_facts_and_reads_match(both: Both) -> None:
    await registered(both, muni("011002"), muni("011003"))
    await held(both)
    onb = both.area(sq_onb, pg_onb)
    stages = both.area(sq_stages, pg_stages)
    await onb.write("make_plan", plan_request("011002", date(2026, 10, 1)), audit("plan", "011002"))
    run = await onb.write("start_run", "011002", Stage.LINKAGE, AT, "tester")
    await stages.write("finish_run", run, "011002", Stage.LINKAGE, Outcome.PASSED, "ok", {"a": 1}, "log", TODAY,
                       audit("teststage", "011002", "linkage", "passed", LATER))
    run3 = await onb.write("start_run", "011002", Stage.STAGE3, AT, "tester")
    await stages.refused("confirm", "011002", Stage.STAGE2, None, TODAY, audit("confirm"))
    await stages.refused("confirm", "011002", Stage.STAGE3, None, TODAY, audit("confirm"))  # still running
    await stages.write("finish_run", run3, "011002", Stage.STAGE3, Outcome.AWAITING_CONFIRMATION, "look", {}, "",
                       TODAY, audit("teststage", "011002", "stage3", "awaiting-confirmation"))
    assert await stages.write("confirm", "011002", Stage.STAGE3, "read it", TODAY, audit("confirm", when=LATER)) == run3
    await stages.refused("confirm", "011002", Stage.STAGE3, None, TODAY, audit("confirm"))  # passed already
    tables = await both.tables()
    done = {r[1]: r[13] for r in tables["onboarding_steps"] if r[0] == "011002" and r[11] is not None}
    assert done == {"linkage-test": f"stage run {run} passed", "stage3-test": f"stage run {run3} confirmed by tester"}

    sq, pg = SqliteTestStages(both.sq), PgTestStages(both.pg)
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("municipality", ("011002",)), ("municipality", ("999999",)), ("municipality_exists", ("011003",)),
        ("plan", ("011002",)), ("plan", ("011003",)), ("plan_steps", ("011002",)), ("passed_stages", ("011002",)),
        ("runs", ("011002",)), ("run", (run3,)), ("run", (999,)), ("batches", ("011002", 2)),
        ("backups", ("011002",)), ("last_applied_sequence", ("011002",)), ("last_applied_sequence", ("011001",)),
        ("held_counts", ()), ("resident_values", ("011002", [f"{5:011d}", f"{1:011d}", f"{8:011d}"])),
        ("test_residents", ("011002", 10)), ("test_residents", ("011002", 1)),
        ("latest_tax_year", ("011002", f"{5:011d}")), ("latest_tax_year", ("011002", f"{3:011d}"))]
    for name, args in calls:
        assert await getattr(sq, name)(*args) == await getattr(pg, name)(*args), name
    assert await pg.test_residents("011002", 10) == [f"{4:011d}", f"{5:011d}", f"{3:011d}"]
    for s in (sq, pg):
        new = await s.start_run("011003", Stage.LINKAGE, LATER, "tester")
        await s.finish_run(new, "011003", Stage.LINKAGE, Outcome.FAILED, "no batch", {}, "", TODAY,
                           audit("teststage", "011003"))
        await s.start_drill("011003", AT)
    assert (await both.tables())["failure_drills"] == [("011003", AT)]
    for s in (sq, pg):
        await s.end_drill("011003")
    assert (await both.tables())["failure_drills"] == []


# -- several workers at once (PostgreSQL only: SQLite has one writer) ---------------------------


async def test_concurrent_facts_on_postgresql_happen_once(both: Both) -> None:
    """Workers racing on one fact: SERIALIZABLE (and its retries) leaves the result of one
    after the other — one registration, one revocation audited, each reminder given once."""
    wide = PgDatabase(both.pg.url, pool_size=8)
    await wide.open()
    try:
        outcomes = await asyncio.gather(
            *(PgMunicipalities(wide).add_municipality(muni("011002"), audit("register")) for _ in range(8)),
            return_exceptions=True)
        assert sum(isinstance(o, dict) for o in outcomes) == 1
        assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, dict))

        onb = PgOnboarding(wide)
        await onb.make_plan(plan_request("011002", date(2026, 10, 1)), audit("plan"))
        given = await asyncio.gather(*(onb.mark_reminders(date(2026, 7, 1), AT) for _ in range(6)))
        alone = await both.sq.write(sq_munis.add_municipality, muni("011002"), audit("register"))
        assert alone == next(o for o in outcomes if isinstance(o, dict))
        await both.sq.write(sq_onb.make_plan, plan_request("011002", date(2026, 10, 1)), audit("plan"))
        assert sorted(g for run in given for g in run) == sorted(
            await both.sq.write(sq_onb.mark_reminders, date(2026, 7, 1), AT))

        cards = PgCards(wide)
        await cards.record_cards([card("0a", "00000000001")], None)
        await asyncio.gather(*(cards.revoke_card("0a", audit("card-revoke", None, when=LATER)) for _ in range(6)))
        ids = await asyncio.gather(*(PgScheduler(wide).start_job("backup", AT) for _ in range(10)))
        assert sorted(ids) == list(range(1, 11))
        revoked = [e for e in await PgAudit(wide).audit_trail() if e.action == "card-revoke"]
        assert len(revoked) == 1 and revoked[0].municipality_code == "011002"
    finally:
        await wide.close()
