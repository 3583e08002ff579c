"""Own-server municipalities: the relay forwards to the municipality's issuance server
(the reference server, on loopback) and answers 502/504 when that server fails."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pypdf import PdfReader

from bcl_console.config import load_settings
from bcl_console.http.app import HttpServer, start_http
from bcl_console.http.own_server import build_own_server_app
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, execute
from tests.services.relay_client import Kiosk

OP = Actor("op", "cli")
CODE = "993611"


@pytest.fixture
async def centre(tmp_path: Path, demo_dir: Path) -> AsyncIterator[tuple[Runtime, HttpServer, Kiosk]]:
    own = Runtime(load_settings(str(demo_dir)), clock=FixedClock(TEST_NOW))  # the municipality's own system
    await own.start()
    own_http = await HttpServer.start(own, "127.0.0.1", 0, build_own_server_app(own))
    centre = Runtime(load_settings(str(tmp_path / "centre")), clock=FixedClock(TEST_NOW))
    await centre.start()
    await centre.municipalities.add(code=CODE, name="北山町", kind="town", population=6200, hosting="own-server",
                                    server_url=f"{own_http.url}/issuance/v1", service_start="2021-10-01",
                                    prefecture="東雲県", mayor="山本 健一", actor=OP)
    server = await start_http(centre, "127.0.0.1", 0)
    token = await centre.tokens.issue("kiosk", "Seven Mart", actor=OP)
    async with aiohttp.ClientSession() as http:
        yield centre, own_http, Kiosk(server.url, token, http)
    await centre.stop()
    await own_http.stop()
    await own.stop()


def resident(demo_dir_db: Path) -> tuple[str, str]:
    conn = sqlite3.connect(demo_dir_db)
    try:
        return conn.execute("SELECT resident_code, name FROM residents WHERE municipality_code=? AND "
                            "status='active' AND restricted=0 LIMIT 1", (CODE,)).fetchone()
    finally:
        conn.close()


@pytest.mark.sqlite_only
async def test_issuance_is_forwarded_to_the_own_server(centre: tuple[Runtime, HttpServer, Kiosk], demo_dir: Path) -> None:
    rt, _, kiosk = centre
    rc, name = resident(demo_dir / "bcl.sqlite3")
    card = await rt.pki.issue_card(CODE, rc, actor=OP)
    _, pdf = await kiosk.flow(card.pem)
    assert "".join(name.split()) in "".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert (await rt.verification.verify_bytes(pdf)).status == "genuine"
    assert await execute(rt, "SELECT count(*) FROM residents") == [(0,)]
    # an unknown resident is answered by the own server
    status, err = await kiosk.session((await rt.pki.issue_card(CODE, "12345678901", actor=OP)).pem)
    assert status == 404 and err["error"]["code"] == "unknown_resident"


@pytest.mark.sqlite_only
async def test_a_failing_own_server_gives_502_and_504(centre: tuple[Runtime, HttpServer, Kiosk], demo_dir: Path) -> None:
    rt, own_http, kiosk = centre
    rc, _ = resident(demo_dir / "bcl.sqlite3")
    card = await rt.pki.issue_card(CODE, rc, actor=OP)
    await own_http.stop()  # the municipality's server is down
    status, err = await kiosk.session(card.pem)
    assert status == 502 and err["error"]["code"] == "own_server_unreachable"

    answered = asyncio.Event()  # set once the test is done: the server answers then, or after 30 s

    async def slow(request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):  # a relay without its timeout gets this late answer
            await asyncio.wait_for(answered.wait(), 30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/issuance/v1/residents/{code}", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await execute(rt, "UPDATE municipalities SET server_url=? WHERE code=?",
                  f"http://127.0.0.1:{port}/issuance/v1", CODE)
    rt.own_server.timeout = aiohttp.ClientTimeout(total=0.5)
    await rt.own_server.close()
    try:
        status, err = await kiosk.session(card.pem)
        assert status == 504 and err["error"]["code"] == "own_server_timeout"
    finally:
        answered.set()
        await runner.cleanup()
