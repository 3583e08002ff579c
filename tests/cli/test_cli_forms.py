"""The flood fields of `disaster assess` and the 罹災証明書 they make (issue #14 §4)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from pypdf import PdfReader

from bcl_console.cli import main

NOW = ["--now", "2026-06-17T10:00:00+09:00"]


def test_assess_takes_the_flood_level_and_the_certificate_marks_it(capsys: pytest.CaptureFixture[str],
                                                                   demo_dir: Path, tmp_path: Path) -> None:
    data = ["--data-dir", str(demo_dir), *NOW]
    conn = sqlite3.connect(demo_dir / "bcl.sqlite3")
    (household, head), = conn.execute(
        "SELECT household_number, resident_code FROM residents WHERE municipality_code = '993611' "
        "AND relationship = '世帯主' AND status = 'active' AND restricted = 0 ORDER BY household_number "
        "LIMIT 1").fetchall()
    conn.close()
    assess = ["disaster", "assess", "1", "--municipality", "993611", "--household", household, "--ratio", "25",
              "--inspector", "調査員 中野", *data, "--json"]
    assert main([*assess, "--flood-depth", "30"]) == 3  # a depth needs a level
    assert json.loads(capsys.readouterr().out)["error"]["field"] == "flood_level"
    assert main([*assess, "--flood", "床下", "--flood-depth", "30"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["flood_level"] == "床下浸水" and doc["flood_depth_cm"] == 30 and doc["damage_class"] == "半壊"
    out = tmp_path / "r.pdf"
    assert main(["issue", "--resident", head, "--type", "disaster", "--disaster", "1", "--out", str(out), *data]) == 0
    capsys.readouterr()
    text = "".join(PdfReader(out).pages[0].extract_text().split())
    assert "□全壊□大規模半壊□中規模半壊■半壊□準半壊□準半壊に至らない（一部損壊）" in text
    assert "□床上浸水■床下浸水（浸水深30cm）" in text
