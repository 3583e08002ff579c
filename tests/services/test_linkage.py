"""Linkage batches end to end through the service: apply, sequences, every bad input."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bcl_console.config import Settings, load_settings
from bcl_console.domain.errors import InvalidInput
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, execute, query

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "linkage"
OP = Actor("op", "cli")
CODE = "993611"


rows = query

#: How a dump shows a rejected batch's kept problem list (sealed; the one row a rejection adds).
KEPT_REJECTION = 'INSERT INTO "linkage_rejections"'


def on_sqlite(data_dir: Path) -> Settings:
    """Another centre's settings, on SQLite whatever store this test runs on (so data
    that went through PostgreSQL is compared with data that went through SQLite)."""
    return dataclasses.replace(load_settings(str(data_dir)), database_url=None)


def held_data(dump: list[str]) -> list[str]:
    """A database dump without the kept problem lists of rejected batches."""
    return [line for line in dump if not line.startswith(KEPT_REJECTION)]


def kept_rejections(dump: list[str]) -> int:
    return sum(line.startswith(KEPT_REJECTION) for line in dump)


async def test_full_then_delta(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    result = await rt.linkage.link(FIX / "valid-full")
    assert result.outcome == "applied", result.problems
    # the demo's evacuation plans name people this batch no longer holds: flagged, kept
    assert result.counts == {"residents": 10, "seals": 4, "taxes": 6, "plans_flagged": 12}
    db = rt.settings.db_path
    assert rows(db, "SELECT count(*) FROM evacuation_plans WHERE review_reason LIKE 'removed%'") == [(12,)]
    held = rows(db, "SELECT resident_code, name, name_kana, birth_date, resident_since, restricted "
                    "FROM residents WHERE municipality_code = ? ORDER BY resident_code", CODE)
    assert len(held) == 10  # the full batch replaced the demo's 6,200 residents
    hanako = next(r for r in held if r[0] == "10000000025")
    assert hanako[1:5] == ("山田 花子", "ヤマダ ハナコ", "1970-08-03", "1995-04-01")  # ｶﾅ, S45, 平成7年
    assert next(r for r in held if r[0] == "10000000075")[5] == 1
    assert rows(db, "SELECT count(*) FROM seals WHERE municipality_code = ?", CODE) == [(4,)]

    result = await rt.linkage.link(FIX / "valid-delta")
    assert result.outcome == "applied", result.problems
    assert result.counts["residents.added"] == 1 and result.counts["residents.deleted"] == 1
    codes = {r[0] for r in rows(db, "SELECT resident_code FROM residents WHERE municipality_code = ?", CODE)}
    assert "10000000113" in codes and "10000000091" not in codes
    assert rows(db, "SELECT address FROM residents WHERE resident_code = '10000000059'") == [("東雲県北山町大字上原90番地",)]
    assert rows(db, "SELECT total_income FROM taxes WHERE resident_code = '10000000025'") == [(600000,)]
    assert rows(db, "SELECT count(*) FROM seals WHERE resident_code = '10000000075'") == [(1,)]
    batches = await rt.linkage.batches(CODE)
    assert [(b.sequence, b.kind, b.outcome) for b in batches[:2]] == [(3, "delta", "applied"), (2, "full", "applied")]
    backups = await rt.linkage.backups(CODE)
    assert [(b.sequence, b.kind) for b in backups] == [(2, "full"), (3, "delta")]
    for b in backups:
        data = await rt.store.files.read(b.path)
        assert b"manifest" not in data and "山田".encode() not in data  # encrypted


async def test_same_batch_again_is_already_applied_and_changes_nothing(
    demo_runtime: Runtime, db_dump: Callable[[Path], list[str]]
) -> None:
    assert (await demo_runtime.linkage.link(FIX / "valid-full")).outcome == "applied"
    before = db_dump(demo_runtime.settings.db_path)
    again = await demo_runtime.linkage.link(FIX / "valid-full.zip")  # the same batch, zipped
    assert again.outcome == "already-applied" and again.sequence == 2
    assert db_dump(demo_runtime.settings.db_path) == before


async def test_cp932_and_crlf_give_the_same_data(demo_runtime: Runtime, tmp_path: Path) -> None:
    assert (await demo_runtime.linkage.link(FIX / "valid-full-cp932")).outcome == "applied"
    db = demo_runtime.settings.db_path
    cp932 = rows(db, "SELECT * FROM residents WHERE municipality_code = ? ORDER BY resident_code", CODE)
    other = Runtime(on_sqlite(tmp_path / "d"), clock=FixedClock(TEST_NOW))
    await other.start()
    try:
        await other.municipalities.add(code=CODE, name="北山町", kind="town", population=6200, actor=OP)
        assert (await other.linkage.link(FIX / "valid-full")).outcome == "applied"
        utf8 = rows(other.settings.db_path, "SELECT * FROM residents ORDER BY resident_code")
    finally:
        await other.stop()
    assert cp932 == utf8


def copy(src: Path, tmp: Path) -> Path:
    target = tmp / src.name
    if src.is_dir():
        shutil.copytree(src, target)
    else:
        shutil.copy(src, target)
    return target


INVALID = [
    ("checksum-mismatch", "residents.csv", None, "checksum mismatch"),
    ("count-mismatch", "taxes.csv", None, "the manifest says 7"),
    ("unknown-column", "residents.csv", "nickname", "unknown column"),
    ("missing-column", "residents.csv", "sex", "required column 'sex' is missing"),
    ("bad-dates", "residents.csv", "birth_date", "outside the 平成 era"),
    ("bad-sex", "residents.csv", "sex", "not a sex code"),
    ("bad-kana", "residents.csv", "name_kana", "not katakana"),
    ("short-resident-code", "residents.csv", "resident_code", "not an 11-digit resident code"),
    ("duplicate-resident-code", "residents.csv", "resident_code", "appears twice"),
    ("cp932-declared-utf8-given", "residents.csv", None, "cp932 is declared but the file is UTF-8"),
    ("utf8-declared-cp932-given", "residents.csv", None, "not UTF-8"),
    ("impression-not-png", "seals.csv", "impression", "not a PNG"),
    ("truncated.zip", "truncated.zip", None, "not a readable zip"),
    ("zip-slip.zip", "zip-slip.zip", None, "unsafe entry name '../../evil.txt'"),
    ("absolute-path.zip", "absolute-path.zip", None, "unsafe entry name '/etc/evil.txt'"),
    ("zip-bomb.zip", "zip-bomb.zip", None, "zip bomb"),
]


@pytest.mark.parametrize(("name", "file", "column", "reason"), INVALID, ids=[i[0] for i in INVALID])
async def test_each_invalid_batch_is_rejected_and_changes_nothing(
    demo_runtime: Runtime, db_dump: Callable[[Path], list[str]], tmp_path: Path,
    name: str, file: str, column: str | None, reason: str,
) -> None:
    before = db_dump(demo_runtime.settings.db_path)
    backups_before = sorted((demo_runtime.settings.data_dir).rglob("*.bclbak"))
    result = await demo_runtime.linkage.link(copy(FIX / "invalid" / name, tmp_path))
    assert result.outcome == "rejected"
    assert any(p.file == file and p.column == column and reason in p.reason for p in result.problems), result.problems
    after = db_dump(demo_runtime.settings.db_path)
    assert held_data(after) == held_data(before) and kept_rejections(after) == kept_rejections(before) + 1
    assert sorted(demo_runtime.settings.data_dir.rglob("*.bclbak")) == backups_before
    assert not list((tmp_path / "evil.txt").parent.glob("evil.txt"))
    journal = await demo_runtime.linkage.batches(CODE if result.municipality_code else None)
    assert any(b.outcome == "rejected" and b.problems for b in journal)


@pytest.mark.parametrize(
    ("name", "column", "reason"),
    [
        ("bad-change-code", "change", "change 'X' is not A, U or D"),
        ("delete-unknown-resident", "change", "D of resident 99999999999, which is not held"),
        ("sequence-gap", "sequence", "a delta must be sequence 3"),
    ],
)
async def test_bad_deltas_are_rejected(
    demo_runtime: Runtime, db_dump: Callable[[Path], list[str]], name: str, column: str, reason: str
) -> None:
    assert (await demo_runtime.linkage.link(FIX / "valid-full")).outcome == "applied"
    before = db_dump(demo_runtime.settings.db_path)
    result = await demo_runtime.linkage.link(FIX / "invalid" / name)
    assert result.outcome == "rejected"
    assert any(p.column == column and reason in p.reason for p in result.problems), result.problems
    after = db_dump(demo_runtime.settings.db_path)
    assert held_data(after) == held_data(before) and kept_rejections(after) == kept_rejections(before) + 1


async def test_sequence_rules(demo_runtime: Runtime, tmp_path: Path) -> None:
    rt = demo_runtime
    assert (await rt.linkage.link(FIX / "valid-full")).outcome == "applied"
    # the same sequence with other content is a conflict
    other = copy(FIX / "invalid" / "bad-sex", tmp_path)
    result = await rt.linkage.link(other)
    assert result.outcome == "rejected" and "conflict" in result.problems[0].reason
    # a full batch must go above the last applied sequence
    higher = make_batch(tmp_path / "higher", sequence=9)
    assert (await rt.linkage.link(higher)).outcome == "applied"  # a full may skip numbers
    lower = make_batch(tmp_path / "lower", sequence=5)
    result = await rt.linkage.link(lower)
    assert result.outcome == "rejected" and "above the last applied (9)" in result.problems[0].reason


def make_batch(d: Path, *, sequence: int, code: str = CODE, n: int = 3, bad_rows: int = 0) -> Path:
    d.mkdir(parents=True)
    header = ("resident_code", "household_number", "name", "name_kana", "birth_date", "sex",
              "relationship", "address", "resident_since", "status")
    good = [(f"2{i:010d}", f"H{i}", "試験 太郎", "シケン タロウ", "1980-01-01", "1", "世帯主",
             "東雲県北山町1番地", "2000-01-01", "active") for i in range(n)]
    bad = [(f"3{i:010d}", f"B{i}", "試験", "しけん", "1980-13-01", "4", "", "", "", "gone")
           for i in range(bad_rows)]
    files = {"residents.csv": write_csv(d / "residents.csv", header, good + bad)}
    write_manifest(d, municipality_code=code, sequence=sequence, kind="full",
                   created_at="2026-06-01T00:00:00+09:00", files=files)
    return d


async def test_problem_lists_are_complete_but_capped(demo_runtime: Runtime, tmp_path: Path) -> None:
    batch = make_batch(tmp_path / "b", sequence=2, bad_rows=100)
    result = await demo_runtime.linkage.link(batch)
    assert result.outcome == "rejected"
    # 100 rows x 8 problems each: the first 200 listed, the rest counted
    assert len(result.problems) == 200 and result.problems_omitted == 600
    assert result.as_dict()["problems_omitted"] == 600
    assert {p.line for p in result.problems[:8]} == {5}


async def test_unknown_municipality_is_rejected(demo_runtime: Runtime, tmp_path: Path) -> None:
    batch = make_batch(tmp_path / "b", sequence=1, code="131016")
    result = await demo_runtime.linkage.link(batch)
    assert result.outcome == "rejected"
    assert result.problems[0].reason == "municipality 131016 is not registered"


async def test_export_then_link_into_an_empty_centre_gives_identical_data(
    demo_runtime: Runtime, tmp_path: Path
) -> None:
    code = "994821"
    out = tmp_path / "export"
    doc = await demo_runtime.linkage.export(code, out)
    assert doc.counts["residents"] == 2400
    src_db = demo_runtime.settings.db_path
    other = Runtime(on_sqlite(tmp_path / "empty"), clock=FixedClock(TEST_NOW))
    await other.start()
    try:
        await other.municipalities.add(code=code, name="桜川村", kind="village", population=2400, actor=OP)
        result = await other.linkage.link(out)
        assert result.outcome == "applied", result.problems[:3]
        dst_db = other.settings.db_path
        for sql in (
            "SELECT * FROM residents WHERE municipality_code = ? ORDER BY resident_code",
            "SELECT s.resident_code, s.seal_number, s.registered_on, s.status, i.png FROM seals s "
            "JOIN seal_impressions i ON i.sha256 = s.impression_sha256 WHERE municipality_code = ? "
            "ORDER BY 1, 2",
            "SELECT * FROM taxes WHERE municipality_code = ? ORDER BY resident_code, fiscal_year",
        ):
            assert rows(src_db, sql, code) == rows(dst_db, sql, code)
    finally:
        await other.stop()
    with pytest.raises(InvalidInput, match="not an empty directory"):
        await demo_runtime.linkage.export(code, out)


async def test_restore_rebuilds_from_full_plus_deltas(demo_runtime: Runtime) -> None:
    rt = demo_runtime
    db = rt.settings.db_path
    await rt.linkage.link(FIX / "valid-full")
    after_full = rows(db, "SELECT * FROM residents WHERE municipality_code = ? ORDER BY 2", CODE)
    await rt.linkage.link(FIX / "valid-delta")
    after_delta = rows(db, "SELECT * FROM residents WHERE municipality_code = ? ORDER BY 2", CODE)
    # the data is lost (a disaster): restore brings back the newest state
    await execute(rt, "DELETE FROM taxes WHERE municipality_code = ?", CODE)
    doc = await rt.linkage.restore(CODE, actor=OP)
    assert doc.restored_to_sequence == 3 and doc.batches == (2, 3)
    assert rows(db, "SELECT * FROM residents WHERE municipality_code = ? ORDER BY 2", CODE) == after_delta
    assert rows(db, "SELECT count(*) FROM taxes WHERE municipality_code = ?", CODE) == [(6,)]
    doc = await rt.linkage.restore(CODE, 2, actor=OP)
    assert rows(db, "SELECT * FROM residents WHERE municipality_code = ? ORDER BY 2", CODE) == after_full
    trail = await rt.municipalities.audit_trail(CODE, 2)
    assert [(e.action, e.new_value) for e in trail] == [("restore", "2"), ("restore", "3")]
    with pytest.raises(InvalidInput, match="no backup of sequence 7"):
        await rt.linkage.restore(CODE, 7, actor=OP)


async def test_a_tampered_backup_is_refused(demo_runtime: Runtime, db_dump: Callable[[Path], list[str]]) -> None:
    rt = demo_runtime
    await rt.linkage.link(FIX / "valid-full")
    backup = (await rt.linkage.backups(CODE))[0].path
    data = bytearray(await rt.store.files.read(backup))
    data[len(data) // 2] ^= 0xFF
    await rt.store.files.save(backup, bytes(data))
    before = db_dump(rt.settings.db_path)
    with pytest.raises(Exception, match="wrong key, or it was altered"):
        await rt.linkage.restore(CODE, actor=OP)
    assert db_dump(rt.settings.db_path) == before


@pytest.mark.sqlite_only
async def test_rejected_batches_keep_no_personal_data_in_the_clear(demo_runtime: Runtime, tmp_path: Path) -> None:
    """The problem lists quote resident codes, kana names and dates: the database keeps them
    sealed (backup key; the database file is 0600), keeps them for the operator, and drops
    entries after 90 days."""
    import stat
    from datetime import timedelta

    rt = demo_runtime
    db = rt.settings.db_path

    def kept() -> list[tuple[str, str | None, bytes]]:
        return [(r[0], r[1], bytes(r[2])) for r in
                rows(db, "SELECT received_at, municipality_code, sealed FROM linkage_rejections ORDER BY id")]

    result = await rt.linkage.link(copy(FIX / "invalid" / "bad-kana", tmp_path))
    assert result.outcome == "rejected"
    quoted = [p.reason for p in result.problems if p.column == "name_kana"]
    assert quoted
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    (entry,) = kept()
    assert entry[1] == CODE
    for reason in quoted:
        assert reason.encode("utf-8") not in entry[2]
    residents = [line.split(",")[0] for line in (FIX / "invalid" / "bad-kana" / "residents.csv")
                 .read_text(encoding="utf-8").splitlines()[1:]]
    assert residents and not any(code.encode("ascii") in entry[2] for code in residents)
    assert not rt.linkage.legacy_journal_path.exists()  # nothing is written beside the database
    # the operator still sees every problem, with its file, line, column and reason
    views = [b for b in await rt.linkage.batches(CODE) if b.outcome == "rejected"]
    assert [p["reason"] for p in views[0].problems if p["column"] == "name_kana"] == quoted
    await rt.linkage.link(copy(FIX / "invalid" / "bad-sex", tmp_path / "again"))
    assert len(kept()) == 2
    # 91 days on, entries are gone
    clock = rt.clock
    assert isinstance(clock, FixedClock)
    clock.set(clock.now() + timedelta(days=91))
    await rt.linkage.link(copy(FIX / "invalid" / "bad-dates", tmp_path / "later"))
    assert len(kept()) == 1


async def test_two_rejections_at_once_both_keep_their_entries(demo_runtime: Runtime, tmp_path: Path) -> None:
    """Two writers at once (two HTTP uploads, the console and `link` in another process)
    keep every entry: the journal file rewritten whole on each append once kept about half
    of them without a lock; the database serialises them."""
    import asyncio

    from bcl_console.services.linkage import rejected_journal

    rt = demo_runtime
    other = Runtime(rt.settings, clock=rt.clock)  # a second process's store on the same centre
    await other.start()
    key = rt.keys.backup_key
    now = rt.clock.now()

    async def write(runtime: Runtime, n: int) -> None:
        for i in range(40):
            entry = {"municipality_code": CODE, "sequence": n * 100 + i, "problems": []}
            await runtime.store.linkage.record_rejected(rejected_journal.seal(key, now.isoformat(), entry),
                                                        now - rejected_journal.RETENTION)

    try:
        await asyncio.gather(write(rt, 0), write(other, 1))
    finally:
        await other.stop()
    sequences = {b.sequence for b in await rt.linkage.batches(CODE, limit=1000) if b.outcome == "rejected"}
    assert sequences == {n * 100 + i for n in range(2) for i in range(40)}


@pytest.mark.sqlite_only
async def test_a_journal_file_of_an_earlier_version_is_imported_at_start(demo_dir: Path) -> None:
    """An older centre kept the problem lists in linkage/rejected.jsonl, sealed or (before
    that) in the clear: the next start imports every entry, sealed, into the database and
    removes the file; an import cut off before the removal adds nothing the second time."""
    import base64
    import json

    from bcl_console.services.linkage import rejected_journal

    settings = load_settings(str(demo_dir))
    journal = settings.linkage_dir / "rejected.jsonl"
    journal.parent.mkdir(exist_ok=True)
    rt = Runtime(settings, clock=FixedClock(TEST_NOW))
    key = rt.keys.backup_key  # the demo centre's
    clear = {"received_at": "2026-06-16T01:00:00+00:00", "municipality_code": CODE, "sequence": 9,
             "problems": [{"file": "residents.csv", "line": 2, "column": "name", "reason": "山田 花子 …"}]}
    record = rejected_journal.seal(key, "2026-06-15T01:00:00+00:00",
                                   {"municipality_code": CODE, "sequence": 8, "problems": []})
    lines = [json.dumps(clear, ensure_ascii=False),
             json.dumps({"received_at": record.received_at, "municipality_code": CODE,
                         "sealed": base64.b64encode(record.sealed).decode("ascii")})]
    text = "".join(line + "\n" for line in lines)
    journal.write_text(text, encoding="utf-8")
    for attempt in range(2):
        rt = Runtime(settings, clock=FixedClock(TEST_NOW))
        await rt.start()
        try:
            assert not journal.exists()
            stored = rows(settings.db_path, "SELECT sealed FROM linkage_rejections")
            assert len(stored) == len(lines)
            assert not any("山田".encode() in bytes(r[0]) for r in stored)
            sequences = {b.sequence for b in await rt.linkage.batches(CODE) if b.outcome == "rejected"}
            assert sequences == {9, 8}
        finally:
            await rt.stop()
        if attempt == 0:  # as if the first import had committed and then been killed
            journal.write_text(text, encoding="utf-8")


async def test_a_nul_anywhere_in_a_batch_is_a_problem_with_its_place_and_changes_nothing(
        demo_runtime: Runtime, tmp_path: Path) -> None:
    # PostgreSQL keeps no NUL in a text: the same batch is refused the same way on both stores
    before = query(demo_runtime.settings.db_path, "SELECT count(*), max(household_number) FROM residents "
                                                  "WHERE municipality_code = ?", CODE)
    batch = tmp_path / "csv"
    batch.mkdir()
    header = ("resident_code", "household_number", "name", "name_kana", "birth_date", "sex",
              "relationship", "address", "resident_since", "status")
    rows = [(f"2{i:010d}", "H\x001" if i == 1 else f"H{i}", "試験 太郎", "シケン タロウ", "1980-01-01", "1", "世帯主",
             "東雲県北山町1番地", "2000-01-01", "active") for i in range(3)]
    write_manifest(batch, municipality_code=CODE, sequence=2, kind="full", created_at="2026-06-01T00:00:00+09:00",
                   files={"residents.csv": write_csv(batch / "residents.csv", header, rows)})
    result = await demo_runtime.linkage.link(batch)
    assert result.outcome == "rejected"
    assert [(p.file, p.line, p.column, p.reason) for p in result.problems] == [
        ("residents.csv", 3, "household_number", "household_number holds a NUL character")]

    batch = make_batch(tmp_path / "manifest", sequence=2, n=3)
    manifest = (batch / "manifest.json").read_text(encoding="utf-8")
    (batch / "manifest.json").write_text(manifest.replace('+09:00"', '+09:00\\u0000"'), encoding="utf-8")
    result = await demo_runtime.linkage.link(batch)
    assert result.outcome == "rejected"
    assert [(p.file, p.column, p.reason) for p in result.problems] == [
        ("manifest.json", "created_at", "created_at holds a control character")]
    assert query(demo_runtime.settings.db_path, "SELECT count(*), max(household_number) FROM residents "
                                                "WHERE municipality_code = ?", CODE) == before
