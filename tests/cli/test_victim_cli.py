"""`disaster victim-report` / `victim-reports` and `issue --type disaster-victim` (contract §14)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bcl_console.cli import main

NOW = "2026-06-17T10:00+09:00"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--now", NOW])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_refuse_a_second_amend_list_and_issue(capsys: pytest.CaptureFixture[str], demo_dir: Path,
                                                      tmp_path: Path) -> None:
    data = ["--data-dir", str(demo_dir)]
    resident = sqlite3.connect(demo_dir / "bcl.sqlite3").execute(
        "SELECT resident_code FROM residents WHERE municipality_code='993611' AND status='active' AND restricted=0 "
        "AND resident_code NOT IN (SELECT resident_code FROM victim_reports) LIMIT 1").fetchone()[0]
    report = ["disaster", "victim-report", "1", "--municipality", "993611", "--resident", resident, *data]
    code, out, _ = run(capsys, *report, "--harm", "家財（畳、冷蔵庫）が浸水で損傷", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["harm"] == "家財（畳、冷蔵庫）が浸水で損傷" and doc["revision"] == 1
    assert doc["reported_on"] == "2026-06-17"

    code, out, err = run(capsys, *report, "--harm", "自家用車が冠水", "--json")
    assert code == 3 and json.loads(out)["error"]["code"] == "conflict"
    assert "already reported harm for disaster 1" in err
    code, out, err = run(capsys, *report, "--harm", "")
    assert code == 3 and "harm is empty" in err
    code, out, _ = run(capsys, *report, "--harm", "自家用車が冠水", "--amend", "--date", "2026-06-10", "--json")
    assert code == 0 and json.loads(out)["revision"] == 2 and json.loads(out)["reported_on"] == "2026-06-10"

    code, out, _ = run(capsys, "disaster", "victim-reports", "1", "--municipality", "993611", *data, "--json")
    mine = [r for r in json.loads(out)["reports"] if r["resident_code"] == resident]
    assert code == 0 and [r["harm"] for r in mine] == ["自家用車が冠水"]
    code, out, _ = run(capsys, "disaster", "victim-reports", "1", *data)
    assert code == 0 and "自家用車が冠水" in out and "届出日" in out

    pdf = tmp_path / "victim.pdf"
    code, out, _ = run(capsys, "issue", "--resident", resident, "--type", "disaster-victim", "--disaster", "1",
                       "--out", str(pdf), *data, "--json")
    assert code == 0 and json.loads(out)["type"] == "disaster-victim" and pdf.read_bytes().startswith(b"%PDF")
    code, out, _ = run(capsys, "verify", str(pdf), *data, "--json")
    assert code == 0 and json.loads(out)["status"] == "genuine"
