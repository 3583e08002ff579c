"""Settlement end to end: billable rules, closing twice, late events and voids as
adjustments on the next year, statements, and refusals."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import pytest

from bcl_console.config import Settings
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.municipality import CertificateType
from bcl_console.services.issuance.service import check_options
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock, iso_now
from bcl_console.services.platform.runtime import Runtime
from bcl_console.store.issuances import IssuanceRecord
from tests.conftest import execute, query

OP = Actor("op", "cli")
TOWN, VILLAGE = "131016", "011011"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+09:00")


async def put(rt: Runtime, request_id: str, when: str, *, code: str = TOWN, channel: str = "store",
              state: str = "printed", fee: int = 300, copies: int = 1, operator: str = "セブンマート",
              type_: str = "residence") -> None:
    issued = at(when).astimezone().isoformat(timespec="microseconds")
    await execute(
        rt, "INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, fee, "
        "state, created_at, issued_at, copies) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        request_id, type_, code, "12345678901", channel, operator, fee, state, issued, issued, copies)


@pytest.fixture
async def centre(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime(settings, clock=FixedClock(at("2026-04-01T02:00:00")))
    await rt.start()
    await rt.municipalities.add(code=TOWN, name="北山町", kind="town", population=8000,
                                service_start="2025-10-01", actor=OP)
    await rt.municipalities.add(code=VILLAGE, name="南村", kind="city", population=29_999,
                                service_start="2019-04-01", actor=OP)
    yield rt
    await rt.stop()


async def test_billable_rules_and_contributions(centre: Runtime) -> None:
    rt = centre
    await put(rt, "a", "2025-10-05T10:00:00")
    await put(rt, "b", "2025-11-05T10:00:00", copies=2, fee=600, type_="seal")
    await put(rt, "c", "2025-12-05T10:00:00", state="voided")  # a failed print: not billed
    await put(rt, "d", "2025-12-06T10:00:00", channel="test-stage-2")  # test stages: free
    await put(rt, "e", "2025-12-07T10:00:00", channel="test-stage-3")
    await put(rt, "f", "2026-01-07T10:00:00", channel="real-store-test")  # billed like production
    await put(rt, "g", "2026-02-07T10:00:00", channel="counter")  # not a store issuance
    await put(rt, "k", "2026-02-09T10:00:00", channel="counter-card")  # らくらく窓口: fee taken at the counter
    await put(rt, "h", "2026-03-31T23:59:00")  # the last minute of FY2025 in Japan
    await put(rt, "i", "2026-04-01T00:01:00")  # FY2026
    await put(rt, "j", "2025-05-01T10:00:00", code=VILLAGE, operator="ローソム")
    doc = await rt.settlement.settle(2025)
    town = next(m for m in doc["municipalities"] if m["code"] == TOWN)
    assert town["certificates"] == {"residence": 3, "seal": 2, "tax": 0, "disaster": 0,
                                    "disaster-victim": 0}
    assert town["billable"] == 5
    assert town["usage_fee"] == 5 * 180 and town["commission"] == 5 * 117
    assert town["fees_collected"] == 300 * 3 + 600 and town["net_to_municipality"] == 1500 - 585
    assert town["contribution"] == 172_740  # a town joining in October: 345,481 x 6 / 12
    village = next(m for m in doc["municipalities"] if m["code"] == VILLAGE)
    assert village["contribution"] == 1_873_259  # a city under 30,000 on BCL from FY2023
    assert town["by_month"]["2025-11"]["seal"] == 2 and town["by_month"]["2026-03"]["residence"] == 1
    ops = {o["operator"]: o for o in doc["operators"]}
    assert ops["セブンマート"]["billable"] == 5 and ops["セブンマート"]["commission"] == 585
    assert ops["ローソム"]["billable"] == 1
    assert doc["totals"]["billable"] == 6 and doc["closed"] is False


async def test_closing_twice_gives_identical_output_and_late_events_become_adjustments(
    centre: Runtime, db_dump: Callable[[Path], list[str]], tmp_path: Path
) -> None:
    rt = centre
    await put(rt, "a", "2025-10-05T10:00:00", state="issued")  # paid; its print not completed yet
    await put(rt, "b", "2025-11-05T10:00:00")
    first = await rt.settlement.settle(2025, close=True, actor=OP)
    assert first["totals"]["billable"] == 2
    assert first["closed"] is True
    before = db_dump(rt.settings.db_path)
    second = await rt.settlement.settle(2025, close=True, actor=OP)
    assert json.dumps(second, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert db_dump(rt.settings.db_path) == before  # closing again changes nothing
    # a late event for the closed year, and a void of an issuance it counted: the kiosk
    # reports the failed print of 'a' (only an issued request can be voided)
    await put(rt, "late", "2026-02-01T10:00:00")
    assert asdict(await rt.relay.complete("セブンマート", "a", printed=False)) == {"status": "voided", "refunded": 300}
    assert (await rt.settlement.settle(2025))["municipalities"] == first["municipalities"]  # frozen
    rt.clock.set(at("2027-04-01T02:00:00"))  # type: ignore[attr-defined]
    await put(rt, "fy26", "2026-05-01T10:00:00")
    next_year = await rt.settlement.settle(2026, close=True, actor=OP)
    town = next(m for m in next_year["municipalities"] if m["code"] == TOWN)
    assert town["billable"] == 1  # its own year
    assert town["adjustments"]["billable"] == 0  # +1 late, -1 voided
    assert town["adjustments"]["from_fiscal_years"] == [2025]
    # each issuance is counted by exactly one statement; nothing twice, nothing lost
    rows = dict(query(rt.settings.db_path, "SELECT request_id, settled_year FROM issuances"))
    voids = dict(query(rt.settings.db_path, "SELECT request_id, void_settled_year FROM issuances"))
    assert rows == {"a": 2025, "b": 2025, "late": 2026, "fy26": 2026}
    assert voids["a"] == 2026
    third = await rt.settlement.settle(2027 - 1)
    assert third == next_year


async def test_refusals_change_nothing(centre: Runtime, db_dump: Callable[[Path], list[str]], tmp_path: Path) -> None:
    rt = centre
    before = db_dump(rt.settings.db_path)
    with pytest.raises(InvalidInput, match="has not begun"):
        await rt.settlement.settle(2027)
    with pytest.raises(InvalidInput, match="unknown"):
        await rt.settlement.settle(1990)
    with pytest.raises(InvalidInput, match="cannot be closed before"):
        await rt.settlement.settle(2026, close=True)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidInput, match="--out"):
        await rt.settlement.settle(2025, close=True, out=blocker / "out")
    assert db_dump(rt.settings.db_path) == before


async def test_statements_are_written(centre: Runtime, tmp_path: Path) -> None:
    rt = centre
    await put(rt, "a", "2025-10-05T10:00:00")
    out = tmp_path / "statements"
    await rt.settlement.settle(2025, close=True, out=out, actor=OP)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["operators-2025.csv", f"statement-2025-{VILLAGE}.csv", f"statement-2025-{VILLAGE}.pdf",
                     f"statement-2025-{TOWN}.csv", f"statement-2025-{TOWN}.pdf", "summary-2025.csv"]
    rows = list(csv.DictReader(io.StringIO((out / "summary-2025.csv").read_text(encoding="utf-8"))))
    assert next(r for r in rows if r["code"] == TOWN)["billable"] == "1"
    from pypdf import PdfReader

    text = "".join(PdfReader(out / f"statement-2025-{TOWN}.pdf").pages[0].extract_text().split())
    assert "令和7年度" in text and "精算書" in text and "北山町" in text and "172,740円" in text


def test_settle_command_is_idempotent_for_schedulers(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    run = [sys.executable, "-m", "bcl_console"]
    now = ["--now", "2026-04-01T02:00:00+09:00"]
    subprocess.run([*run, "init", "--data-dir", data], check=True, capture_output=True)
    subprocess.run([*run, "municipality", "add", "--code", TOWN, "--name", "北山町", "--kind", "town",
                    "--population", "8000", "--service-start", "2025-10-01", "--data-dir", data], check=True,
                   capture_output=True)
    first = subprocess.run([*run, "settle", "--fiscal-year", "2025", "--close", "--json", "--data-dir", data, *now],
                           capture_output=True, text=True)
    second = subprocess.run([*run, "settle", "--fiscal-year", "2025", "--close", "--json", "--data-dir", data, *now],
                            capture_output=True, text=True)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout and json.loads(first.stdout)["closed"] is True
    future = subprocess.run([*run, "settle", "--fiscal-year", "2030", "--json", "--data-dir", data, *now],
                            capture_output=True, text=True)
    assert future.returncode == 3 and json.loads(future.stdout)["error"]["code"] == "invalid_input"


async def test_demo_year_settles(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    doc = await rt.settlement.settle(2025)
    assert doc["totals"]["billable"] > 0 and len(doc["operators"]) == 3
    clock = rt.clock
    assert isinstance(clock, FixedClock)


RESIDENT = "20000000001"


async def request(rt: Runtime, request_id: str, *, copies: int = 1, operator: str = "セブンマート") -> None:
    """A kiosk's request as the relay stores it: awaiting payment, not issued, not billable."""
    record = IssuanceRecord(
        request_id=request_id, type="residence", options=check_options(CertificateType.RESIDENCE, {}),
        municipality_code=TOWN, resident_code=RESIDENT, channel="store", operator=operator, fee=300 * copies,
        state="awaiting_payment", verification_code=None, content_sha256=None, pages=None, document_path=None,
        created_at=iso_now(rt.clock), issued_at=None, voided_at=None)
    await rt.store.issuances.open_request(record, session_id="s", idempotency_key=request_id,
                                          body_sha256=request_id, copies=copies)


async def test_an_issuance_counts_as_its_latest_state_says(centre: Runtime, tmp_path: Path) -> None:
    """The settlement key follows every transition the relay makes: payment, print, void,
    and a payment just after midnight on 1 April (still 31 March in UTC)."""
    rt = centre
    d = tmp_path / "batch"
    d.mkdir()
    files = {"residents.csv": write_csv(d / "residents.csv", (
        "resident_code", "household_number", "name", "name_kana", "birth_date", "sex", "relationship", "address",
        "resident_since", "status"), [(RESIDENT, "H1", "試験 太郎", "シケン タロウ", "1980-01-01", "1", "世帯主",
                                      "東雲県北山町1番地", "2000-01-01", "active")])}
    write_manifest(d, municipality_code=TOWN, sequence=1, kind="full", created_at="2025-09-01T00:00:00+09:00",
                   files=files)
    assert (await rt.linkage.link(d)).outcome == "applied"
    operator = "A|B\x1fC 店"  # the key's separator inside a name splits back

    async def billable(year: int = 2025) -> int:
        return int((await rt.settlement.settle(year))["totals"]["billable"])

    rt.clock.set(at("2025-10-05T10:00:00"))  # type: ignore[attr-defined]
    await request(rt, "a", copies=3, operator=operator)
    assert await billable() == 0  # not paid
    assert (await rt.relay.pay(operator, "a", 900)).status == "issued"
    doc = await rt.settlement.settle(2025)
    assert doc["totals"]["billable"] == 3 and [o["operator"] for o in doc["operators"]] == [operator]
    town = next(m for m in doc["municipalities"] if m["code"] == TOWN)
    assert town["by_month"]["2025-10"]["residence"] == 3 and town["fees_collected"] == 900
    assert (await rt.relay.complete(operator, "a", printed=True)).status == "printed"
    assert await billable() == 3  # printed: still counted, once
    # a failed print is voided from issued and stops counting
    await request(rt, "b")
    await rt.relay.pay("セブンマート", "b", 300)
    assert await billable() == 4
    assert asdict(await rt.relay.complete("セブンマート", "b", printed=False)) == {"status": "voided", "refunded": 300}
    assert await billable() == 3
    # paid at 00:30 on 1 April 2026 in Japan (15:30 on 31 March in UTC): fiscal year 2026
    rt.clock.set(at("2026-04-01T00:30:00"))  # type: ignore[attr-defined]
    await request(rt, "c")
    await rt.relay.pay("セブンマート", "c", 300)
    assert await billable(2025) == 3 and await billable(2026) == 1
    town = next(m for m in (await rt.settlement.settle(2026))["municipalities"] if m["code"] == TOWN)
    assert town["by_month"]["2026-04"]["residence"] == 1
