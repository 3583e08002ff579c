"""Where a linkage batch is read from: a directory or a zip file, checked for safety.

A zip may hold the batch at its root or inside one top folder. Entries with absolute
paths or ``..`` are refused, and so is a zip whose entries would expand beyond sane
limits (a zip bomb), before anything is decompressed.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, Protocol

from bcl_console.domain.linkage import Problems

MAX_ENTRIES = 200_000
MAX_TOTAL_UNCOMPRESSED = 8 * 1024**3
MAX_RATIO = 200  # a CSV compresses 5-15x; 200x is a bomb
MAX_MANIFEST = 1024 * 1024


def sha256_of(stream: IO[bytes]) -> str:
    """The SHA-256 (hex) of what is left in a binary stream, read 1 MiB at a time."""
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


class BatchSource(Protocol):
    label: str

    def names(self) -> set[str]: ...

    def size(self, name: str) -> int: ...

    def open(self, name: str) -> BinaryIO: ...

    def close(self) -> None: ...


class DirSource:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def names(self) -> set[str]:
        found = set()
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                rel = Path(dirpath, f).relative_to(self.root).as_posix()
                found.add(rel)
        return found

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise FileNotFoundError(name)
        return path

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def close(self) -> None:
        pass


class ZipSource:
    def __init__(self, archive: zipfile.ZipFile, prefix: str, label: str) -> None:
        self._zip = archive
        self._prefix = prefix
        self.label = label
        self._infos = {
            info.filename[len(prefix):]: info
            for info in archive.infolist()
            if not info.is_dir() and info.filename.startswith(prefix)
        }

    def names(self) -> set[str]:
        return set(self._infos)

    def size(self, name: str) -> int:
        return self._infos[name].file_size

    def open(self, name: str) -> BinaryIO:
        return self._zip.open(self._infos[name])  # type: ignore[return-value]

    def close(self) -> None:
        self._zip.close()


def _unsafe(name: str) -> bool:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return ".." in parts


def open_source(path: Path, problems: Problems) -> BatchSource | None:
    """Open a directory or zip as a batch; problems are added when it cannot be used."""
    label = path.name or str(path)
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            problems.add(label, None, None, "the batch directory has no manifest.json")
            return None
        return DirSource(path)
    if not path.exists():
        problems.add(label, None, None, f"{path} does not exist")
        return None
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        problems.add(label, None, None, f"not a readable zip file (truncated or damaged): {exc}")
        return None
    try:
        infos = archive.infolist()
    except Exception as exc:  # pragma: no cover - infolist is read at open
        archive.close()
        problems.add(label, None, None, f"the zip directory is unreadable: {exc}")
        return None
    ok = True
    if len(infos) > MAX_ENTRIES:
        problems.add(label, None, None, f"the zip holds {len(infos):,} entries (at most {MAX_ENTRIES:,})")
        ok = False
    total = 0
    for info in infos:
        if _unsafe(info.filename):
            problems.add(label, None, None, f"unsafe entry name {info.filename!r} (absolute or with ..)")
            ok = False
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.add(label, None, None, f"entry {info.filename!r} is a symbolic link")
            ok = False
        total += info.file_size
        if info.compress_size and info.file_size > 1_000_000 and info.file_size / info.compress_size > MAX_RATIO:
            problems.add(label, None, None,
                         f"entry {info.filename!r} would expand {info.file_size / info.compress_size:.0f}x "
                         f"(a zip bomb?)")
            ok = False
    if total > MAX_TOTAL_UNCOMPRESSED:
        problems.add(label, None, None, f"the zip would expand to {total:,} bytes (at most {MAX_TOTAL_UNCOMPRESSED:,})")
        ok = False
    if not ok:
        archive.close()
        return None
    names = {i.filename for i in infos if not i.is_dir()}
    prefix = ""
    if "manifest.json" not in names:
        tops = {n.split("/", 1)[0] for n in names}
        candidates = [t for t in tops if f"{t}/manifest.json" in names]
        if len(candidates) != 1:
            archive.close()
            problems.add(label, None, None, "the zip has no manifest.json at its root or in one top folder")
            return None
        prefix = candidates[0] + "/"
    return ZipSource(archive, prefix, label)
