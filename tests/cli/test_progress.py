"""The progress bars of the long commands: drawn on a terminal's stderr (rate, elapsed,
remaining), and nothing at all on a pipe or with --json, where stdout is the result alone."""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from tests.pg import TestServer

ROOT = Path(__file__).resolve().parents[2]
FULL = ROOT / "fixtures" / "linkage" / "valid-full"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cli(data_dir: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "bcl_console", "--data-dir", str(data_dir), *argv]


def on_terminal(argv: list[str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (160 columns) and stdout on a pipe: the exit
    code, stdout, and what the terminal showed (control codes kept)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"})
    os.close(slave)
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal (EIO)
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        reader.join(10)
        os.close(master)
    return proc.returncode, out.decode(), b"".join(shown).decode(errors="replace")


def test_link_draws_a_bar_on_a_terminal(demo_dir: Path) -> None:
    rc, out, terminal = on_terminal(cli(demo_dir, "link", str(FULL)))
    assert rc == 0, terminal
    text = ANSI.sub("", terminal)
    assert re.search(r"valid-full\s+━+\s+20/20\s+records\s+100%", text), text
    assert "elapsed," in text and "0:00:00 left" in text
    assert "\x1b[" in terminal  # drawn, in place
    assert out.startswith("valid-full: applied") and "\x1b" not in out


def test_no_bar_on_a_pipe_nor_with_json(demo_dir: Path) -> None:
    piped = subprocess.run(cli(demo_dir, "link", str(FULL)), capture_output=True, text=True, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""  # no bar, no control codes
    assert piped.stdout.startswith("valid-full: applied") and "\x1b" not in piped.stdout
    rc, out, terminal = on_terminal(cli(demo_dir, "backup", "restore", "993611", "--json"))
    assert rc == 0, terminal
    assert json.loads(out)["residents"] == 10  # stdout is the one JSON document
    assert "records" not in terminal and "━" not in terminal and "\x1b[" not in terminal


def test_restore_and_settle_draw_their_bars(demo_dir: Path) -> None:
    assert subprocess.run(cli(demo_dir, "link", str(FULL)), capture_output=True, check=False).returncode == 0
    rc, out, terminal = on_terminal(cli(demo_dir, "backup", "restore", "993611"))
    assert rc == 0, terminal
    assert re.search(r"restore 993611\s+━+\s+(\d+)/\1\s+records\s+100%", ANSI.sub("", terminal)), terminal
    assert "restored to sequence" in out
    rc, out, terminal = on_terminal(cli(demo_dir, "--now", "2027-04-02T10:00+09:00", "settle", "--fiscal-year",
                                        "2026", "--close", "--out", str(demo_dir.parent / "statements")))
    assert rc == 0, terminal
    municipalities = len(list((demo_dir.parent / "statements").glob("statement-2026-*.pdf")))
    assert municipalities >= 2
    text = ANSI.sub("", terminal)
    assert re.search(rf"statements FY2026\s+━+\s+{municipalities}/{municipalities}\s+statements\s+100%", text), text
    assert re.search(r"\d+ statements/s", text)


@pytest.mark.slow
def test_demo_draws_the_residents_and_its_steps(tmp_path: Path) -> None:
    rc, out, terminal = on_terminal(cli(tmp_path / "d", "demo", "--residents", "3000"))
    assert rc == 0, terminal
    text = ANSI.sub("", terminal)
    total = re.search(r"residents: \S+\s+━+\s+([\d,]+)/\1\s+residents\s+100%\s+[\d,]+ residents/s", text)
    assert total, text
    assert re.search(r"cards\s+━+\s+1/1\s+step", text) and re.search(r"onboarding\s+━+\s+1/1\s+step", text)
    assert "Demo data set (seed 2026)" in out and "\x1b" not in out


@pytest.mark.slow
def test_database_copy_draws_a_bar_per_table(demo_dir: Path, pg_server: TestServer) -> None:
    rc, out, terminal = on_terminal(cli(demo_dir, "database", "copy", "--to", pg_server.fresh()))
    assert rc == 0, terminal
    text = ANSI.sub("", terminal)
    for table in ("residents", "municipalities", "issuances"):
        assert re.search(rf"{table}\s+━+\s+([\d,]+)/\1\s+rows\s+100%", text), text
    assert re.search(r"\d+ rows/s", text)
    assert "every table verified" in out and "\x1b" not in out
