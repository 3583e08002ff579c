from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from datetime import date
from pathlib import Path

from bcl_console.config import load_settings
from bcl_console.demo.make import demo_service
from bcl_console.domain.codes import validate_municipality_code
from bcl_console.domain.kana import is_katakana
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.events import DemoCompleted, DemoProgress, Event
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, dump

TODAY = date(2026, 6, 17)


def rows(path: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def make(path: Path, seed: int, residents: int | None = None) -> Runtime:
    rt = Runtime(load_settings(str(path)), clock=FixedClock(TEST_NOW))
    await rt.start()
    await demo_service(rt).create(seed, residents=residents)
    await rt.stop()
    return rt


async def test_same_seed_same_data_other_seed_other_people(tmp_path: Path, demo_template: Path) -> None:
    await make(tmp_path / "a", 7)
    residents = [line for line in dump(tmp_path / "a" / "bcl.sqlite3") if "INSERT INTO \"residents\"" in line]
    template = [line for line in dump(demo_template / "bcl.sqlite3") if "INSERT INTO \"residents\"" in line]
    assert residents == template and len(residents) > 30_000
    await make(tmp_path / "b", 8)
    other = [line for line in dump(tmp_path / "b" / "bcl.sqlite3") if "INSERT INTO \"residents\"" in line]
    assert other != residents


def test_the_demo_has_every_kind_of_municipality(demo_template: Path) -> None:
    db = demo_template / "bcl.sqlite3"
    munis = rows(db, "SELECT * FROM municipalities")
    kinds = Counter(m["kind"] for m in munis)
    assert kinds["town"] >= 1 and kinds["village"] >= 1 and kinds["city"] >= 2
    assert {m["hosting"] for m in munis} == {"bcl", "own-server"}
    starts = [date.fromisoformat(m["service_start"]) for m in munis]
    assert any(s <= TODAY for s in starts) and any(s > TODAY for s in starts)
    for m in munis:
        validate_municipality_code(m["code"])
        assert m["code"].startswith("99"), "demo codes use the invented prefecture 99"


def test_demo_people_are_plausible(demo_template: Path) -> None:
    db = demo_template / "bcl.sqlite3"
    people = rows(db, "SELECT * FROM residents")
    assert len({p["resident_code"] for p in people}) == len(people)
    households: dict[tuple[str, str], list[sqlite3.Row]] = {}
    for p in people:
        assert len(p["resident_code"]) == 11 and p["resident_code"].isdigit()
        assert is_katakana(p["name_kana"]), p["name_kana"]
        assert len(p["name"].split(" ")) == 2 and len(p["name_kana"].split(" ")) == 2
        born = date.fromisoformat(p["birth_date"])
        assert date(1920, 1, 1) <= born < TODAY
        assert born <= date.fromisoformat(p["resident_since"]) <= TODAY
        assert p["sex"] in (1, 2)
        households.setdefault((p["municipality_code"], p["household_number"]), []).append(p)
    for members in households.values():
        relationships = Counter(m["relationship"] for m in members)
        assert relationships["世帯主"] == 1
        assert len({m["address"] for m in members}) == 1
        head = next(m for m in members if m["relationship"] == "世帯主")
        for child in (m for m in members if m["relationship"] == "子"):
            assert child["birth_date"] > head["birth_date"]
            assert child["name"].split(" ")[0] == head["name"].split(" ")[0]
    statuses = Counter(p["status"] for p in people)
    assert statuses["active"] > 0.95 * len(people)
    assert statuses["moved-out"] > 0 and statuses["deceased"] > 0
    assert sum(p["restricted"] for p in people) > 0
    assert sum(p["needs_evacuation_help"] for p in people) > 0


def test_demo_seals_and_taxes(demo_template: Path) -> None:
    db = demo_template / "bcl.sqlite3"
    seals = rows(db, "SELECT s.*, i.png FROM seals s JOIN seal_impressions i ON i.sha256 = s.impression_sha256")
    assert len(seals) > 1000
    assert all(bytes(s["png"][:8]) == b"\x89PNG\r\n\x1a\n" for s in seals[:50])
    taxes = rows(db, "SELECT * FROM taxes")
    assert {t["fiscal_year"] for t in taxes} == {2025, 2026}
    for t in taxes[:2000]:
        assert t["taxable_income"] <= t["total_income"]
        assert t["taxable_income"] % 1000 == 0
        if t["total_income"] <= 450_000:
            assert t["municipal_tax"] == 0 and t["prefectural_tax"] == 0
        else:
            assert t["municipal_tax"] >= 3000 and t["prefectural_tax"] >= 1000
    linked = rows(db, "SELECT municipality_code, sequence, source FROM linkage_batches")
    assert sorted((b["municipality_code"], b["sequence"], b["source"]) for b in linked) == [
        ("992054", 1, "demo"), ("992054", 2, "http"),  # the city's linkage agent sent its data for the test
        ("993611", 1, "demo"), ("994821", 1, "demo")]


async def test_progress_events_and_scaling(tmp_path: Path) -> None:
    rt = Runtime(load_settings(str(tmp_path / "d")), clock=FixedClock(TEST_NOW))
    await rt.start()
    events: list[Event] = []
    rt.bus.subscribe(events.append)
    try:
        summary = await demo_service(rt).create(3, residents=12_000)
        # the scaled city has exactly that many, the others their default sizes
        held = await rt.municipalities.held_counts()
        assert held["992054"].residents == 12_000
        assert summary.residents == 12_000 + 6_200 + 2_400
        await asyncio.sleep(0)  # let thread-safe progress callbacks land
        progress = [e for e in events if isinstance(e, DemoProgress) and e.step != "cards"]
        assert progress and progress[-1].done == progress[-1].total == summary.residents
        assert any(isinstance(e, DemoCompleted) for e in events)
        # recreating replaces everything rather than adding to it
        again = await demo_service(rt).create(3, residents=12_000)
        assert again.residents == summary.residents
        assert (await rt.municipalities.held_counts())["992054"].residents == 12_000
    finally:
        await rt.stop()
