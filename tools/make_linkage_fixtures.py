"""Make the linkage fixtures in fixtures/linkage/ (committed; run again after a format change).

    .venv/bin/python tools/make_linkage_fixtures.py

All batches are for 北山町 (993611) of the demo data set, whose demo batch is sequence 1:
``valid-full`` is sequence 2 and ``valid-delta`` sequence 3, so a trainer can link them
into a fresh demo in that order. Every batch under ``invalid/`` breaks exactly one rule;
``invalid/README.md`` says which, and what the centre answers.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bcl_console.domain.linkage import RESIDENT_OPTIONAL, RESIDENT_REQUIRED, SEAL_COLUMNS, TAX_COLUMNS  # noqa: E402
from bcl_console.services.linkage.batch_writer import write_csv, write_manifest  # noqa: E402
from bcl_console.services.issuance.seal_image import seal_png  # noqa: E402

OUT = ROOT / "fixtures" / "linkage"
CODE = "993611"
CREATED = "2026-04-01T02:00:00+09:00"
RES_COLS = (*RESIDENT_REQUIRED, *RESIDENT_OPTIONAL)
ADDR = "東雲県北山町大字上原"

RESIDENTS = [
    # code, household, name, kana, birth, sex, rel, address, since, status, prev, domicile, head, status_date, help, restricted
    ("10000000017", "00000101", "山田 太郎", "ヤマダ タロウ", "1968-05-12", "1", "世帯主", f"{ADDR}120番地", "1995-04-01", "active", "西雲県港浜市本町一丁目2番3号", f"{ADDR}120番地", "山田 太郎", "", "0", "0"),
    ("10000000025", "00000101", "山田 花子", "ﾔﾏﾀﾞ ﾊﾅｺ", "S45.8.3", "2", "妻", f"{ADDR}120番地", "平成7年4月1日", "active", "西雲県港浜市本町一丁目2番3号", f"{ADDR}120番地", "山田 太郎", "", "0", "0"),
    ("10000000033", "00000101", "山田 健太", "ヤマダ ケンタ", "2001/11/20", "1", "子", f"{ADDR}120番地", "2001-11-20", "active", "", f"{ADDR}120番地", "山田 太郎", "", "0", "0"),
    ("10000000041", "00000101", "山田 茂", "ヤマダ シゲル", "昭和13年2月1日", "1", "父", f"{ADDR}120番地", "1995-04-01", "active", "", f"{ADDR}120番地", "山田 茂", "", "1", "0"),
    ("10000000059", "00000102", "佐藤 幸子", "サトウ サチコ", "1941-07-07", "2", "世帯主", f"{ADDR}88番地", "1970-03-01", "active", "", f"{ADDR}88番地", "佐藤 幸子", "", "1", "0"),
    ("10000000067", "00000103", "鈴木 誠", "スズキ マコト", "1985-01-30", "1", "世帯主", "東雲県北山町大字下原7番地", "2015-10-01", "active", "南原県青島市栄町三丁目4番5号", "南原県青島市栄町三丁目4番", "鈴木 誠", "", "0", "0"),
    ("10000000075", "00000103", "鈴木 恵", "スズキ メグミ", "1987-09-14", "2", "妻", "東雲県北山町大字下原7番地", "2015-10-01", "active", "南原県青島市栄町三丁目4番5号", "南原県青島市栄町三丁目4番", "鈴木 誠", "", "0", "1"),
    ("10000000083", "00000103", "鈴木 陽葵", "スズキ ヒマリ", "R2.6.1", "2", "子", "東雲県北山町大字下原7番地", "2020-06-01", "active", "", "南原県青島市栄町三丁目4番", "鈴木 誠", "", "0", "0"),
    ("10000000091", "00000104", "高橋 勇", "タカハシ イサム", "1935-12-24", "1", "世帯主", f"{ADDR}301番地", "1960-05-01", "deceased", "", f"{ADDR}301番地", "高橋 勇", "2026-02-10", "0", "0"),
    ("10000000105", "00000105", "田中 直樹", "タナカ ナオキ", "1990-03-03", "1", "世帯主", "東雲県北山町大字中原15番地", "2018-04-01", "moved-out", "北湊県白川町旭町二丁目1番1号", "北湊県白川町旭町二丁目1番", "田中 直樹", "2026-03-15", "0", "0"),
]
SEALS = [
    ("10000000017", "0000101", "2001-04-02", "active", "seals/yamada.png"),
    ("10000000025", "0000102", "2005-06-10", "active", "seals/yamada.png"),
    ("10000000059", "0000103", "1980-01-15", "active", "seals/sato.png"),
    ("10000000067", "0000104", "2016-02-01", "abolished", "seals/suzuki.png"),
]
TAXES = [
    ("10000000017", 2025, 5200000, 6800000, 1480000, 3720000, 226200, 149800),
    ("10000000025", 2025, 550000, 1100000, 430000, 120000, 10200, 5800),
    ("10000000033", 2025, 2140000, 3000000, 880000, 1260000, 78600, 51400),
    ("10000000041", 2025, 1200000, 0, 1100000, 100000, 9000, 5000),
    ("10000000059", 2025, 900000, 0, 900000, 0, 0, 0),
    ("10000000067", 2025, 4300000, 5800000, 1300000, 3000000, 183000, 121000),
]


def batch(name: str, *, sequence: int = 2, kind: str = "full", residents=RESIDENTS, seals=SEALS,
          taxes=TAXES, res_cols=RES_COLS, encoding: str = "utf-8", newline: str = "\n",
          manifest_code: str = CODE, tweak=None) -> Path:
    d = OUT / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "seals").mkdir()
    for family, file in (("山田", "yamada"), ("佐藤", "sato"), ("鈴木", "suzuki")):
        (d / "seals" / f"{file}.png").write_bytes(seal_png(family))
    files = {}
    codec = "cp932" if encoding == "cp932" else "utf-8"
    seal_cols = (*SEAL_COLUMNS, "change") if kind == "delta" else SEAL_COLUMNS
    tax_cols = (*TAX_COLUMNS, "change") if kind == "delta" else TAX_COLUMNS
    if residents is not None:
        files["residents.csv"] = write_csv(d / "residents.csv", res_cols, residents, codec, newline)
    if seals is not None:
        files["seals.csv"] = write_csv(d / "seals.csv", seal_cols, seals, codec, newline)
    if taxes is not None:
        files["taxes.csv"] = write_csv(d / "taxes.csv", tax_cols, taxes, codec, newline)
    if not seals:
        shutil.rmtree(d / "seals")
    manifest = write_manifest(d, municipality_code=manifest_code, sequence=sequence, kind=kind,
                              created_at=CREATED, files=files, encoding=encoding)
    if tweak:
        tweak(d, manifest)
        (d / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
    return d


def zip_dir(src: Path, target: Path, extra: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(src).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    full = batch("valid-full", newline="\r\n")
    zip_dir(full, OUT / "valid-full.zip")
    batch("valid-full-cp932", sequence=2, encoding="cp932", newline="\r\n")
    delta_res_cols = (*RES_COLS, "change")
    birth = ("10000000113", "00000103", "鈴木 蓮", "スズキ レン", "2026-03-01", "1", "子",
             "東雲県北山町大字下原7番地", "2026-03-01", "active", "", "南原県青島市栄町三丁目4番", "鈴木 誠", "", "0", "0", "A")
    moved = list(RESIDENTS[4]) + ["U"]
    moved[7] = f"{ADDR}90番地"
    gone = list(RESIDENTS[8]) + ["D"]
    batch("valid-delta", sequence=3, kind="delta", res_cols=delta_res_cols,
          residents=[birth, tuple(moved), tuple(gone)],
          seals=[("10000000075", "0000105", "2026-03-20", "active", "seals/suzuki.png", "A")],
          taxes=[("10000000025", 2025, 600000, 1150000, 430000, 170000, 13200, 7800, "U")])

    inv = OUT / "invalid"
    inv.mkdir()
    notes: list[tuple[str, str]] = []

    def bad(name: str, note: str, **kw) -> Path:
        notes.append((name, note))
        return batch(f"invalid/{name}", **kw)

    def t_checksum(d: Path, m: dict) -> None:
        m["files"]["residents.csv"]["sha256"] = "0" * 64
    bad("checksum-mismatch", "residents.csv does not match its sha256", tweak=t_checksum)

    def t_count(d: Path, m: dict) -> None:
        m["files"]["taxes.csv"]["records"] += 1
    bad("count-mismatch", "taxes.csv has one record fewer than the manifest says", tweak=t_count)
    bad("unknown-column", "residents.csv has a column `nickname`",
        res_cols=(*RES_COLS, "nickname"), residents=[(*r, "") for r in RESIDENTS])
    idx = RES_COLS.index("sex")
    bad("missing-column", "residents.csv lacks the required column `sex`",
        res_cols=tuple(c for c in RES_COLS if c != "sex"),
        residents=[tuple(v for i, v in enumerate(r) if i != idx) for r in RESIDENTS],
        seals=None, taxes=None)
    dated = [list(r) for r in RESIDENTS]
    dated[0][4], dated[1][4], dated[2][4], dated[3][4] = "H31.5.1", "令和0年1月1日", "2099-01-01", "2024-02-30"
    bad("bad-dates", "birth dates H31.5.1, 令和0年1月1日, 2099-01-01 and 2024-02-30", residents=dated)
    sexed = [list(r) for r in RESIDENTS]
    sexed[2][5] = "3"
    bad("bad-sex", "a sex code of 3", residents=sexed)
    kana = [list(r) for r in RESIDENTS]
    kana[1][3] = "やまだ はなこ"
    bad("bad-kana", "a reading in hiragana", residents=kana)
    short = [list(r) for r in RESIDENTS]
    short[0][0] = "1000000001"
    bad("short-resident-code", "a resident code of 10 digits", residents=short)
    dup = [list(r) for r in RESIDENTS]
    dup[5][0] = dup[4][0]
    bad("duplicate-resident-code", "the same resident code on two lines", residents=dup)
    bad("bad-change-code", "a delta row whose change is X", sequence=3, kind="delta",
        res_cols=(*RES_COLS, "change"), residents=[(*RESIDENTS[0], "X")], seals=None, taxes=None)
    bad("delete-unknown-resident", "a delta that deletes a resident who is not held", sequence=3,
        kind="delta", res_cols=(*RES_COLS, "change"),
        residents=[("99999999999", *RESIDENTS[0][1:], "D")], seals=None, taxes=None)
    bad("sequence-gap", "a delta numbered 5 after 2", sequence=5, kind="delta",
        res_cols=(*RES_COLS, "change"), residents=[(*RESIDENTS[5], "U")], seals=None, taxes=None)

    def t_cp932(d: Path, m: dict) -> None:
        m["encoding"] = "cp932"
    bad("cp932-declared-utf8-given", "the manifest says cp932, the files are UTF-8", tweak=t_cp932)
    bad("utf8-declared-cp932-given", "the manifest says utf-8, the files are cp932", encoding="cp932",
        tweak=lambda d, m: m.__setitem__("encoding", "utf-8"))

    def t_png(d: Path, m: dict) -> None:
        (d / "seals" / "sato.png").write_bytes(b"GIF89a not a png")
    bad("impression-not-png", "a seal impression that is not a PNG", tweak=t_png)

    zip_dir(full, inv / "truncated.zip")
    data = (inv / "truncated.zip").read_bytes()
    (inv / "truncated.zip").write_bytes(data[: len(data) // 2])
    notes.append(("truncated.zip", "a zip cut in half"))
    zip_dir(full, inv / "zip-slip.zip", {"../../evil.txt": b"owned"})
    notes.append(("zip-slip.zip", "an entry named ../../evil.txt"))
    zip_dir(full, inv / "absolute-path.zip", {"/etc/evil.txt": b"owned"})
    notes.append(("absolute-path.zip", "an entry named /etc/evil.txt"))
    with zipfile.ZipFile(inv / "zip-bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(full.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(full).as_posix())
        zf.writestr("seals/huge.png", b"\0" * (200 * 1024 * 1024))
    notes.append(("zip-bomb.zip", "an entry that expands 1000-fold to 200 MB"))
    other = batch("other-municipality", manifest_code="994821")
    zip_dir(other, OUT / "other-municipality.zip")
    shutil.rmtree(other)

    lines = ["# Invalid linkage batches", "",
             "Each breaks one rule; `bcl-console link` rejects it with exit 3 and the problem list,",
             "and changes nothing.", "", "| batch | what is wrong |", "|---|---|"]
    lines += [f"| `{n}` | {note} |" for n, note in notes]
    (inv / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"fixtures written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
