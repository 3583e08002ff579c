"""``FileStore`` on PostgreSQL: the documents and backups as rows of ``files`` (each one
statement, exact by itself: READ COMMITTED), so any worker or machine on the database reads
what another kept."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from bcl_console.store.files import checked_name
from bcl_console.store.pg.db import Conn, PgDatabase


async def save_file(conn: Conn, name: str, data: bytes) -> None:
    checked_name(name)
    digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())  # a backup: tens of MB
    await conn.execute(
        "INSERT INTO files (name, body, size, sha256) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE "
        "SET body = EXCLUDED.body, size = EXCLUDED.size, sha256 = EXCLUDED.sha256, stored_at = now()",
        name, data, len(data), digest)


async def read_file(conn: Conn, name: str) -> bytes | None:
    body = await conn.fetchval("SELECT body FROM files WHERE name = $1", name)
    return None if body is None else bytes(body)


async def kept_names(conn: Conn, folder: str, older_than: timedelta, within: timedelta) -> list[str]:
    # the span on the server's clock, the one stored_at was set by
    rows = await conn.fetch('SELECT name FROM files WHERE starts_with(name, $1) AND stored_at > now() - $3::interval '
                            'AND stored_at < now() - $2::interval ORDER BY name COLLATE "C"',
                            f"{folder}/", older_than, within)
    return [r["name"] for r in rows]


async def remove_file(conn: Conn, name: str) -> None:
    await conn.execute("DELETE FROM files WHERE name = $1", name)


class PgFiles:
    """``FileStore`` on PostgreSQL; ``local`` copies into ``tmp_dir`` (0600, removed after)."""

    def __init__(self, db: PgDatabase, tmp_dir: Path) -> None:
        self._db = db
        self._tmp = tmp_dir

    async def save(self, name: str, data: bytes) -> None:
        await self._db.write_committed(save_file, name, data)

    async def read(self, name: str) -> bytes:
        body = await self._db.read(read_file, str(checked_name(name)))
        if body is None:
            raise FileNotFoundError(f"{name} is not in the database")
        return body

    async def remove(self, name: str) -> None:
        await self._db.write_committed(remove_file, str(checked_name(name)))

    async def kept(self, folder: str, older_than: timedelta, within: timedelta) -> list[str]:
        return await self._db.lookup(kept_names, str(checked_name(folder)), older_than, within)

    @asynccontextmanager
    async def local(self, name: str) -> AsyncIterator[Path]:
        body = await self.read(name)
        path = await asyncio.to_thread(_spill, self._tmp, Path(name).name, body)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)


def _spill(tmp_dir: Path, stem: str, body: bytes) -> Path:
    tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".fetched", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)
