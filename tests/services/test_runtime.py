from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import aiohttp
import pytest

from bcl_console.config import ConfigError, Settings, load_settings
from bcl_console.demo.make import demo_service
from bcl_console.http.app import start_http
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW


async def test_start_makes_the_data_directory_keys_and_database(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    rt = Runtime(load_settings(str(data)), clock=FixedClock(TEST_NOW))
    await rt.start()
    try:
        assert (data / "bcl.sqlite3").is_file()
        for name in ("backup.key", "centre-ca.key", "document-signing.key"):
            mode = stat.S_IMODE((data / "keys" / name).stat().st_mode)
            assert mode == 0o600, name
        assert stat.S_IMODE((data / "keys").stat().st_mode) == 0o700
        assert len(rt.keys.backup_key) == 32
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature = rt.keys.signing_key.sign(b"x", ec.ECDSA(hashes.SHA256()))
        rt.keys.signing_key.public_key().verify(signature, b"x", ec.ECDSA(hashes.SHA256()))
        assert rt.keys.public_pem().count(b"BEGIN CERTIFICATE") == 2  # the signing certificate and the CA's
        assert await demo_service(rt).is_empty()
    finally:
        await rt.stop()
        await rt.stop()  # stopping twice is harmless


async def test_keys_survive_a_restart(tmp_path: Path) -> None:
    settings = load_settings(str(tmp_path / "d"))
    async with Runtime(settings, clock=FixedClock(TEST_NOW)) as rt:
        key = rt.keys.backup_key
    async with Runtime(settings, clock=FixedClock(TEST_NOW)) as rt:
        assert rt.keys.backup_key == key


async def test_a_data_directory_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rt = Runtime(load_settings(str(blocker / "data")))
    with pytest.raises(ConfigError, match="cannot be created"):
        await rt.start()


async def test_healthz_is_served(runtime: Runtime) -> None:
    server = await start_http(runtime, "127.0.0.1", 0)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/healthz") as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["status"] == "ok"
    assert body["time"].startswith("2026-06-17T01:00:00")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/nope") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"
    await runtime.stop_http()
    assert runtime.http is None


async def test_a_runtime_that_fails_to_start_stops_what_it_started(tmp_path: Path) -> None:
    """A database of a newer schema is refused at open; the writer's thread must not be
    left running (it kept pytest, and any command, alive for ever)."""
    import sqlite3
    import threading

    from bcl_console.store import StoreError

    data = tmp_path / "d"
    rt = Runtime(load_settings(str(data)))
    await rt.start()
    await rt.stop()
    conn = sqlite3.connect(data / "bcl.sqlite3")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    def ours() -> set[threading.Thread]:
        # the loop's default executor grows a thread on demand (asyncio_N) and keeps it:
        # not ours to stop; every other thread a start made must be gone
        return {t for t in threading.enumerate() if not t.name.startswith("asyncio_")}

    before = ours()
    again = Runtime(load_settings(str(data)))
    with pytest.raises(StoreError, match="newer than this program"):
        await again.start()
    # a connection's thread ends a moment after its close is answered: give it that moment
    for _ in range(100):
        if ours() <= before:
            break
        await asyncio.sleep(0.05)
    assert ours() <= before
    await again.stop()  # and stopping twice is harmless


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_what_opening_the_database_logs_reaches_the_log_file(
        settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """On PostgreSQL the database is opened before the log file exists (so that a refused
    server makes nothing): what was logged meanwhile (here: the other centre could not be
    asked whether it was promoted) is written to the file once it is there."""
    monkeypatch.setenv("BCL_PEER_URL", "postgresql://postgres@127.0.0.1:1/west")
    rt = Runtime(load_settings(str(settings.data_dir)), clock=clock)
    await rt.start()
    try:
        logged = (rt.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
        assert "cannot be asked whether it was promoted" in logged
    finally:
        await rt.stop()
