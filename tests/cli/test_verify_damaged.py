"""`verify` on damaged files: one reason that names what is wrong, no library noise on
stderr, and one time format whatever the verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bcl_console.cli import main
from tests.conftest import query

JAPAN_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$")


def verify(capsys: pytest.CaptureFixture[str], data: Path, pdf: Path) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(["verify", str(pdf), "--json", "--data-dir", str(data)])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_damaged_files_get_one_reason_and_no_noise(capsys: pytest.CaptureFixture[str], demo_dir: Path,
                                                   tmp_path: Path) -> None:
    resident = query(demo_dir / "bcl.sqlite3", "SELECT resident_code FROM residents WHERE municipality_code = "
                     "'993611' AND status = 'active' AND restricted = 0 LIMIT 1")[0][0]
    pdf = tmp_path / "cert.pdf"
    assert main(["issue", "--resident", resident, "--type", "residence", "--out", str(pdf), "--json",
                 "--data-dir", str(demo_dir), "--now", "2026-06-17T10:00:00+09:00"]) == 0
    capsys.readouterr()
    code, genuine, err = verify(capsys, demo_dir, pdf)
    assert code == 0 and genuine["status"] == "genuine" and err == ""
    assert JAPAN_SECONDS.match(genuine["issued_at"]), genuine["issued_at"]
    original = pdf.read_bytes()
    seen_reasons = set()
    for position in range(len(original) // 40, len(original), len(original) // 40):
        damaged = bytearray(original)
        damaged[position] ^= 0x01  # a single flipped bit
        target = tmp_path / f"flip-{position}.pdf"
        target.write_bytes(bytes(damaged))
        code, verdict, err = verify(capsys, demo_dir, target)
        assert code == 3 and verdict["status"] in ("altered", "unknown"), (position, verdict)
        assert "Error -3" not in err and "EOF marker" not in err and "Traceback" not in err
        assert len([line for line in err.splitlines() if line.strip()]) <= 1, err
        assert "belongs to another document" not in verdict["reason"], (position, verdict)
        if verdict.get("issued_at") is not None:
            assert JAPAN_SECONDS.match(verdict["issued_at"]), verdict
        seen_reasons.add(verdict["reason"])
    assert any("changed after it was signed" in r for r in seen_reasons), seen_reasons
    truncated = tmp_path / "cut.pdf"
    truncated.write_bytes(original[: len(original) // 2])
    code, verdict, err = verify(capsys, demo_dir, truncated)
    assert code == 3 and verdict["status"] in ("unknown", "altered") and "EOF marker" not in err
