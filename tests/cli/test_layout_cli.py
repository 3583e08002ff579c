"""`layout list|stage|retest|activate` (contract §15): end to end on the command line."""

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


def test_stage_retest_activate(capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path) -> None:
    db = demo_dir / "bcl.sqlite3"
    with sqlite3.connect(db) as conn:  # the centre before the demo's law change was staged
        conn.execute("DELETE FROM layout_retests")
        conn.execute("DELETE FROM layout_versions")
    conn.close()
    data = ["--data-dir", str(demo_dir)]
    code, out, _ = run(capsys, "layout", "list", *data, "--json")
    states = {(x["type"], x["version"]): x["state"] for x in json.loads(out)["layouts"]}
    assert code == 0 and states[("residence", 1)] == "active" and states[("residence", 2)] == "available"

    # bad input: one sentence, exit 2, nothing changed
    for args, words in ((("stage", "residence", "9"), "no layout version 9"),
                        (("stage", "passport", "2"), "unknown certificate type"),
                        (("activate", "residence", "two"), "not a whole number")):
        code, out, err = run(capsys, "layout", *args, *data)
        assert code == 2 and words in err and err.count("\n") == 1, (args, err)
    code, _, err = run(capsys, "layout", "retest", "residence", *data)
    assert code == 3 and "no layout version of residence is staged" in err

    code, out, _ = run(capsys, "layout", "stage", "residence", "2", *data, "--json")
    assert code == 0 and json.loads(out) == {"type": "residence", "version": 2, "state": "staged", "changed": True}
    code, _, err = run(capsys, "layout", "activate", "residence", "2", *data)
    assert code == 3 and "not re-tested" in err
    code, out, _ = run(capsys, "layout", "retest", "residence", *data, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] and {r["municipality_code"] for r in doc["retests"]} == {"993611", "994821"}
    assert all(r["evidence"]["issuances"][0]["layout_version"] == 2 for r in doc["retests"])
    code, out, _ = run(capsys, "layout", "list", *data)
    assert code == 0 and "staged" in out and "passed 2, failed 0, to re-test 0" in out
    code, out, _ = run(capsys, "layout", "activate", "residence", "2", *data, "--json")
    assert code == 0 and json.loads(out)["state"] == "active"

    resident = sqlite3.connect(db).execute(
        "SELECT resident_code FROM residents WHERE municipality_code='993611' AND status='active' AND restricted=0 "
        "AND former_surname <> '' LIMIT 1").fetchone()[0]
    pdf = tmp_path / "v2.pdf"
    code, out, _ = run(capsys, "issue", "--resident", resident, "--type", "residence", "--out", str(pdf), *data)
    assert code == 0
    assert sqlite3.connect(db).execute(
        "SELECT layout_version FROM issuances WHERE channel = 'counter' ORDER BY id DESC LIMIT 1").fetchone() == (2,)


def test_activation_refused_when_a_retest_failed(capsys: pytest.CaptureFixture[str], demo_dir: Path) -> None:
    db = demo_dir / "bcl.sqlite3"
    with sqlite3.connect(db) as conn:  # the village's re-test failed (its relay was closed by a drill)
        conn.execute("INSERT INTO failure_drills (municipality_code, started_at) "
                     "VALUES ('994821', '2026-06-17T00:00:00+00:00')")
    conn.close()
    data = ["--data-dir", str(demo_dir)]
    code, out, _ = run(capsys, "layout", "retest", "residence", *data, "--json")
    outcomes = {r["municipality_code"]: r["outcome"] for r in json.loads(out)["retests"]}
    assert code == 1 and outcomes == {"993611": "passed", "994821": "failed"}
    before = sqlite3.connect(db).execute("SELECT type, version, state FROM layout_versions").fetchall()
    code, out, err = run(capsys, "layout", "activate", "residence", "2", *data, "--json")
    assert code == 3 and "the re-test failed for 994821" in err and json.loads(out)["error"]["code"] == "conflict"
    assert sqlite3.connect(db).execute("SELECT type, version, state FROM layout_versions").fetchall() == before
