"""A year-end close that does not rewrite the year (migration 21): the year's own rows are
not written by the close, late events and voids after it are told apart exactly (even at
the same clock second) and counted once, closing twice changes nothing, and a database
closed under the old scheme (every row marked by its close) keeps its answers."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bcl_console.config import load_settings
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store.db import LATEST_VERSION
from tests.conftest import execute, query
from tests.services.test_settlement import OP, TOWN, VILLAGE, at, centre, put

__all__ = ["centre"]  # the fixture, shared with the settlement tests


def town(doc: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in doc["municipalities"] if m["code"] == TOWN)


def years(db: Path) -> dict[str, tuple[int | None, int | None]]:
    """request id → (settled_year, void_settled_year)."""
    return {r[0]: (r[1], r[2]) for r in query(db, "SELECT request_id, settled_year, void_settled_year FROM issuances")}


def rows(db: Path) -> list[tuple[Any, ...]]:
    return query(db, "SELECT * FROM issuances ORDER BY id")


async def test_the_close_writes_none_of_the_years_rows_and_closing_twice_changes_nothing(
    centre: Runtime, db_dump: Callable[[Path], list[str]]
) -> None:
    rt, db = centre, centre.settings.db_path
    for i in range(5):
        await put(rt, f"own-{i}", f"2025-{i + 5:02d}-10T10:00:00", copies=1 + i % 2)
    await put(rt, "v", "2025-08-01T10:00:00", code=VILLAGE, operator="ローソム")
    await put(rt, "next", "2026-04-02T10:00:00")  # fiscal year 2026, still open
    # the statement that counts a row is known as soon as it is billable
    assert years(db)["own-0"] == (2025, None) and years(db)["next"] == (2026, None)
    open_doc = await rt.settlement.settle(2025)
    before = rows(db)
    first = await rt.settlement.settle(2025, close=True, actor=OP)
    assert rows(db) == before  # not one issuance row written by the close
    assert first["closed"] is True and first["totals"]["billable"] == 8
    assert {k: v for k, v in first.items() if k not in ("closed", "closed_at")} == {
        k: v for k, v in open_doc.items() if k != "closed"}
    dumped = db_dump(db)
    second = await rt.settlement.settle(2025, close=True, actor=OP)
    assert json.dumps(second, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert db_dump(db) == dumped
    # a counted row is frozen: a later change to it moves nothing into another statement
    await execute(rt, "UPDATE issuances SET fee = 900 WHERE request_id = 'own-0'")
    assert years(db)["own-0"] == (2025, None)
    assert town(await rt.settlement.settle(2026))["adjustments"]["billable"] == 0
    assert await rt.settlement.settle(2025) == first


async def test_late_events_after_a_close_are_counted_once_by_the_next_statement(centre: Runtime) -> None:
    rt, db = centre, centre.settings.db_path
    await put(rt, "a", "2025-10-05T10:00:00")
    await put(rt, "waiting", "2025-12-01T10:00:00", state="awaiting_payment")  # not billable yet
    await execute(rt, "UPDATE issuances SET issued_at = NULL WHERE request_id = 'waiting'")
    closed = await rt.settlement.settle(2025, close=True, actor=OP)
    assert closed["totals"]["billable"] == 1
    # after the close, at the very clock second of the close: a late insert, and an older
    # row that becomes billable by an update with an issued_at in the closed year
    await put(rt, "late", "2026-02-01T10:00:00", copies=2, fee=600)
    await execute(rt, "UPDATE issuances SET state = 'printed', issued_at = ? WHERE request_id = 'waiting'",
                  "2026-03-01T01:00:00+00:00")
    assert years(db)["late"] == (None, None) and years(db)["waiting"] == (None, None)
    assert await rt.settlement.settle(2025) == closed  # frozen
    fy26 = await rt.settlement.settle(2026)
    adj = town(fy26)["adjustments"]
    assert (adj["billable"], adj["fees_collected"], adj["from_fiscal_years"]) == (3, 900, [2025])
    assert town(fy26)["billable"] == 0  # not the new year's own issuances
    assert {o["operator"]: o["adjustment_billable"] for o in fy26["operators"]} == {"セブンマート": 3}

    rt.clock.set(at("2027-04-01T02:00:00"))  # type: ignore[attr-defined]
    await put(rt, "own26", "2026-05-01T10:00:00")
    closed26 = await rt.settlement.settle(2026, close=True, actor=OP)
    assert town(closed26)["billable"] == 1 and town(closed26)["adjustments"]["billable"] == 3
    assert years(db)["late"] == (2026, None) and years(db)["waiting"] == (2026, None)
    # later still: one more late event of 2025 and one of 2026, for the 2027 statement only
    await put(rt, "later25", "2026-03-31T23:59:00")
    await put(rt, "later26", "2027-03-31T23:59:00")
    assert await rt.settlement.settle(2026) == closed26
    fy27 = await rt.settlement.settle(2027)
    assert town(fy27)["adjustments"]["billable"] == 2
    assert town(fy27)["adjustments"]["from_fiscal_years"] == [2025, 2026]
    assert years(db)["own26"] == (2026, None)


async def test_voids_after_a_close_are_taken_back_once(centre: Runtime) -> None:
    rt, db = centre, centre.settings.db_path
    await put(rt, "a", "2025-10-05T10:00:00", state="issued")
    await put(rt, "b", "2025-10-06T10:00:00", state="issued")
    await put(rt, "c", "2025-10-07T10:00:00")
    # b's print fails before the close: never counted, so never taken back
    assert asdict(await rt.relay.complete("セブンマート", "b", printed=False)) == {"status": "voided", "refunded": 300}
    assert years(db)["b"] == (None, None)
    closed = await rt.settlement.settle(2025, close=True, actor=OP)
    assert town(closed)["billable"] == 2
    # a's print fails after the close (same clock second): taken back by the next year
    assert (await rt.relay.complete("セブンマート", "a", printed=False)).status == "voided"
    # a late event that fails before any statement counted it: neither counted nor taken back
    await put(rt, "late", "2026-01-10T10:00:00", state="issued")
    assert (await rt.relay.complete("セブンマート", "late", printed=False)).status == "voided"
    assert years(db)["late"] == (None, None)
    fy26 = await rt.settlement.settle(2026)
    adj = town(fy26)["adjustments"]
    assert (adj["billable"], adj["fees_collected"], adj["from_fiscal_years"]) == (-1, -300, [2025])
    rt.clock.set(at("2027-04-01T02:00:00"))  # type: ignore[attr-defined]
    assert town(await rt.settlement.settle(2026, close=True, actor=OP))["adjustments"]["billable"] == -1
    assert years(db) == {"a": (2025, 2026), "b": (None, None), "c": (2025, None), "late": (None, None)}
    assert (await rt.settlement.settle(2027))["totals"]["adjustment_billable"] == 0  # once, not again


# -- a database closed under the old scheme (bcl-console up to schema version 20) ---------------


def old_close(conn: sqlite3.Connection, fiscal_year: int) -> None:
    """A close as versions up to 20 made it: the statement stored, then every billable row
    the statement counted marked settled, its key cleared, and the voids taken back marked."""
    closed = [int(r[0]) for r in conn.execute("SELECT fiscal_year FROM settlements")]
    conn.execute("INSERT INTO settlements (fiscal_year, closed_at, document) VALUES (?, ?, ?)",
                 (fiscal_year, "2026-04-01T02:00:00+09:00", json.dumps({"fiscal_year": fiscal_year, "old": True})))
    for year in {fiscal_year, *(y for y in closed if y < fiscal_year)}:
        conn.execute("UPDATE issuances SET settled_year = ?, settle_year = NULL, settle_key = NULL "
                     "WHERE settle_year = ?", (fiscal_year, year))
    conn.execute(
        "UPDATE issuances SET void_settled_year = ? WHERE settled_year IS NOT NULL AND settled_year < ? "
        "AND state = 'voided' AND void_settled_year IS NULL", (fiscal_year, fiscal_year))


async def old_centre(data: Path) -> None:
    """FY2025 closed under the old scheme, then late events, a void of a counted row, a void
    of an uncounted one and FY2026's own issuances, all before the upgrade."""
    rt = Runtime(load_settings(str(data)), clock=FixedClock(at("2026-06-01T10:00:00")))
    await rt.start(target_version=20)
    try:
        await rt.municipalities.add(code=TOWN, name="北山町", kind="town", population=8000,
                                    service_start="2025-10-01", actor=OP)
        await rt.municipalities.add(code=VILLAGE, name="南村", kind="city", population=29_999,
                                    service_start="2019-04-01", actor=OP)
        await put(rt, "own-1", "2025-10-05T10:00:00", state="issued")
        await put(rt, "own-2", "2025-11-05T10:00:00", copies=2, fee=600)
        await put(rt, "own-3", "2025-12-05T10:00:00", code=VILLAGE, operator="ローソム")
        await put(rt, "failed", "2026-01-05T10:00:00", state="voided")
        await rt.db.write(old_close, 2025)
        await put(rt, "late", "2026-02-01T10:00:00")
        await put(rt, "late-v", "2026-03-01T10:00:00", code=VILLAGE, operator="ローソム", copies=3, fee=900)
        await rt.relay.complete("セブンマート", "own-1", printed=False)  # counted by 2025, voided since
        await put(rt, "fy26-1", "2026-04-10T10:00:00")
        await put(rt, "fy26-2", "2026-05-10T10:00:00", state="issued")
        await put(rt, "fy26-failed", "2026-05-11T10:00:00", state="issued")
        await rt.relay.complete("セブンマート", "fy26-failed", printed=False)  # never counted
    finally:
        await rt.stop()


async def test_a_database_closed_under_the_old_scheme_keeps_its_answers(tmp_path: Path) -> None:
    data, db = tmp_path / "old", tmp_path / "old" / "bcl.sqlite3"
    await old_centre(data)
    assert query(db, "PRAGMA user_version") == [(20,)]
    # the answers of the old scheme, taken from a copy that keeps running it: the open
    # year's statement, and the marks its close leaves
    reference = tmp_path / "reference"
    shutil.copytree(data, reference)
    rt = Runtime(load_settings(str(reference)), clock=FixedClock(at("2027-04-01T02:00:00")))
    await rt.start(target_version=20)
    try:
        expected = await rt.settlement.settle(2026)
        await rt.db.write(old_close, 2026)
    finally:
        await rt.stop()
    expected_years = years(reference / "bcl.sqlite3")
    adj = town(expected)["adjustments"]
    assert (town(expected)["billable"], adj["billable"], adj["from_fiscal_years"]) == (2, 0, [2025])  # +1 -1
    assert expected["totals"]["adjustment_billable"] == 3  # the village's late three
    assert expected_years["late"] == (2026, None) and expected_years["own-1"] == (2025, 2026)

    old_doc = query(db, "SELECT document FROM settlements WHERE fiscal_year = 2025")
    new = Runtime(load_settings(str(data)), clock=FixedClock(at("2027-04-01T02:00:00")))
    await new.start()
    try:
        assert new.schema_versions == (20, LATEST_VERSION)
        assert query(db, "SELECT document FROM settlements WHERE fiscal_year = 2025") == old_doc
        assert json.dumps(await new.settlement.settle(2025)) == old_doc[0][0]  # the closed year, verbatim
        assert await new.settlement.settle(2026) == expected
        closed = await new.settlement.settle(2026, close=True, actor=OP)
        assert {k: v for k, v in closed.items() if k not in ("closed", "closed_at")} == {
            k: v for k, v in expected.items() if k != "closed"}
        assert years(db) == expected_years  # the same marks as the old close would leave
        # and it goes on: a late event of 2026 after the new close, for 2027
        await put(new, "late26", "2027-01-01T10:00:00")
        assert town(await new.settlement.settle(2027))["adjustments"]["billable"] == 1
    finally:
        await new.stop()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
