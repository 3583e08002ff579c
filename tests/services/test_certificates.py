"""Certificates: the content of each type read back from the PDF, verification and every
tampering case, refusals, and the records kept."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader

from bcl_console.domain.certificate import normalise_code
from bcl_console.domain.errors import InvalidInput, NotFound
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import execute, kept_names, query


def q(rt: Runtime, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, sql, *params)


def texts(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return "".join(text.split())


def household_with_members(rt: Runtime) -> tuple[str, list[tuple]]:  # type: ignore[type-arg]
    """A household of the town with 3+ members, one of whom has moved out."""
    rows = q(rt, "SELECT household_number FROM residents WHERE municipality_code = '993611' "
                 "GROUP BY household_number HAVING count(*) >= 3 AND sum(CASE WHEN status != 'active' THEN 1 ELSE 0 END) >= 1 "
                 "AND sum(restricted) = 0 ORDER BY household_number LIMIT 1")
    household = rows[0][0]
    members = q(rt, "SELECT resident_code, name, address, status, relationship FROM residents "
                    "WHERE municipality_code = '993611' AND household_number = ?", household)
    return household, members


async def test_household_residence_copy_lists_exactly_the_current_members(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    _, members = household_with_members(rt)
    active = [m for m in members if m[3] == "active"]
    gone = [m for m in members if m[3] != "active"]
    requester = active[0][0]
    doc = await rt.issuance.issue(requester, "residence", {"scope": "household"})
    pages = texts(doc.pdf)
    fronts = pages[0::2]
    assert len(fronts) == len(active) and len(pages) == 2 * len(active)
    body = flat("".join(fronts))
    for code, name, address, _, _ in active:
        assert flat(name) in body and flat(address) in body
        assert code not in body  # never the 住民票コード
    for _, name, _, _, _ in gone:
        assert flat(name) not in body
    assert "この写しは、世帯全員の住民票の原本と相違ないことを証明する。" in body
    assert "本籍" not in body
    assert doc.record.pages == len(pages) and doc.record.state == "issued"


async def test_self_copy_with_domicile(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    code, name, domicile, head = q(rt, "SELECT resident_code, name, domicile, head_of_family FROM residents "
                                       "WHERE municipality_code='994821' AND status='active' AND restricted=0 "
                                       "AND domicile != '' LIMIT 1")[0]
    doc = await rt.issuance.issue(code, "residence", {"scope": "self", "include_domicile": True})
    front = flat(texts(doc.pdf)[0])
    assert flat(name) in front and flat(domicile) in front and "筆頭者" in front
    assert "この写しは、住民票の原本と相違ないことを証明する。" in front
    assert "桜川村長" in front and "令和8年6月17日" in front
    assert f"検証コード{doc.record.verification_code}" in front


async def test_seal_tax_and_disaster_contents(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    code, name, number = q(rt, "SELECT r.resident_code, r.name, s.seal_number FROM residents r JOIN seals s "
                               "USING (municipality_code, resident_code) WHERE r.status='active' AND "
                               "r.restricted=0 AND s.status='active' LIMIT 1")[0]
    doc = await rt.issuance.issue(code, "seal")
    front = flat(texts(doc.pdf)[0])
    assert "印鑑登録証明書" in front and flat(name) in front and number in front
    assert "この写しは、登録されている印影と相違ないことを証明する。" in front
    assert len(PdfReader(io.BytesIO(doc.pdf)).pages[0].images) == 1  # the impression

    code, fy, salary, total, municipal, prefectural = q(
        rt, "SELECT t.resident_code, t.fiscal_year, t.salary_income, t.total_income, t.municipal_tax, "
            "t.prefectural_tax FROM taxes t JOIN residents r USING (municipality_code, resident_code) "
            "WHERE r.status='active' AND r.restricted=0 AND t.salary_income > 0 AND t.fiscal_year = 2025 LIMIT 1")[0]
    doc = await rt.issuance.issue(code, "tax", {"fiscal_year": fy})
    front = flat(texts(doc.pdf)[0])
    assert "令和7年度" in front and "令和6年中" in front
    for amount in (salary, total, municipal, prefectural, municipal + prefectural):
        assert f"{amount:,}円" in front
    # without a fiscal year: the latest year on record (a mutant that found no record survived)
    latest = q(rt, "SELECT max(fiscal_year) FROM taxes WHERE resident_code = ?", code)[0][0]
    doc = await rt.issuance.issue(code, "tax")
    assert f"令和{latest - 2018}年度" in flat(texts(doc.pdf)[0])

    code, household, address, damage, head = q(
        rt, "SELECT r.resident_code, r.household_number, a.address, a.damage_class, "
            "(SELECT name FROM residents h WHERE h.municipality_code = r.municipality_code AND "
            " h.household_number = r.household_number AND h.relationship = '世帯主') "
            "FROM residents r JOIN damage_assessments a ON a.municipality_code = r.municipality_code "
            "AND a.household_number = r.household_number WHERE r.status='active' AND r.restricted=0 LIMIT 1")[0]
    doc = await rt.issuance.issue(code, "disaster")
    front = flat(texts(doc.pdf)[0])
    assert "罹災証明書" in front and flat(head) in front and flat(address) in front and damage in front
    assert "豪雨" in front


async def test_verify_round_trip_and_code_lookup(demo_runtime: Runtime, tmp_path: Path) -> None:
    rt = demo_runtime
    code = q(rt, "SELECT resident_code FROM residents WHERE status='active' AND restricted=0 LIMIT 1")[0][0]
    doc = await rt.issuance.issue(code, "residence")
    path = tmp_path / "c.pdf"
    path.write_bytes(doc.pdf)
    verdict = await rt.verification.verify_pdf(path)
    assert verdict.status == "genuine", verdict.reason
    assert verdict.details["code"] == doc.record.verification_code
    by_code = await rt.verification.verify_code(doc.record.verification_code.lower().replace("-", " "))
    assert by_code.status == "genuine"
    assert (await rt.verification.verify_code("0000-0000-0000-0000")).status == "unknown"
    # voided documents are reported as such
    await execute(rt, "UPDATE issuances SET state='voided', voided_at='2026-06-17T03:00:00+00:00' "
                      "WHERE request_id = ?", doc.record.request_id)
    assert (await rt.verification.verify_pdf(path)).status == "voided"
    # the record keeps what was issued
    assert q(rt, "SELECT type, channel, content_sha256 FROM issuances WHERE request_id = ?",
             doc.record.request_id)[0][:2] == ("residence", "counter")
    assert await rt.store.files.read(doc.record.document_path) == doc.pdf


async def test_refusals_change_nothing(demo_runtime: Runtime, db_dump: Callable[[Path], list[str]]) -> None:
    rt = demo_runtime
    before = db_dump(rt.settings.db_path)
    moved = q(rt, "SELECT resident_code FROM residents WHERE status='moved-out' LIMIT 1")[0][0]
    dead = q(rt, "SELECT resident_code FROM residents WHERE status='deceased' LIMIT 1")[0][0]
    restricted = q(rt, "SELECT resident_code FROM residents WHERE restricted=1 AND status='active' LIMIT 1")[0][0]
    no_seal = q(rt, "SELECT resident_code FROM residents r WHERE status='active' AND restricted=0 AND NOT EXISTS "
                    "(SELECT 1 FROM seals s WHERE s.resident_code = r.resident_code AND s.status='active') LIMIT 1")[0][0]
    no_assessment = q(rt, "SELECT resident_code FROM residents r WHERE status='active' AND restricted=0 AND "
                          "municipality_code='994821' LIMIT 1")[0][0]
    cases = [
        (lambda: rt.issuance.issue("99999999999", "residence"), NotFound, "not known"),
        (lambda: rt.issuance.issue(moved, "residence"), InvalidInput, "moved out"),
        (lambda: rt.issuance.issue(dead, "residence"), InvalidInput, "deceased"),
        (lambda: rt.issuance.issue(restricted, "residence"), InvalidInput, "protection measure"),
        (lambda: rt.issuance.issue(no_seal, "seal"), InvalidInput, "no active seal"),
        (lambda: rt.issuance.issue(no_seal, "tax", {"fiscal_year": 2001}), InvalidInput, "no tax record for fiscal year 2001"),
        (lambda: rt.issuance.issue(no_assessment, "disaster"), InvalidInput, "no damage assessment"),
        (lambda: rt.issuance.issue(no_seal, "passport"), InvalidInput, "unknown certificate type"),
        (lambda: rt.issuance.issue(no_seal, "residence", {"scope": "street"}), InvalidInput, "scope"),
        (lambda: rt.issuance.issue(no_seal, "seal", {"colour": "red"}), InvalidInput, "unknown option"),
    ]
    documents = await kept_names(rt, "documents")  # the demo's stage tests made some
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            await call()
    assert db_dump(rt.settings.db_path) == before
    assert await kept_names(rt, "documents") == documents


async def test_gaiji_is_refused_never_printed_as_a_box(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    code = q(rt, "SELECT resident_code FROM residents WHERE status='active' AND restricted=0 LIMIT 1")[0][0]
    # 𠮷 (U+20BB7, the "tsuchi-yoshi" variant) is outside CP932: a classic 外字.
    await execute(rt, "UPDATE residents SET name = '𠮷田 一郎' WHERE resident_code = ?", code)
    with pytest.raises(InvalidInput, match="外字") as exc:
        await rt.issuance.issue(code, "residence")
    assert "U+20BB7" in str(exc.value)


def test_codes_are_long_enough_and_typeable() -> None:
    from bcl_console.domain.certificate import new_verification_code

    codes = {new_verification_code() for _ in range(2000)}
    assert len(codes) == 2000
    sample = next(iter(codes))
    assert len(sample) == 19 and sample.count("-") == 3
    assert normalise_code(sample.lower().replace("-", " ")) == sample
    with pytest.raises(InvalidInput):
        normalise_code("ABCD")


async def test_concurrent_issues_never_mix_people(demo_runtime: Runtime) -> None:
    import asyncio

    rt = demo_runtime
    people = q(rt, "SELECT resident_code, name FROM residents WHERE status='active' AND restricted=0 "
                   "AND municipality_code='993611' LIMIT 40")
    docs = await asyncio.gather(*(rt.issuance.issue(code, "residence") for code, _ in people))
    for (code, name), doc in zip(people, docs, strict=True):
        front = flat(texts(doc.pdf)[0])
        assert flat(name) in front
        others = [n for c, n in people if c != code and flat(n) != flat(name)]
        assert not any(flat(n) in front for n in others)


async def test_the_worker_pool_renders_the_same_documents(demo_dir: Path) -> None:
    import asyncio

    from bcl_console.config import load_settings
    from bcl_console.services.platform.clock import FixedClock
    from tests.conftest import TEST_NOW

    rt = Runtime(load_settings(str(demo_dir)), clock=FixedClock(TEST_NOW), render_workers=2)
    await rt.start()
    try:
        people = q(rt, "SELECT resident_code, name FROM residents WHERE status='active' AND restricted=0 "
                       "AND municipality_code='994821' LIMIT 12")
        docs = await asyncio.gather(*(rt.issuance.issue(code, "residence") for code, _ in people))
        for (_, name), doc in zip(people, docs, strict=True):
            assert flat(name) in flat(texts(doc.pdf)[0])
            assert (await rt.verification.verify_bytes(doc.pdf)).status == "genuine"
    finally:
        await rt.stop()
