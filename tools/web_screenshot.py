"""A PNG of `bcl-console web` as a browser shows it: headless chromium, driven over its
DevTools protocol (real time passes, so the tab's console has started), then a screenshot.

    python tools/web_screenshot.py http://127.0.0.1:8000/ out.png [--wait 12] [--keys e]

``--keys`` are typed into the console after it came up (one character each), e.g. ``e``
for Settlement. Needs chromium (Debian: apt-get install chromium)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp


def start_browser(profile: str, width: int, height: int) -> tuple[subprocess.Popen[bytes], str]:
    """Headless chromium with its DevTools on a free port: the process and that port."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("chromium is not installed")
    proc = subprocess.Popen(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={width},{height}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    port_file = Path(profile) / "DevToolsActivePort"
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            return proc, port_file.read_text().split()[0]
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("chromium did not open its DevTools port")


async def shoot(port: str, url: str, wait: float, keys: str) -> bytes:
    """Open ``url``, let ``wait`` seconds of real time pass, type ``keys``: the PNG."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json") as r:
            target = next(t for t in await r.json() if t["type"] == "page")
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as cdp:
            ids = iter(range(1, 10_000))

            async def call(method: str, **params: Any) -> dict[str, Any]:
                n = next(ids)
                await cdp.send_str(json.dumps({"id": n, "method": method, "params": params}))
                while True:
                    msg = json.loads((await cdp.receive()).data)
                    if msg.get("id") == n:
                        return dict(msg.get("result", {}))

            await call("Page.navigate", url=url)
            await asyncio.sleep(wait)
            for key in keys:
                for kind in ("keyDown", "keyUp"):
                    await call("Input.dispatchKeyEvent", type=kind, text=key if kind == "keyDown" else "", key=key)
                await asyncio.sleep(0.3)
            if keys:
                await asyncio.sleep(3)
            shot = await call("Page.captureScreenshot", format="png")
    return base64.b64decode(shot["data"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("out", type=Path)
    p.add_argument("--wait", type=float, default=12.0, help="seconds for the console to come up")
    p.add_argument("--keys", default="", help="characters typed once it is up")
    p.add_argument("--size", default="1100x700", help="window size, WIDTHxHEIGHT")
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as profile:
        proc, port = start_browser(profile, width, height)
        try:
            args.out.write_bytes(asyncio.run(shoot(port, args.url, args.wait, args.keys)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
