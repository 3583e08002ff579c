"""Every command through the real entry point, `bcl_console.cli.main`, and the script."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bcl_console.cli import main
from tests.conftest import dump
from tests.services.test_linkage import held_data, kept_rejections

NOW = ["--now", "2026-06-17T10:00:00+09:00"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, _ = run(capsys, *args, "--json")
    return code, json.loads(out)


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """An empty centre, made the way an operator makes one: `bcl-console init`."""
    directory = str(tmp_path / "data")
    assert main(["init", "--data-dir", directory, "--json"]) == 0
    capsys.readouterr()
    return directory


def add(capsys: pytest.CaptureFixture[str], data: str, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    return run_json(
        capsys, "municipality", "add", "--code", "131016", "--name", "千代田区", "--kind",
        "special-ward", "--population", "68000", "--service-start", "2020-04-01",
        "--data-dir", data, *NOW, *extra,
    )


def test_municipality_commands_end_to_end(capsys: pytest.CaptureFixture[str], data: str) -> None:
    code, doc = add(capsys, data)
    assert code == 0 and doc["code"] == "131016" and doc["state"] == "live"
    code, doc = run_json(capsys, "municipality", "list", "--data-dir", data, *NOW)
    assert code == 0
    assert doc == {"municipalities": [{
        "code": "131016", "name": "千代田区", "kind": "special-ward", "population": 68000,
        "hosting": "bcl", "service_start": "2020-04-01", "state": "live",
    }]}
    code, doc = run_json(capsys, "municipality", "hours", "131016", "08:30", "17:15", "--data-dir", data, *NOW)
    assert code == 0 and doc["hours"] == {"open": "08:30", "close": "17:15"}
    code, doc = run_json(capsys, "municipality", "suspend", "131016", "--reason", "点検のため", "--data-dir", data, *NOW)
    assert code == 0 and doc["suspended"] is True and doc["suspension_reason"] == "点検のため"
    assert doc["state"] == "suspended"
    code, doc = run_json(capsys, "municipality", "resume", "131016", "--data-dir", data, *NOW)
    assert code == 0 and doc["suspended"] is False
    code, doc = run_json(capsys, "municipality", "fees", "131016", "--type", "residence", "--yen", "200", "--data-dir", data, *NOW)
    assert code == 0 and doc["fees"]["residence"] == 200
    code, doc = run_json(capsys, "municipality", "show", "131016", "--data-dir", data, *NOW)
    for key in ("code", "name", "kind", "population", "hosting", "service_start", "state",
                "hours", "suspended", "suspension_reason", "fees"):
        assert key in doc
    code, doc = run_json(capsys, "municipality", "audit", "131016", "--data-dir", data)
    assert [e["action"] for e in doc["audit"]] == ["fee", "resume", "suspend", "hours", "add"]
    assert {e["interface"] for e in doc["audit"]} == {"cli"}

    # the same in human form
    code, out, _ = run(capsys, "municipality", "show", "131016", "--data-dir", data, *NOW)
    assert code == 0 and "千代田区" in out and "08:30–17:15" in out
    code, out, _ = run(capsys, "municipality", "list", "--data-dir", data, *NOW)
    assert "131016" in out and "special-ward" in out


def test_data_dir_from_the_environment(capsys: pytest.CaptureFixture[str], data: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCL_DATA_DIR", data)
    code, doc = run_json(capsys, "municipality", "list")
    assert code == 0 and doc == {"municipalities": []}
    assert (Path(data) / "bcl.sqlite3").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--code", "131017", "--name", "x", "--kind", "town", "--population", "5"], "wrong check digit"),
        (["--code", "011011", "--name", "x", "--kind", "metropolis", "--population", "5"], "unknown kind"),
        (["--code", "011011", "--name", "x", "--kind", "town", "--population", "-5"], "negative"),
        (["--code", "131016", "--name", "x", "--kind", "town", "--population", "5"], "already registered"),
    ],
)
def test_bad_add_is_rejected_with_exit_3_and_nothing_changes(
    capsys: pytest.CaptureFixture[str], data: str, args: list[str], fragment: str
) -> None:
    add(capsys, data)
    before = dump(Path(data) / "bcl.sqlite3")
    code, out, err = run(capsys, "municipality", "add", *args, "--data-dir", data, "--json")
    assert code == 3
    assert fragment in err and err.count("\n") == 1
    assert json.loads(out)["error"]["message"]
    assert dump(Path(data) / "bcl.sqlite3") == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["hours", "131016", "25:00", "26:00"], "not a time of day"),
        (["hours", "131016", "20:00", "08:00"], "not after"),
        (["hours", "999999", "08:00", "20:00"], "not registered"),
        (["suspend", "999999", "--reason", "x"], "not registered"),
        (["resume", "999999"], "not registered"),
        (["show", "999999"], "not registered"),
        (["fees", "131016", "--type", "passport", "--yen", "100"], "unknown certificate type"),
        (["fees", "131016", "--type", "seal", "--yen", "-3"], "outside"),
    ],
)
def test_bad_controls_are_rejected_with_exit_3(
    capsys: pytest.CaptureFixture[str], data: str, args: list[str], fragment: str
) -> None:
    add(capsys, data)
    before = dump(Path(data) / "bcl.sqlite3")
    code, _, err = run(capsys, "municipality", *args, "--data-dir", data)
    assert code == 3 and fragment in err
    assert dump(Path(data) / "bcl.sqlite3") == before


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], data: str, tmp_path: Path) -> None:
    code, out, err = run(capsys, "municipality", "add", "--code", "131016")
    assert code == 2 and "required" in err and out == ""
    code, out, err = run(capsys, "municipality", "add", "--code", "131016", "--name", "x", "--kind", "town",
                         "--population", "many", "--json")
    assert code == 2 and "'many' is not a whole number" in err
    assert json.loads(out)["error"]["code"] == "usage"  # a scheduler gets JSON for a usage error too
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, out, err = run(capsys, "municipality", "list", "--data-dir", str(blocker / "data"), "--json")
    assert code == 2 and "holds no centre" in err
    assert json.loads(out)["error"]["code"] == "config"
    code, out, err = run(capsys, "init", "--data-dir", str(blocker / "data"), "--json")
    assert code == 2 and "cannot be created" in err
    code, _, err = run(capsys, "municipality", "list", "--data-dir", data, "--now", "yesterday")
    assert code == 2 and "not an ISO date-time" in err


def test_only_console_demo_and_init_make_a_centre(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A mistyped --data-dir must not settle an empty year with exit 0 (contract §1)."""
    typo = tmp_path / "dtaa"
    code, out, err = run(capsys, "settle", "--fiscal-year", "2025", "--data-dir", str(typo), "--json")
    assert code == 2 and str(typo) in err and "bcl-console init" in err
    assert json.loads(out)["error"]["code"] == "config"
    assert not typo.exists()  # nothing was made
    typo.mkdir()
    for argv in (["municipality", "list"], ["jobs", "history"], ["backup", "list"], ["kiosk", "register",
                 "--operator", "x"]):
        code, _, err = run(capsys, *argv, "--data-dir", str(typo))
        assert code == 2 and "holds no centre" in err, argv
    assert list(typo.iterdir()) == []  # an empty directory stays empty
    code, doc = run_json(capsys, "init", "--data-dir", str(typo))
    assert code == 0 and doc["created"] is True and doc["schema_version"] > 0
    before = dump(typo / "bcl.sqlite3")
    code, doc = run_json(capsys, "init", "--data-dir", str(typo))
    assert code == 0 and doc["created"] is False and dump(typo / "bcl.sqlite3") == before
    code, doc = run_json(capsys, "settle", "--fiscal-year", "2025", "--data-dir", str(typo), *NOW)
    assert code == 0 and doc["municipalities"] == []


def test_demo_command(capsys: pytest.CaptureFixture[str], data: str) -> None:
    code, doc = run_json(capsys, "demo", "--data-dir", data, "--seed", "5", "--residents", "3000", *NOW)
    assert code == 0
    assert doc["municipalities"] == 5 and doc["residents"] == 3000 + 6200 + 2400
    code, doc = run_json(capsys, "municipality", "list", "--data-dir", data, *NOW)
    assert {m["state"] for m in doc["municipalities"]} == {"live", "onboarding"}
    code, out, err = run(capsys, "demo", "--data-dir", data, "--residents", "0")
    assert code == 3 and "--residents" in err


def test_the_installed_script_and_python_m(data: str) -> None:
    script = shutil.which("bcl-console", path=os.path.dirname(sys.executable))
    assert script, "the console script is installed beside the interpreter"
    env = {**os.environ, "BCL_DATA_DIR": data}
    out = subprocess.run([script, "municipality", "list", "--json"], capture_output=True,
                         text=True, env=env, timeout=60, check=True)
    assert json.loads(out.stdout) == {"municipalities": []}
    out = subprocess.run([sys.executable, "-m", "bcl_console", "--version"], capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.startswith("bcl-console ")
    bad = subprocess.run([script, "municipality", "show", "123456"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert bad.returncode == 3 and bad.stderr.startswith("bcl-console: ")


FIX = Path(__file__).resolve().parents[2] / "fixtures" / "linkage"


def test_link_backup_and_token_commands(capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path) -> None:
    data = str(demo_dir)
    before = dump(demo_dir / "bcl.sqlite3")
    code, out, err = run(capsys, "link", str(FIX / "invalid" / "bad-dates"), "--data-dir", data, *NOW)
    assert code == 3 and "nothing changed" in err and "residents.csv:2 [birth_date]" in out
    after = dump(demo_dir / "bcl.sqlite3")  # the one row a rejection adds: its sealed problem list
    assert held_data(after) == held_data(before) and kept_rejections(after) == kept_rejections(before) + 1
    code, doc = run_json(capsys, "link", str(FIX / "valid-full"), "--data-dir", data, *NOW)
    assert code == 0 and doc["outcome"] == "applied" and doc["counts"]["residents"] == 10
    assert set(doc) >= {"outcome", "municipality_code", "sequence", "counts", "problems"}
    code, doc = run_json(capsys, "link", str(FIX / "valid-full.zip"), "--data-dir", data, *NOW)
    assert code == 0 and doc["outcome"] == "already-applied"
    code, doc = run_json(capsys, "link", str(FIX / "invalid" / "count-mismatch"), "--data-dir", data, *NOW)
    assert code == 3 and doc["outcome"] == "rejected"
    assert doc["problems"][0] == {"file": "manifest.json", "line": None, "column": "sequence",
                                  "reason": "sequence 2 was already applied with other content (conflict)"}

    code, doc = run_json(capsys, "backup", "list", "993611", "--data-dir", data)
    assert code == 0 and [b["sequence"] for b in doc["backups"]] == [2]
    code, doc = run_json(capsys, "backup", "restore", "993611", "--data-dir", data, *NOW)
    assert code == 0 and doc["restored_to_sequence"] == 2 and doc["residents"] == 10
    out_dir = tmp_path / "export"
    code, doc = run_json(capsys, "backup", "export", "993611", "--out", str(out_dir), "--data-dir", data, *NOW)
    assert code == 0 and (out_dir / "manifest.json").is_file() and doc["counts"]["residents"] == 10
    code, _, err = run(capsys, "backup", "restore", "994821", "--sequence", "4", "--data-dir", data, *NOW)
    assert code == 3 and "no backups" in err

    code, out, _ = run(capsys, "linkage-token", "993611", "--data-dir", data)
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("bcl_lnk_") and len(token) > 40
    code, doc = run_json(capsys, "linkage-token", "993611", "--data-dir", data)
    assert doc["municipality_code"] == "993611" and doc["token"] != token
    code, _, err = run(capsys, "linkage-token", "123456", "--data-dir", data)
    assert code == 3 and "not registered" in err


def test_agent_command_once_against_serve(demo_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ}
    token = subprocess.run([sys.executable, "-m", "bcl_console", "linkage-token", "993611",
                            "--data-dir", str(demo_dir)], capture_output=True, text=True, check=True,
                           env=env).stdout.strip().splitlines()[-1]
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    outbox = tmp_path / "outbox"
    shutil.copytree(FIX / "valid-full", outbox / "seq2")
    proc = subprocess.Popen([sys.executable, "-m", "bcl_console", "serve", "--port", "0",
                             "--data-dir", str(demo_dir)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on ")[1].split(" ")[0]
        done = subprocess.run([sys.executable, "-m", "bcl_console", "linkage-agent", "--outbox", str(outbox),
                               "--url", url, "--token-file", str(token_file), "--once", "--json"],
                              capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1])["deliveries"][0]["outcome"] == "applied"
        assert (outbox / "sent" / "seq2").is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_issue_and_verify_commands(capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    data = str(demo_dir)
    conn = sqlite3.connect(demo_dir / "bcl.sqlite3")
    resident = conn.execute("SELECT resident_code FROM residents WHERE status='active' AND restricted=0 "
                            "AND municipality_code='993611' LIMIT 1").fetchone()[0]
    conn.close()
    out = tmp_path / "juminhyo.pdf"
    code, doc = run_json(capsys, "issue", "--resident", resident, "--type", "residence", "--scope", "household",
                         "--out", str(out), "--data-dir", data, *NOW)
    assert code == 0 and out.read_bytes().startswith(b"%PDF") and doc["verification_code"]
    code, verdict = run_json(capsys, "verify", str(out), "--data-dir", data)
    assert code == 0 and verdict["status"] == "genuine" and verdict["code"] == doc["verification_code"]
    code, verdict = run_json(capsys, "verify", "--code", doc["verification_code"], "--data-dir", data)
    assert code == 0 and verdict["status"] == "genuine"
    code, verdict = run_json(capsys, "verify", "--code", "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "--data-dir", data)
    assert code == 3 and verdict["status"] == "unknown"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(out.read_bytes()[:-2000])
    code, verdict = run_json(capsys, "verify", str(broken), "--data-dir", data)
    assert code == 3 and verdict["status"] in ("unknown", "altered")
    code, _, err = run(capsys, "issue", "--resident", "99999999999", "--type", "seal", "--out",
                       str(tmp_path / "x.pdf"), "--data-dir", data, *NOW)
    assert code == 3 and "not known" in err and not (tmp_path / "x.pdf").exists()
    code, _, err = run(capsys, "issue", "--resident", resident, "--type", "passport", "--out", "x.pdf")
    assert code == 2 and "invalid choice" in err


def test_card_kiosk_and_simulate_commands(capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    data = str(demo_dir)
    conn = sqlite3.connect(demo_dir / "bcl.sqlite3")
    resident = conn.execute("SELECT resident_code FROM residents WHERE status='active' AND restricted=0 "
                            "AND municipality_code='993611' LIMIT 1").fetchone()[0]
    conn.close()
    card = tmp_path / "card.pem"
    code, doc = run_json(capsys, "card", "issue", "--municipality", "993611", "--resident", resident,
                         "--out", str(card), "--data-dir", data)
    assert code == 0 and b"BEGIN CERTIFICATE" in card.read_bytes() and b"BEGIN PRIVATE KEY" in card.read_bytes()
    assert oct(card.stat().st_mode & 0o777) == "0o600"
    code, revoked = run_json(capsys, "card", "revoke", str(card), "--data-dir", data)
    assert code == 0 and revoked == {"serial": doc["serial"], "revoked": True}
    code, _, err = run(capsys, "card", "revoke", "abcdef", "--data-dir", data)
    assert code == 3 and "no card" in err
    code, _, err = run(capsys, "card", "issue", "--municipality", "131017", "--resident", resident,
                       "--out", str(tmp_path / "x.pem"), "--data-dir", data)
    assert code == 3 and "check digit" in err
    code, doc = run_json(capsys, "kiosk", "register", "--operator", "Seven Mart", "--data-dir", data)
    assert code == 0 and doc["operator"] == "Seven Mart" and doc["token"].startswith("bcl_ksk_")
    code, out, _ = run(capsys, "kiosk", "register", "--operator", "Lawsome", "--data-dir", data)
    assert out.strip().splitlines()[-1].startswith("bcl_ksk_")
    # the simulator against a real serve process, with the demo's cards
    env = {**os.environ}
    proc = subprocess.Popen([sys.executable, "-m", "bcl_console", "serve", "--port", "0", "--data-dir", data],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on ")[1].split(" ")[0]
        code, report = run_json(capsys, "simulate", "--url", url, "--kiosks", "2", "--rate", "4",
                                "--duration", "2", "--data-dir", data)
        assert code == 0 and report["flows"] >= 4
        assert set(report) >= {"flows", "completed_per_s", "latency_ms", "outcomes"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    code, _, err = run(capsys, "simulate", "--url", "http://127.0.0.1:1", "--cards", str(tmp_path / "none"),
                       "--data-dir", data)
    assert code == 2 and "no test cards" in err


def test_onboarding_and_teststage_commands(capsys: pytest.CaptureFixture[str], demo_dir: Path) -> None:
    data = ["--data-dir", str(demo_dir), *NOW]
    code, doc = run_json(capsys, "onboarding", "list", *data)
    assert code == 0
    assert {m["code"]: m["status"] for m in doc["municipalities"]} == {
        "992011": "in-service", "992054": "late", "993611": "in-service", "993832": "on-track",
        "994821": "in-service"}
    before = dump(demo_dir / "bcl.sqlite3")
    code, doc = run_json(capsys, "onboarding", "done", "993832", "lunch", *data)
    assert code == 3 and "unknown step 'lunch'" in doc["error"]["message"] and doc["error"]["field"] == "step"
    code, doc = run_json(capsys, "teststage", "run", "993832", "stage2", *data)
    assert code == 3 and "needs linkage to pass first" in doc["error"]["message"]
    code, doc = run_json(capsys, "onboarding", "plan", "993832", "--service-start", "2026-01-01", "--replace",
                         *data)
    assert code == 3 and "not after today" in doc["error"]["message"]
    code, doc = run_json(capsys, "onboarding", "plan", "993611", "--service-start", "2027-01-01", *data)
    assert code == 3 and "already in service since 2021-10-01" in doc["error"]["message"]
    code, _, err = run(capsys, "onboarding", "override", "992054", *data)
    assert code == 2 and "--reason" in err
    assert dump(demo_dir / "bcl.sqlite3") == before

    code, doc = run_json(capsys, "onboarding", "done", "992054", "plan-bcp", "--note", "第2版", *data)
    assert code == 0 and next(s for s in doc["steps"] if s["key"] == "plan-bcp")["note"] == "第2版"
    code, _ = run_json(capsys, "onboarding", "done", "992054", "plan-disaster-support", *data)
    code, doc = run_json(capsys, "teststage", "run", "992054", "operation", *data)
    assert code == 0 and doc["outcome"] == "passed" and doc["evidence"]["during_drill"]["status"] == 503
    code, doc = run_json(capsys, "teststage", "show", "992054", *data)
    assert code == 0 and [s["outcome"] for s in doc["stages"]] == [
        "passed", "not-required", "passed", "passed", "passed", "not-run"]
    assert [r["stage"] for r in doc["runs"]][-1] == "operation"
    code, out, _ = run(capsys, "onboarding", "show", "992054", *data)
    assert code == 0 and "東浜市 992054 (bcl): on-track" in out and "令和8年" in out  # the late steps are done
    code, out, _ = run(capsys, "teststage", "show", "992054", *data)
    assert code == 0 and "業務運用試験" in out

    code, doc = run_json(capsys, "teststage", "run", "993832", "linkage", *data)
    assert code == 1 and doc["outcome"] == "failed"  # ran, recorded, did not pass
    code, doc = run_json(capsys, "onboarding", "plan", "993832", "--service-start", "2027-01-04", "--replace",
                         "--without-seal", *data)
    assert code == 0 and doc["service_start_ja"] == "令和9年1月4日" and doc["steps"][0]["done_on"] is not None
    assert "ordinance-seal" not in [s["key"] for s in doc["steps"]]


def test_disaster_commands(capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path) -> None:
    data = ["--data-dir", str(demo_dir), *NOW]
    code, doc = run_json(capsys, "disaster", "declare", "--name", "令和8年6月東雲県地震", "--kind", "earthquake",
                         "--date", "2026-06-12", "--municipality", "993611", *data)
    assert code == 0 and doc["id"] == 2 and doc["municipalities"] == ["993611"]
    db = demo_dir / "bcl.sqlite3"
    conn = sqlite3.connect(db)
    (household, head), = conn.execute(
        "SELECT household_number, resident_code FROM residents WHERE municipality_code = '993611' "
        "AND relationship = '世帯主' AND status = 'active' ORDER BY household_number LIMIT 1").fetchall()
    conn.close()
    before = dump(db)
    code, doc = run_json(capsys, "disaster", "assess", "2", "--municipality", "993611", "--household", household,
                         "--ratio", "101", "--inspector", "調査員", *data)
    assert code == 3 and doc["error"]["field"] == "ratio"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"municipality_code,household_number,damage_ratio,inspector\n993611,{household},x,A\n"
                   "993611,nope,10,A\n", encoding="utf-8")
    code, doc = run_json(capsys, "disaster", "import-assessments", "2", str(bad), *data)
    assert code == 3 and [p["line"] for p in doc["problems"]] == [2, 3]
    code, doc = run_json(capsys, "disaster", "support-apply", "2", "--municipality", "993611", "--household",
                         household, *data)
    assert code == 3 and "no damage assessment" in doc["error"]["message"]
    assert dump(db) == before

    code, doc = run_json(capsys, "disaster", "assess", "2", "--municipality", "993611", "--household", household,
                         "--class", "全壊", "--inspector", "調査員", *data)
    assert code == 0 and doc["damage_class"] == "全壊"
    code, doc = run_json(capsys, "disaster", "shelter-open", "2", "--municipality", "993611", "--name", "体育館",
                         "--capacity", "10", *data)
    assert code == 0
    shelter = str(doc["id"])
    code, doc = run_json(capsys, "disaster", "checkin", shelter, "--municipality", "993611", "--resident", head,
                         *data)
    assert code == 0 and doc["occupancy"] == 1
    code, doc = run_json(capsys, "disaster", "ledger", "2", "--whereabouts", "shelter", *data)
    assert code == 0 and [p["resident_code"] for p in doc["people"]] == [head]
    out = tmp_path / "ledger.csv"
    code, doc = run_json(capsys, "disaster", "ledger", "2", "--out", str(out), *data)
    assert code == 0 and doc["people"] >= 1 and out.exists()
    code, doc = run_json(capsys, "disaster", "support-apply", "2", "--municipality", "993611", "--household",
                         household, "--method", "build", *data)
    assert code == 0 and doc["basic"] in (1_000_000, 750_000)
    code, doc = run_json(capsys, "disaster", "support-decide", str(doc["id"]), "approve", *data)
    assert code == 0 and doc["state"] == "approved"
    code, doc = run_json(capsys, "disaster", "support", "2", *data)
    assert code == 0 and doc["totals"]["approved"] >= 2_250_000
    code, doc = run_json(capsys, "disaster", "close", "2", *data)
    assert code == 3 and "close the evacuation centres first" in doc["error"]["message"]
    code, doc = run_json(capsys, "disaster", "checkout", "--municipality", "993611", "--resident", head, *data)
    assert code == 0
    code, doc = run_json(capsys, "disaster", "shelter-close", shelter, *data)
    assert code == 0
    code, doc = run_json(capsys, "disaster", "close", "2", *data)
    assert code == 0 and doc["closed_at"]
    code, doc = run_json(capsys, "disaster", "applications", "--state", "waiting", *data)
    assert code == 0 and len(doc["applications"]) == 5
    code, doc = run_json(capsys, "disaster", "needs-help", "993611", *data)
    assert code == 0 and sum(1 for p in doc["people"] if p["supporter"]) == 12
    code, out_text, _ = run(capsys, "disaster", "shelter-token", "受付2", *data)
    assert code == 0 and out_text.strip().splitlines()[-1].startswith("bcl_shl_")


def test_restoring_an_altered_backup_is_one_sentence_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], demo_dir: Path
) -> None:
    data = str(demo_dir)
    code, _ = run_json(capsys, "link", str(FIX / "valid-full"), "--data-dir", data, *NOW)
    assert code == 0
    backup = next((demo_dir / "backups" / "993611").glob("00000002-full.bclbak"))
    altered = bytearray(backup.read_bytes())
    altered[len(altered) // 2] ^= 0xFF
    backup.write_bytes(bytes(altered))
    before = dump(demo_dir / "bcl.sqlite3")
    code, out, err = run(capsys, "backup", "restore", "993611", "--data-dir", data, *NOW)
    assert code == 3 and out == ""
    assert err == ("bcl-console: 00000002-full.bclbak: the backup does not decrypt: "
                   "wrong key, or it was altered\n")
    assert dump(demo_dir / "bcl.sqlite3") == before
    assert not list((demo_dir / "tmp").glob("*.zip"))  # no half-decrypted copy left behind


def test_out_of_range_numbers_are_one_sentence(capsys: pytest.CaptureFixture[str], demo_dir: Path,
                                               tmp_path: Path) -> None:
    out = str(tmp_path / "x.pdf")
    resident = sqlite3.connect(demo_dir / "bcl.sqlite3").execute(
        "SELECT resident_code FROM residents WHERE municipality_code='993611' AND status='active' LIMIT 1"
    ).fetchone()[0]
    for value, exit_code in (("1e20", 2), ("100000000000000000000", 2), ("9223372036854775808", 2), ("-1", 3)):
        code, stdout, err = run(capsys, "issue", "--resident", resident, "--type", "disaster", "--disaster", value,
                                "--out", out, "--data-dir", str(demo_dir), "--json")
        assert code == exit_code, (value, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "error" in json.loads(stdout)
    assert not Path(out).exists()


def test_resident_find(capsys: pytest.CaptureFixture[str], demo_dir: Path) -> None:
    """How an operator finds the resident code that `issue` and the shelter forms need."""
    conn = sqlite3.connect(demo_dir / "bcl.sqlite3")
    code, name, kana, household = conn.execute(
        "SELECT resident_code, name, name_kana, household_number FROM residents WHERE municipality_code='993611' "
        "LIMIT 1").fetchone()
    conn.close()
    for query in (name, kana, name.replace(" ", ""), household, code):
        status, doc = run_json(capsys, "resident", "find", query, "--municipality", "993611",
                               "--data-dir", str(demo_dir))
        assert status == 0 and code in {r["resident_code"] for r in doc["residents"]}, query
    status, doc = run_json(capsys, "resident", "find", name.split()[0], "--data-dir", str(demo_dir))
    assert status == 0 and 0 < len(doc["residents"]) <= 20
    assert all(name.split()[0] in r["name"] for r in doc["residents"])
    import unicodedata

    # the reading typed in half-width katakana (ｶﾅ, as some municipal systems still do)
    to_half = {unicodedata.normalize("NFKC", chr(h)): chr(h) for h in range(0xFF61, 0xFFA0)
               if len(unicodedata.normalize("NFKC", chr(h))) == 1}
    to_half.update({"\u3099": "ﾞ", "\u309a": "ﾟ"})
    half = "".join(to_half.get(c, c) for c in unicodedata.normalize("NFD", kana))
    assert half != kana and all(ord(c) < 0x3000 or 0xFF61 <= ord(c) <= 0xFF9F for c in half.replace(" ", ""))
    status, doc = run_json(capsys, "resident", "find", half, "--municipality", "993611", "--data-dir",
                           str(demo_dir))
    assert status == 0 and code in {r["resident_code"] for r in doc["residents"]}
    status, doc = run_json(capsys, "resident", "find", "存在しない名前", "--data-dir", str(demo_dir))
    assert status == 0 and doc["residents"] == []
    status, out, err = run(capsys, "resident", "find", "  ", "--data-dir", str(demo_dir))
    assert status == 3 and "give a name" in err


def test_numbers_sqlite_cannot_hold_are_usage_errors(capsys: pytest.CaptureFixture[str], demo_dir: Path) -> None:
    """One validation layer for every whole number on the command line (they reached SQLite
    and came back as 'unexpected error (OverflowError …)')."""
    for argv in (["disaster", "show", "99999999999999999999"], ["municipality", "audit", "--limit",
                                                                "100000000000000000000"]):
        code, out, err = run(capsys, *argv, "--data-dir", str(demo_dir), "--json")
        assert code == 2 and "out of range" in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert json.loads(out)["error"]["code"] == "usage"
