"""`bcl-console web` as a real process (contract §16): the page loads nothing from outside
the machine, a websocket gets its own console on the data directory (driven with
textual-serve's protocol: JSON envelopes in, terminal bytes out), the cap refuses one more
session clearly, and the server binds to loopback unless told otherwise."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port

LISTENING = re.compile(r"the console on (http://\S+/)")


@pytest.fixture
def web(demo_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bcl_console", "web", "--data-dir", str(demo_dir), "--port", "0",
         "--max-sessions", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "BCL_PORT": str(free_port())},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    url = None
    lines = []
    while time.monotonic() < deadline and url is None:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if m := LISTENING.search(line):
            url = m.group(1)
    try:
        assert url is not None, "".join(lines)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def external_urls(text: str, host: str) -> list[str]:
    return [u for u in re.findall(r"https?://[^\s\"'<>)]+", text)
            if not re.match(rf"https?://{re.escape(host)}[:/]", u)]


async def screen_until(ws: aiohttp.ClientWebSocketResponse, needle: bytes, seconds: float) -> bytes:
    seen = bytearray()
    deadline = asyncio.get_running_loop().time() + seconds
    while needle not in seen:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"{needle!r} not on the screen: {bytes(seen[-800:])!r}"
        msg = await ws.receive(timeout=left)
        if msg.type == aiohttp.WSMsgType.BINARY:
            seen.extend(msg.data)
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            raise AssertionError(f"websocket closed before {needle!r}: {bytes(seen[-800:])!r}")
    return bytes(seen)


async def delivery_key(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> str:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, "no file was delivered to the browser"
        msg = await ws.receive(timeout=left)
        if msg.type == aiohttp.WSMsgType.TEXT:
            kind, payload = msg.json()
            if kind == "deliver_file_start":
                return str(payload)
        assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg


async def test_a_tab_gets_its_own_console_offline_and_one_more_is_refused(
    web: tuple[str, subprocess.Popen[str]], demo_dir: Path,
) -> None:
    url, proc = web
    assert url.startswith("http://127.0.0.1:")  # loopback unless --host is given
    host = url.split("//")[1].split(":")[0]
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200
            html = await page.text()
        assert "fonts.googleapis" not in html
        assert external_urls(html, host) == []
        referenced = re.findall(r'(?:href|src)="([^"]+)"', html)
        assert "/static/js/textual.js" in referenced
        for ref in referenced:  # what the page loads: all here, and none of it links elsewhere
            assert ref.startswith("/"), ref
            async with http.get(url.rstrip("/") + ref) as asset:
                assert asset.status == 200, ref
                body = (await asset.read()).decode("utf-8", "replace")
            css_urls = re.findall(r"url\(\"?([^\")]+)", body) if ref.endswith(".css") else []
            assert all(not u.startswith(("http:", "https:", "//")) for u in css_urls), (ref, css_urls)
            if ref.endswith(".js"):
                assert not re.search(r"(fetch|import|XMLHttpRequest)\(\s*[\"']https?://", body)

        ws_url = url.replace("http://", "ws://") + "ws?width=100&height=30"
        async with http.ws_connect(ws_url) as ws:
            await ws.send_json(["resize", {"width": 100, "height": 30}])
            screen = await screen_until(ws, b"Dashboard", 30)
            assert b"BCL console" in screen
            # The cap (1 here): a second tab gets the refusal page, its websocket a sentence.
            async with http.get(url) as full:
                assert full.status == 503
                assert "all 1 sessions are in use" in await full.text()
            async with http.get(url + "sessions") as sessions:
                assert await sessions.json() == {"in_use": 1, "max": 1}
            async with http.ws_connect(ws_url) as second:
                msg = await second.receive(timeout=10)
                assert msg.type == aiohttp.WSMsgType.BINARY
                assert b"This console is full: all 1 sessions are in use" in msg.data
                closing = await second.receive(timeout=10)
                assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert second.close_code == 1013
            # Keys reach the tab's console: `e` opens Settlement.
            await ws.send_json(["stdin", "e"])
            await screen_until(ws, b"Settlement", 15)
            # `w` writes the statements; in the browser the selected one's PDF is downloaded.
            await asyncio.sleep(1.0)  # the year's statement on the table
            await ws.send_json(["stdin", "w"])
            key = await delivery_key(ws, 30)
            async with http.get(f"{url}download/{key}") as download:
                assert download.status == 200
                assert download.headers["Content-Type"] == "application/pdf"
                assert "attachment; filename=statement-" in download.headers["Content-Disposition"]
                assert (await download.read()).startswith(b"%PDF-")
        # The tab closed: its console stopped, and the slot is free again.
        for _ in range(100):
            async with http.get(url + "sessions") as sessions:
                if (await sessions.json())["in_use"] == 0:
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the session was not released")
    # One HTTP API for the centre (the web process's): the tab's console started none.
    log = (demo_dir / "logs" / "bcl-console.log").read_text(encoding="utf-8")
    assert log.count("HTTP API listening") == 1
    assert proc.poll() is None


def test_web_refuses_a_bad_cap(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bcl_console", "web", "--data-dir", str(tmp_path / "d"), "--max-sessions", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "--max-sessions 0 must be between 1 and 1000" in done.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made
