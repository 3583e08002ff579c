"""The console as a real process on a pseudo-terminal: a dropped SSH session (SIGHUP) or a
kill (SIGTERM) stops it the way q does, with the HTTP API, scheduler and database closed."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import free_port


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(("sig", "hang_up"), [(signal.SIGTERM, False), (signal.SIGHUP, True)],
                         ids=["kill", "ssh-dropped"])
def test_a_signal_stops_the_console_cleanly(demo_dir: Path, sig: signal.Signals, hang_up: bool) -> None:
    port = free_port()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bcl_console", "console", "--data-dir", str(demo_dir)],
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        env={**os.environ, "BCL_PORT": str(port), "TERM": "xterm-256color"},
    )
    os.close(slave)
    screen = bytearray()

    def drain() -> None:  # the console writes to its terminal; keep the pty from filling up
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    log = demo_dir / "logs" / "bcl-console.log"
    try:
        wait_for(lambda: log.exists() and "HTTP API listening" in log.read_text(encoding="utf-8"), 60, "the HTTP API")
        wait_for(lambda: b"Dashboard" in screen, 60, "the dashboard on the terminal")
        if hang_up:  # the terminal is gone before the signal arrives, as when SSH drops
            os.close(master)
            master = -1
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0, bytes(screen[-2000:]).decode(errors="replace")
        assert "stopped: HTTP API, scheduler and database closed" in log.read_text(encoding="utf-8")
        with socket.socket() as s, pytest.raises(OSError):
            s.connect(("127.0.0.1", port))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if master >= 0:
            os.close(master)
        reader.join(timeout=5)
