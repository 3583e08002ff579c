"""Files: the documents and backups a centre keeps, named by their path relative to the
data directory: what crosses the store boundary.

On SQLite (one machine) they are files in the data directory; on PostgreSQL they are rows
of the database, so every worker and every machine on it (the West centre included) reads
the document issued or the backup made by any other (contract §10)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Protocol


class FileStore(Protocol):
    async def save(self, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name`` durably before returning, replacing what was there
        (atomically: a reader sees the old bytes or the new, never a part)."""
        ...

    async def read(self, name: str) -> bytes:
        """The bytes kept under ``name``; FileNotFoundError when there are none."""
        ...

    async def remove(self, name: str) -> None:
        """Drop what is kept under ``name`` (nothing there is no error)."""
        ...

    async def kept(self, folder: str, older_than: timedelta, within: timedelta) -> list[str]:
        """The names kept under ``folder`` (e.g. ``documents``) whose bytes were stored more
        than ``older_than`` and less than ``within`` ago, by the clock of whatever keeps
        them (the database server's, the file system's: never another machine's), in name
        order; on SQLite a writer's temporary files are among them."""
        ...

    def local(self, name: str) -> AbstractAsyncContextManager[Path]:
        """A file on this machine holding the bytes kept under ``name``, for as long as the
        context lasts (to be read only); FileNotFoundError when there are none."""
        ...
