"""``FileStore`` on one machine: the documents and backups are files in the data directory,
each written through a temporary file of its own, synced, then renamed (never a name another
writer shares), so a crash leaves the old bytes or the new."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path, PurePosixPath


class LocalFiles:
    def __init__(self, data_dir: Path) -> None:
        self._root = data_dir

    def _path(self, name: str) -> Path:
        return self._root / checked_name(name)

    async def save(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(write_durably, self._path(name), data)

    async def read(self, name: str) -> bytes:
        return await asyncio.to_thread(self._path(name).read_bytes)

    async def remove(self, name: str) -> None:
        await asyncio.to_thread(self._path(name).unlink, missing_ok=True)

    async def kept(self, folder: str, older_than: timedelta, within: timedelta) -> list[str]:
        now = time.time()  # the mtimes' clock: this machine's, whose files these are
        return await asyncio.to_thread(_kept, self._root, self._path(folder), now - within.total_seconds(),
                                       now - older_than.total_seconds())

    @asynccontextmanager
    async def local(self, name: str) -> AsyncIterator[Path]:
        path = self._path(name)
        if not await asyncio.to_thread(path.is_file):
            raise FileNotFoundError(f"{name} is not in the data directory")
        yield path


def _kept(root: Path, folder: Path, since: float, before: float) -> list[str]:
    """The files under ``folder`` (links not followed) last written in [since, before)."""
    found = []
    for directory, _subdirectories, names in os.walk(folder):
        for name in names:
            path = Path(directory) / name
            try:
                info = path.lstat()
            except OSError:  # removed meanwhile
                continue
            if path.is_file() and not path.is_symlink() and since <= info.st_mtime < before:
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably and atomically: a temporary file of this call's
    own beside it, synced, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def checked_name(name: str) -> PurePosixPath:
    """A kept file's name as the rows record it: relative, inside the data directory by its
    own parts (a documents/ or backups/ that is a link to another volume is fine)."""
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise ValueError(f"{name!r} is not a name inside the data directory")
    return pure
