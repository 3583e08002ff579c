"""`terminal add|list|revoke` through the real entry point: the token printed once works
against /manage/v1 of a centre served on the same data directory, and a revoke from the
command line refuses it at the next request."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from bcl_console.cli import main
from bcl_console.config import load_settings
from bcl_console.http.app import start_http
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.cli.test_cli import NOW, add, run, run_json
from tests.conftest import TEST_NOW


def served_status(data: str, token: str, path: str = "/manage/v1/status") -> tuple[int, dict]:  # type: ignore[type-arg]
    """One request to a centre served (in this process) on the data directory."""

    async def ask() -> tuple[int, dict]:  # type: ignore[type-arg]
        rt = Runtime(load_settings(data), clock=FixedClock(TEST_NOW))
        await rt.start(create=False)
        try:
            server = await start_http(rt, "127.0.0.1", 0)
            async with aiohttp.ClientSession() as http, http.get(
                    server.url + path, headers={"Authorization": f"Bearer {token}"}) as r:
                return r.status, await r.json()
        finally:
            await rt.stop()

    return asyncio.run(ask())


def test_add_list_revoke(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert main(["init", "--data-dir", data, "--json"]) == 0
    capsys.readouterr()
    assert add(capsys, data)[0] == 0  # 131016 千代田区
    code, doc = run_json(capsys, "terminal", "add", "--municipality", "131016", "--name", " 総務課  端末 ",
                         "--data-dir", data, *NOW)
    assert code == 0 and doc["name"] == "総務課 端末" and doc["state"] == "active"
    token = doc["token"]
    assert token.startswith("bcl_mgt_") and doc["municipality_code"] == "131016"
    assert token.encode() not in load_settings(data).db_path.read_bytes()  # only its hash is kept

    # the person's form: a sentence, then the token alone on the last line
    code, out, _ = run(capsys, "terminal", "add", "--municipality", "131016", "--name", "窓口", "--data-dir", data,
                       *NOW)
    assert code == 0 and "shown once" in out and out.strip().splitlines()[-1].startswith("bcl_mgt_")

    status, body = served_status(data, token)
    assert status == 200 and body["municipality"]["code"] == "131016" and body["terminal"]["name"] == "総務課 端末"

    code, doc = run_json(capsys, "terminal", "list", "--data-dir", data, *NOW)
    assert code == 0 and [(t["id"], t["name"], t["state"]) for t in doc["terminals"]] == [
        (1, "総務課 端末", "active"), (2, "窓口", "active")]
    assert all("token" not in t and "token_sha256" not in t for t in doc["terminals"])

    code, doc = run_json(capsys, "terminal", "revoke", "総務課 端末", "--municipality", "131016", "--data-dir", data,
                         *NOW)
    assert code == 0 and doc["changed"] is True and doc["state"] == "revoked" and doc["revoked_at"]
    assert served_status(data, token)[0] == 401
    code, doc = run_json(capsys, "terminal", "revoke", "1", "--municipality", "131016", "--data-dir", data, *NOW)
    assert code == 0 and doc["changed"] is False  # by id, already revoked: nothing written

    # rejected: exit 3 with one sentence, nothing changed
    for args, words in (
        (["add", "--municipality", "131016", "--name", "窓口"], "already has a management terminal in use"),
        (["add", "--municipality", "999999", "--name", "x"], "not registered"),
        (["add", "--municipality", "131016", "--name", "42"], "digits alone"),
        (["add", "--municipality", "131016", "--name", "x" * 61], "longer than 60"),
        (["revoke", "nobody", "--municipality", "131016"], "no management terminal 'nobody'"),
        (["revoke", "2", "--municipality", "999999"], "not registered"),
    ):
        code, out, err = run(capsys, "terminal", *args, "--data-dir", data, *NOW)
        assert code == 3 and words in err, (args, err)
    code, doc = run_json(capsys, "terminal", "list", "--data-dir", data, *NOW)
    assert len(doc["terminals"]) == 2
    code, doc = run_json(capsys, "municipality", "audit", "131016", "--data-dir", data, *NOW)
    assert [(e["action"], e["interface"]) for e in doc["audit"][:3]] == [
        ("terminal-revoke", "cli"), ("terminal-add", "cli"), ("terminal-add", "cli")]
    # usage: a missing --municipality is exit 2
    code, _, err = run(capsys, "terminal", "add", "--name", "x", "--data-dir", data)
    assert code == 2


def test_a_directory_with_no_centre_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "terminal", "list", "--data-dir", str(tmp_path / "none"))
    assert code == 2 and str(tmp_path / "none") in err
    assert json.loads(run(capsys, "terminal", "list", "--json", "--data-dir", str(tmp_path / "none"))[1])["error"]
