"""The standard forms through the services: the demo's households, flood assessments,
tax details in linkage batches (issue #14 §4)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from bcl_console.domain.errors import InvalidInput
from bcl_console.services.disaster.service import AssessmentsRejected
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import query

ME = Actor("tester", "cli")
TOWN = "993611"  # 北山町, the demo's flooded town
VILLAGE = "994821"


def q(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, sql, *params)


def front(pdf: bytes) -> str:
    return "".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())


@pytest.mark.sqlite_only
async def test_demo_households_have_plausible_family_registers_and_distinct_names(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    # the head's parents head their own 戸籍 (the father); the rest of the family is in the head's
    # (households' heads and fathers grouped first, the residents the outer loop: SQLite's own
    # plan scanned a municipality's residents for every head, 140 s on the demo)
    rows = q(rt, "WITH heads AS (SELECT municipality_code, household_number, min(name) AS name FROM residents "
                 "WHERE relationship = '世帯主' GROUP BY 1, 2), "
                 "fathers AS (SELECT municipality_code, household_number, min(name) AS name FROM residents "
                 "WHERE relationship = '父' GROUP BY 1, 2) "
                 "SELECT r.relationship, r.head_of_family, h.name, f.name FROM residents r "
                 "CROSS JOIN heads h ON h.municipality_code = r.municipality_code "
                 "AND h.household_number = r.household_number "
                 "LEFT JOIN fathers f ON f.municipality_code = r.municipality_code "
                 "AND f.household_number = r.household_number "
                 "WHERE r.relationship IN ('父', '母', '妻', '夫', '子')")
    parents = [r for r in rows if r[0] in ("父", "母")]
    assert parents and all(head_of_family == father for _, head_of_family, _, father in parents)
    assert all(head_of_family == head for rel, head_of_family, head, _ in rows if rel not in ("父", "母"))
    # no family with two members (two children above all) of the same given name
    same = q(rt, "SELECT municipality_code, household_number, substr(name, instr(name, ' ') + 1) AS given, "
                 "count(*) FROM residents WHERE relationship != '同居人' GROUP BY 1, 2, 3 HAVING count(*) > 1")
    assert same == []


async def test_household_copy_of_a_three_generation_family_in_form_order(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    household = q(rt, "SELECT household_number FROM residents WHERE municipality_code = ? GROUP BY 1 "
                      "HAVING sum(CASE WHEN relationship = '父' THEN 1 ELSE 0 END) = 1 AND sum(CASE WHEN relationship = '子' THEN 1 ELSE 0 END) >= 1 "
                      "AND sum(CASE WHEN status != 'active' THEN 1 ELSE 0 END) = 0 AND sum(restricted) = 0 LIMIT 1", TOWN)[0][0]
    members = dict(q(rt, "SELECT relationship || resident_code, name FROM residents WHERE municipality_code = ? "
                         "AND household_number = ?", TOWN, household))
    requester = next(k[-11:] for k in members if k.startswith("世帯主"))
    doc = await rt.issuance.issue(requester, "residence", {"scope": "household", "include_domicile": True})
    reader = PdfReader(io.BytesIO(doc.pdf))
    fronts = ["".join(p.extract_text().split()) for p in reader.pages[0::2]]
    relationships = [next(rel for rel in ("世帯主", "妻", "夫", "子", "父", "母") if f"続柄{rel}" in f) for f in fronts]
    ranks = {"世帯主": 0, "妻": 1, "夫": 1, "子": 2, "父": 3, "母": 4}
    assert relationships == sorted(relationships, key=ranks.__getitem__), relationships
    father = next(name for k, name in members.items() if k.startswith("父"))
    head = next(name for k, name in members.items() if k.startswith("世帯主"))
    by_relationship = dict(zip(relationships, fronts, strict=True))
    assert f"筆頭者{father.replace(' ', '')}" in by_relationship["母"]
    assert f"筆頭者{head.replace(' ', '')}" in by_relationship["子"]


async def test_flood_level_is_assessed_and_printed_on_the_disaster_certificate(demo_runtime: Runtime,
                                                                               tmp_path: Path) -> None:
    rt = demo_runtime
    disaster_id = q(rt, "SELECT id FROM disasters LIMIT 1")[0][0]
    # the demo's flood carries 浸水区分 on every assessment
    assert q(rt, "SELECT count(*) FROM damage_assessments WHERE flood_level IS NULL")[0][0] == 0
    household, resident = q(rt, "SELECT household_number, resident_code FROM residents WHERE municipality_code = ? "
                                "AND relationship = '世帯主' AND status = 'active' AND restricted = 0 "
                                "ORDER BY household_number LIMIT 1", TOWN)[0]
    result = await rt.ledger.assessments.assess(disaster_id, TOWN, household, ratio=42, inspector="調査員 中野",
                                    flood_level="床上", flood_depth_cm=135, actor=ME)
    assert result.flood_level == "床上浸水" and result.flood_depth_cm == 135
    text = front((await rt.issuance.issue(resident, "disaster", {"disaster_id": disaster_id})).pdf)
    assert "■大規模半壊" in text and "□全壊" in text and "□準半壊に至らない（一部損壊）" in text
    assert "■床上浸水□床下浸水（浸水深135cm）" in text
    with pytest.raises(InvalidInput, match="needs a flood level"):
        await rt.ledger.assessments.assess(disaster_id, TOWN, household, ratio=42, inspector="x", flood_depth_cm=20, actor=ME)
    with pytest.raises(InvalidInput, match="unknown flood level"):
        await rt.ledger.assessments.assess(disaster_id, TOWN, household, ratio=42, inspector="x", flood_level="水没", actor=ME)
    # without flood fields an assessment stays as valid as before, and prints no 浸水区分
    await rt.ledger.assessments.assess(disaster_id, TOWN, household, ratio=5, inspector="調査員 中野", actor=ME)
    text = front((await rt.issuance.issue(resident, "disaster", {"disaster_id": disaster_id})).pdf)
    assert "■準半壊に至らない（一部損壊）" in text and "浸水区分" not in text

    # the CSV import takes the optional columns; a bad depth is one listed problem
    hh = [h for (h,) in q(rt, "SELECT household_number FROM residents WHERE municipality_code = ? AND "
                               "relationship = '世帯主' AND status = 'active' ORDER BY 1 LIMIT 3 OFFSET 1", TOWN)]
    bad = tmp_path / "bad.csv"
    bad.write_text("municipality_code,household_number,damage_ratio,inspector,flood_level,flood_depth_cm\n"
                   f"{TOWN},{hh[0]},25,調査員 A,床上浸水,80\n{TOWN},{hh[1]},5,調査員 A,床下浸水,深い\n",
                   encoding="utf-8")
    with pytest.raises(AssessmentsRejected) as caught:
        await rt.ledger.assessments.import_assessments(disaster_id, bad, actor=ME)
    assert [(p.line, p.column) for p in caught.value.problems.items] == [(3, "flood_depth_cm")]
    good = tmp_path / "good.csv"
    good.write_text("municipality_code,household_number,damage_ratio,inspector,flood_level,flood_depth_cm\n"
                    f"{TOWN},{hh[0]},25,調査員 A,床上浸水,80\n{TOWN},{hh[1]},5,調査員 A,床下浸水,\n"
                    f"{TOWN},{hh[2]},5,調査員 A,,\n", encoding="utf-8")
    assert (await rt.ledger.assessments.import_assessments(disaster_id, good, actor=ME)).imported == 3
    rows = q(rt, "SELECT household_number, flood_level, flood_depth_cm FROM damage_assessments WHERE current = 1 "
                 "AND household_number IN (?, ?, ?) AND disaster_id = ? ORDER BY 1", *hh, disaster_id)
    assert rows == [(hh[0], "床上浸水", 80), (hh[1], "床下浸水", None), (hh[2], None, None)]


async def test_tax_details_in_a_linkage_batch_are_optional_and_printed(demo_runtime: Runtime,
                                                                        tmp_path: Path) -> None:
    rt = demo_runtime
    # the demo's tax records hold 扶養人数 and the parts of the deductions
    code, fy = q(rt, "SELECT t.resident_code, t.fiscal_year FROM taxes t JOIN residents r "
                     "USING (municipality_code, resident_code) WHERE r.municipality_code = ? AND "
                     "r.status = 'active' AND r.restricted = 0 AND t.dependents = 1 AND t.municipal_tax > 0 "
                     "LIMIT 1", VILLAGE)[0]
    text = front((await rt.issuance.issue(code, "tax", {"fiscal_year": fy})).pdf)
    assert "扶養人数1人" in text and "基礎控除430,000円" in text and "扶養控除330,000円" in text
    assert "村民税" in text and "県民税" in text and "均等割3,000円" in text and "均等割1,000円" in text
    sequence = q(rt, "SELECT max(sequence) FROM linkage_batches WHERE municipality_code = ? "
                     "AND outcome = 'applied'", VILLAGE)[0][0]

    def batch(name: str, header: tuple[str, ...], row: list[object], seq: int) -> Path:
        out = tmp_path / name
        out.mkdir()
        files = {"taxes.csv": write_csv(out / "taxes.csv", (*header, "change"), [[*row, "U"]])}
        write_manifest(out, municipality_code=VILLAGE, sequence=seq, kind="delta",
                       created_at="2026-06-17T09:00:00+09:00", files=files)
        return out

    old_form = ("resident_code", "fiscal_year", "total_income", "salary_income", "deductions", "taxable_income",
                "municipal_tax", "prefectural_tax")
    # the contract's columns alone stay valid: the details are then not held
    result = await rt.linkage.link(batch("old", old_form, [code, fy, 2_000_000, 3_000_000, 1_210_000, 790_000,
                                                            50_400, 32_600], sequence + 1))
    assert result.outcome == "applied", result.problems
    assert q(rt, "SELECT dependents, basic_deduction FROM taxes WHERE resident_code = ? AND fiscal_year = ?",
             code, fy) == [(None, None)]
    text = front((await rt.issuance.issue(code, "tax", {"fiscal_year": fy})).pdf)
    assert "扶養人数" not in text and "基礎控除" not in text
    details = ("dependents", "basic_deduction", "social_insurance_deduction", "dependent_deduction")
    result = await rt.linkage.link(batch("new", (*old_form, *details), [
        code, fy, 2_000_000, 3_000_000, 1_210_000, 790_000, 50_400, 32_600, 2, 430_000, 120_000, 660_000],
        sequence + 2))
    assert result.outcome == "applied", result.problems
    assert q(rt, "SELECT dependents, basic_deduction, social_insurance_deduction, dependent_deduction FROM taxes "
                 "WHERE resident_code = ? AND fiscal_year = ?", code, fy) == [(2, 430_000, 120_000, 660_000)]
    result = await rt.linkage.link(batch("bad", (*old_form, "dependents"), [
        code, fy, 2_000_000, 3_000_000, 1_210_000, 790_000, 50_400, 32_600, "二人"], sequence + 3))
    assert result.outcome == "rejected" and [p.column for p in result.problems] == ["dependents"]
    assert "whole number of people" in result.problems[0].reason
