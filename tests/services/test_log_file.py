"""The log file's handler: each line written and flushed at once, rotated past its size
even when another process appended to the file meanwhile."""

from __future__ import annotations

import logging
from pathlib import Path

from bcl_console.services.platform.runtime import QuietRotatingFileHandler


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("bcl_console.test", logging.INFO, __file__, 1, msg, None, None)


def test_lines_are_flushed_and_the_file_rotates_past_its_size(tmp_path: Path) -> None:
    path = tmp_path / "bcl-console.log"
    handler = QuietRotatingFileHandler(path, maxBytes=1000, backupCount=2, encoding="utf-8")
    try:
        handler.emit(_record("first 住所"))
        assert "first 住所" in path.read_text(encoding="utf-8")  # no buffering
        with path.open("a", encoding="utf-8") as other:  # another process of the centre appends
            other.write("x" * 900 + "\n")
        handler.SIZE_RECHECK = 0.0
        for i in range(30):
            handler.emit(_record(f"line {i:02d} " + "y" * 40))
        assert (tmp_path / "bcl-console.log.1").exists()
        for f in (path, tmp_path / "bcl-console.log.1"):
            assert f.stat().st_size <= 1000 + 60
        assert "line 29" in path.read_text(encoding="utf-8")
    finally:
        handler.close()
