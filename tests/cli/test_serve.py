"""`bcl-console serve` as a real process: healthz, then a clean stop on each signal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_healthz_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    subprocess.run([sys.executable, "-m", "bcl_console", "init", "--data-dir", str(tmp_path / "d")],
                   check=True, capture_output=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bcl_console", "serve", "--port", "0", "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line + (proc.stderr.read() if proc.stderr else "")
        with urllib.request.urlopen(f"{match[1]}/healthz", timeout=10) as resp:
            assert resp.status == 200
            assert json.loads(resp.read())["status"] == "ok"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopping" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
