"""Layout versions (contract §15, issue #19 §4): the 住民票's version 2 with 旧氏 and ローマ字
from optional residents.csv columns, staged, re-tested by the centre for every live
municipality offering it, activated only when every re-test passed; stores print the
active version only and every document records its version."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pypdf import PdfReader

from bcl_console.domain.errors import Conflict, InvalidInput
from bcl_console.domain.linkage import RESIDENT_OPTIONAL, RESIDENT_REQUIRED
from bcl_console.http.app import start_http
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query
from tests.services.relay_client import Kiosk

ME = Actor("tester", "cli")
TOWN = "993611"  # 北山町
VILLAGE = "994821"  # 桜川村
#: residents.csv as contract §3 has it, without the optional columns of layout version 2.
OLD_COLUMNS = (*RESIDENT_REQUIRED, *RESIDENT_OPTIONAL[:6])


def q(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, sql, *params)


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "".join("".join(reader.pages[i].extract_text().split()) for i in range(0, len(reader.pages), 2))


def pdf_layout(pdf: bytes) -> int:
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None
    return int(info["/BCLLayoutVersion"])


def with_additions(rt: Runtime, code: str = TOWN) -> tuple[str, str, str]:
    """A resident the demo gave 旧氏 and ローマ字: (resident code, 旧氏, ローマ字)."""
    row = q(rt, "SELECT resident_code, former_surname, name_roman FROM residents WHERE municipality_code = ? "
                "AND status = 'active' AND restricted = 0 AND former_surname <> '' AND name_roman <> '' "
                "ORDER BY resident_code LIMIT 1", code)
    assert row, "the demo gives some spouses their 旧氏 and ローマ字"
    return row[0]


async def test_the_demo_stages_version_2_with_a_finished_retest(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    views = {(v.layout.type.value, v.layout.version): v for v in await rt.layouts.views()}
    staged = views[("residence", 2)]
    assert staged.state.value == "staged" and staged.activatable
    assert set(staged.passed) == {TOWN, VILLAGE} and not staged.failed and not staged.untested
    assert views[("residence", 1)].state.value == "active" and views[("seal", 1)].state.value == "active"
    retests = await rt.layouts.retests("residence")
    assert {r.municipality_code for r in retests} == {TOWN, VILLAGE}
    for r in retests:  # evidence per municipality: each document verified and of version 2
        docs = r.evidence["issuances"]
        assert r.outcome == "passed" and docs
        assert all(d["verdict"] == "genuine" and d["layout_version"] == 2 for d in docs)
        assert "旧氏" in docs[0]["fields"] and "氏名（ローマ字）" in docs[0]["fields"]
        assert q(rt, "SELECT channel, layout_version FROM issuances WHERE request_id = ?",
                 docs[0]["request_id"]) == [("test-stage-2", 2)]


async def test_until_activated_every_channel_prints_version_1_then_version_2(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    resident, former, roman = with_additions(rt)
    before = await rt.issuance.issue(resident, "residence")
    text = pdf_text(before.pdf)
    assert "旧氏" not in text and roman.replace(" ", "") not in text
    assert before.record.layout_version == 1 and pdf_layout(before.pdf) == 1
    assert q(rt, "SELECT layout_version FROM issuances WHERE request_id = ?", before.record.request_id) == [(1,)]

    await rt.layouts.activate("residence", 2, actor=ME)
    after = await rt.issuance.issue(resident, "residence", {"scope": "self", "include_domicile": True})
    text = pdf_text(after.pdf)
    assert f"旧氏{former}" in text and f"氏名（ローマ字）{roman.replace(' ', '')}" in text
    assert after.record.layout_version == 2 and pdf_layout(after.pdf) == 2
    assert q(rt, "SELECT layout_version FROM issuances WHERE request_id = ?", after.record.request_id) == [(2,)]
    assert (await rt.verification.verify_bytes(after.pdf)).status == "genuine"
    # a person without 旧氏 or ローマ字 gets version 2 without those lines
    plain = q(rt, "SELECT resident_code FROM residents WHERE municipality_code = ? AND status = 'active' "
                  "AND restricted = 0 AND former_surname = '' AND name_roman = '' LIMIT 1", TOWN)[0][0]
    doc = await rt.issuance.issue(plain, "residence")
    assert doc.record.layout_version == 2 and "旧氏" not in pdf_text(doc.pdf)
    # other types keep their own version
    views = {(v.layout.type.value, v.layout.version): v.state.value for v in await rt.layouts.views()}
    assert views[("residence", 1)] == "retired" and views[("residence", 2)] == "active"
    assert views[("seal", 1)] == "active"


async def test_activation_refused_when_a_retest_failed(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    await rt.store.teststages.start_drill(VILLAGE, "2026-06-17T01:00:00+00:00")  # the relay refuses the village
    done = {r.municipality_code: r for r in await rt.layouts.retest("residence", actor=ME)}
    assert done[TOWN].outcome == "passed" and done[VILLAGE].outcome == "failed"
    assert "failure-drill" in done[VILLAGE].reason or "drill" in done[VILLAGE].reason
    with pytest.raises(Conflict, match=f"the re-test failed for {VILLAGE}"):
        await rt.layouts.activate("residence", 2, actor=ME)
    assert await rt.store.layouts.active_version("residence") == 1
    await rt.store.teststages.end_drill(VILLAGE)
    again = await rt.layouts.retest("residence", actor=ME)
    assert all(r.outcome == "passed" for r in again)
    await rt.layouts.activate("residence", 2, actor=ME)
    assert await rt.store.layouts.active_version("residence") == 2
    audit = q(rt, "SELECT action, field, old_value, new_value FROM audit_log WHERE action LIKE 'layout-%' "
                  "AND action = 'layout-activate'")
    assert audit == [("layout-activate", "residence", "1", "2")]


async def test_stage_rules(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    assert (await rt.layouts.stage("residence", 2, actor=ME))[1] is False  # already staged: nothing changes
    with pytest.raises(InvalidInput, match="no layout version 3"):
        await rt.layouts.stage("residence", "3", actor=ME)
    with pytest.raises(InvalidInput, match="unknown certificate type"):
        await rt.layouts.stage("passport", 2, actor=ME)
    with pytest.raises(Conflict, match="not newer than the active version 1"):
        await rt.layouts.stage("seal", 1, actor=ME)
    with pytest.raises(Conflict, match="seal layout version 1 is not staged"):
        await rt.layouts.activate("seal", 1, actor=ME)
    with pytest.raises(InvalidInput, match="no layout version of tax is staged"):
        await rt.layouts.retest("tax", actor=ME)


@pytest.fixture
async def kiosk(demo_runtime: Runtime) -> AsyncIterator[Kiosk]:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.tokens.issue("kiosk", "Seven Mart", actor=ME)
    try:
        async with aiohttp.ClientSession() as http:
            yield Kiosk(server.url, token, http)
    finally:
        await server.stop()


async def test_stores_print_the_active_version_only(demo_runtime: Runtime, kiosk: Kiosk) -> None:
    rt = demo_runtime
    resident, former, _ = with_additions(rt)
    card = (await rt.pki.issue_card(TOWN, resident, actor=ME)).pem
    # staged, re-tested and passed, but not activated: the store prints version 1
    rid, pdf = await kiosk.flow(card, key="before")
    assert "旧氏" not in pdf_text(pdf) and pdf_layout(pdf) == 1
    assert q(rt, "SELECT channel, layout_version FROM issuances WHERE request_id = ?", rid) == [("store", 1)]
    # a kiosk cannot ask for another version: the API has no such field
    status, s = await kiosk.session(card)
    status, err = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence",
                                                         "layout_version": 2}, {"Idempotency-Key": "ask-v2"})
    assert status == 400
    await rt.layouts.activate("residence", 2, actor=ME)
    rid, pdf = await kiosk.flow(card, key="after")
    assert f"旧氏{former}" in pdf_text(pdf) and pdf_layout(pdf) == 2
    assert q(rt, "SELECT channel, layout_version FROM issuances WHERE request_id = ?", rid) == [("store", 2)]


def batch(root: Path, name: str, header: tuple[str, ...], rows: list[list[object]], code: str,
          sequence: int) -> Path:
    out = root / name
    out.mkdir()
    files = {"residents.csv": write_csv(out / "residents.csv", (*header, "change"), [[*r, "U"] for r in rows])}
    write_manifest(out, municipality_code=code, sequence=sequence, kind="delta",
                   created_at="2026-06-17T09:00:00+09:00", files=files)
    return out


async def test_residents_csv_without_the_new_columns_still_loads(demo_runtime: Runtime, tmp_path: Path) -> None:
    rt = demo_runtime
    (resident,) = q(rt, "SELECT resident_code FROM residents WHERE municipality_code = ? AND status = 'active' "
                        "AND restricted = 0 AND former_surname = '' LIMIT 1", VILLAGE)[0]
    row = list(q(rt, f"SELECT {', '.join(OLD_COLUMNS)} FROM residents "  # noqa: S608 - constant names
                     "WHERE municipality_code = ? AND resident_code = ?", VILLAGE, resident)[0])
    row = ["" if v is None else v for v in row]
    sequence = q(rt, "SELECT max(sequence) FROM linkage_batches WHERE municipality_code = ? "
                     "AND outcome = 'applied'", VILLAGE)[0][0]
    # contract §3's columns alone: valid, nothing of the new columns held
    result = await rt.linkage.link(batch(tmp_path, "old", OLD_COLUMNS, [row], VILLAGE, sequence + 1))
    assert result.outcome == "applied", result.problems
    assert q(rt, "SELECT former_surname, name_roman FROM residents WHERE resident_code = ?", resident) == [("", "")]
    # with them: held (full-width Latin letters normalised)
    new = (*OLD_COLUMNS, "former_surname", "name_roman")
    result = await rt.linkage.link(batch(tmp_path, "new", new, [[*row, "　旧村 ", "ＳＡＫＵＲＡ　Ｈａｎａ"]],
                                         VILLAGE, sequence + 2))
    assert result.outcome == "applied", result.problems
    assert q(rt, "SELECT former_surname, name_roman FROM residents WHERE resident_code = ?", resident) == [
        ("旧村", "SAKURA Hana")]
    # a bad value rejects the batch, naming its column; nothing changes
    result = await rt.linkage.link(batch(tmp_path, "bad", new, [[*row, "旧 村", "桜 花"]], VILLAGE, sequence + 3))
    assert result.outcome == "rejected"
    assert sorted(p.column or "" for p in result.problems) == ["former_surname", "name_roman"]
    assert q(rt, "SELECT former_surname, name_roman FROM residents WHERE resident_code = ?", resident) == [
        ("旧村", "SAKURA Hana")]
    # and the 住民票 of version 2 prints them
    await rt.layouts.activate("residence", 2, actor=ME)
    text = pdf_text((await rt.issuance.issue(resident, "residence")).pdf)
    assert "旧氏旧村" in text and "氏名（ローマ字）SAKURAHana" in text
