"""The data directory of one centre: whether it holds a centre, its files made private,
and the undoing of a demo swap that was cut off half-way."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from bcl_console.config import DB_FILENAME, ConfigError, Settings

log = logging.getLogger("bcl_console")


def holds_centre(data_dir: Path, database_url: str | None = None) -> bool:
    """Whether a data directory holds a centre: a database file that is not empty; with
    a PostgreSQL database (whose schema is made or checked at open), the centre's keys."""
    db = data_dir / DB_FILENAME
    if database_url:
        db = data_dir / "keys" / "document-signing.key"
    try:
        return db.is_file() and db.stat().st_size > 0
    except OSError:
        return False


def require_centre(data_dir: Path, database_url: str | None = None) -> None:
    """A ConfigError naming the directory when it holds no centre (contract §1)."""
    if not holds_centre(data_dir, database_url):
        raise ConfigError(f"data directory {data_dir} holds no centre; make one with "
                          f"`bcl-console init --data-dir {data_dir}` (or `bcl-console demo`)")


def restrict_files(data_dir: Path) -> None:
    """Make every file of the data directory 0600 and every directory 0700 (a directory
    made by an older version, or files copied in, may be readable by others). Done once
    per directory: a marker file records it, later starts touch only the database files."""
    marker = data_dir / ".private"
    for name in (DB_FILENAME, f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm"):
        _chmod(data_dir / name, 0o600)
    if marker.exists():
        return
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _chmod(Path(root) / name, 0o700)
        for name in files:
            _chmod(Path(root) / name, 0o600)
    try:
        marker.touch(mode=0o600)
    except OSError:
        pass  # a full disk: done again at the next start


def _chmod(path: Path, mode: int) -> None:
    try:
        if not path.is_symlink() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError:
        pass  # vanished meanwhile, or not ours: nothing to tighten


def _data_set(data_dir: Path) -> list[str]:
    """The names a data set occupies in its directory: the database with its journal files
    first (the new database must never meet the old one's write-ahead log), then the rest."""
    names = [p.name for p in Settings(data_dir=data_dir).data_set_paths]
    return [names[0], f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm", *names[1:]]


def recover_demo_swap(data_dir: Path) -> None:
    """A `demo` cut off between moving the previous set aside and moving the new one in
    leaves the directory without a database: the previous set is moved back (the
    half-made new one is dropped), so the centre is as it was before that `demo`."""
    old = data_dir / ".demo-previous"
    if not (old / DB_FILENAME).is_file() or (data_dir / DB_FILENAME).exists():
        return
    for name in _data_set(data_dir):
        if (old / name).exists() and not (data_dir / name).exists():
            os.replace(old / name, data_dir / name)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(data_dir / ".demo-staging", ignore_errors=True)
    log.warning("an interrupted demo was undone: the previous data set of %s is back", data_dir)


def swap_in(staging: Path, data_dir: Path) -> None:
    """Move the previous data set aside, the new one in, then drop the previous one. The
    database goes first with its journal files, so the new database never meets the old
    one's write-ahead log."""
    old = data_dir / ".demo-previous"
    shutil.rmtree(old, ignore_errors=True)
    old.mkdir(mode=0o700)
    names = _data_set(data_dir)
    for name in names:
        if (data_dir / name).exists():
            os.replace(data_dir / name, old / name)
    for name in names:
        if (staging / name).exists():
            os.replace(staging / name, data_dir / name)
    keys = Settings(data_dir=data_dir).keys_dir
    if not keys.exists():
        os.replace(staging / keys.name, keys)
    shutil.rmtree(old, ignore_errors=True)
