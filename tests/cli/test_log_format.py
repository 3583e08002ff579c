"""`--log-format json`: every line of the log file is one JSON object, the access lines
carry the request's fields, and no token, verification code or resident code is written."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bcl_console.config import ConfigError, load_settings
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import TEST_NOW, stop_gracefully
from tests.services.relay_client import Kiosk


async def test_serve_writes_one_json_object_per_line(demo_dir: Path) -> None:
    console = Runtime(load_settings(str(demo_dir), now=TEST_NOW.isoformat()))
    await console.start(create=False)
    token = await console.tokens.issue("kiosk", "Log Mart", actor=Actor("t", "cli"))
    await console.stop()
    log_file = demo_dir / "logs" / "bcl-console.log"
    log_file.unlink(missing_ok=True)
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any traffic
        [sys.executable, "-m", "bcl_console", "--log-format", "json", "--data-dir", str(demo_dir),
         "--now", TEST_NOW.isoformat(), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 60)
        match = re.search(r"listening on (http://\S+) ", line)
        assert match, line
        url = match[1]
        card = next(p for p in sorted((demo_dir / "cards").glob("993611-*.pem")) if "revoked" not in p.name)
        resident_code = card.stem.split("-")[1]
        async with aiohttp.ClientSession() as http:
            kiosk = Kiosk(url, token, http)
            kiosk.headers["X-Request-Id"] = "lb-7f3a"
            status, s = await kiosk.session(card.read_bytes())
            assert status == 201, s
            status, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                           {"Idempotency-Key": "log-1"})
            assert status == 201, req
            status, paid = await kiosk.call("POST", f"/requests/{req['request_id']}/payment",
                                            {"amount": req["fee_total"]})
            assert status == 200, paid
            verification = paid["verification_code"]
            kiosk.headers["X-Request-Id"] = 'not "a" token'
            status, _ = await kiosk.call("POST", "/challenges")
            assert status == 201
            async with http.get(f"{url}/verify/v1/{verification}") as r:
                assert r.status == 200
    finally:
        stop_gracefully(server)
    assert server.returncode == 0
    text = log_file.read_text(encoding="utf-8")
    lines = [json.loads(raw) for raw in text.splitlines()]  # every line parses
    assert lines and all({"time", "level", "logger", "event"} <= set(d) for d in lines)
    access = [d for d in lines if d["logger"] == "bcl_console.access"]
    outside = [d for d in lines if d["logger"] != "bcl_console.access"]
    assert any(d["event"].startswith("HTTP API listening") for d in outside)
    assert not any("request_id" in d for d in outside)  # no request's fields outside requests
    payment = [d for d in access if d.get("route") == "/kiosk/v1/requests/{id}/payment"]
    assert len(payment) == 1
    assert payment[0]["request_id"] == "lb-7f3a" and payment[0]["status"] == 200
    assert payment[0]["municipality"] == "993611" and payment[0]["method"] == "POST"
    assert isinstance(payment[0]["latency_ms"], float)
    challenges = [d for d in access if d.get("route") == "/kiosk/v1/challenges"]
    assert challenges[-1]["request_id"] != 'not "a" token' and re.fullmatch(r"[0-9a-f]{16}",
                                                                             challenges[-1]["request_id"])
    assert token not in text and resident_code not in text
    assert verification not in text
    assert [d["status"] for d in access if d.get("path") == "/verify/v1/*"] == [200]


def test_log_format_comes_from_the_environment_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(str(tmp_path)).log_format == "human"
    monkeypatch.setenv("BCL_LOG_FORMAT", "json")
    assert load_settings(str(tmp_path)).log_format == "json"
    monkeypatch.delenv("BCL_LOG_FORMAT")
    (tmp_path / "config.toml").write_text('log-format = "xml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config.toml: 'xml' is not a log format \(human or json\)"):
        load_settings(str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "bcl_console", "--data-dir", str(tmp_path), "init", "--json"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "is not a log format" in result.stderr
