"""`counter register|list|revoke` through the real entry point, and a card from `card issue`
at the counter: the token printed once opens /counter/v1 of a centre served on the same
data directory, the card issues a genuine document there, and a revoke from the command
line refuses the token at the next request."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bcl_console.config import load_settings
from bcl_console.http.app import start_http
from bcl_console.services.issuance.pki import certificate_pem, sign_nonce
from bcl_console.services.platform.clock import FixedClock
from bcl_console.services.platform.runtime import Runtime
from tests.cli.test_cli import NOW, add, run, run_json
from tests.conftest import TEST_NOW

TOWN = "993611"


def at_counter(data: str, token: str, card: bytes | None = None) -> list[tuple[int, Any]]:
    """Challenge (and with a card: session, request, document) at a centre served in this process."""

    async def ask() -> list[tuple[int, Any]]:
        rt = Runtime(load_settings(data), clock=FixedClock(TEST_NOW))
        await rt.start(create=False)
        out: list[tuple[int, Any]] = []
        try:
            server = await start_http(rt, "127.0.0.1", 0)
            base, headers = f"{server.url}/counter/v1", {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                async with http.post(f"{base}/challenges") as r:
                    c = await r.json()
                    out.append((r.status, c))
                if card is None or r.status != 201:
                    return out
                proof = {"challenge_id": c["challenge_id"], "certificate": certificate_pem(card),
                         "signature": sign_nonce(card, c["nonce"])}
                async with http.post(f"{base}/sessions", json=proof) as r:
                    s = await r.json()
                    out.append((r.status, s))
                async with http.post(f"{base}/requests", json={"session_id": s["session_id"], "type": "residence"},
                                     headers={"Idempotency-Key": "cli-1"}) as r:
                    issued = await r.json()
                    out.append((r.status, issued))
                async with http.get(f"{base}/requests/{issued['request_id']}/document") as r:
                    pdf = await r.read()
                    out.append((r.status, (await rt.verification.verify_bytes(pdf)).status))
        finally:
            await rt.stop()
        return out

    return asyncio.run(ask())


def test_register_list_revoke(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run(capsys, "init", "--data-dir", data, "--json")[0] == 0
    assert add(capsys, data)[0] == 0  # 131016 千代田区
    code, doc = run_json(capsys, "counter", "register", "--municipality", "131016", "--name", " 住民課  窓口1 ",
                         "--data-dir", data, *NOW)
    assert code == 0 and doc["name"] == "住民課 窓口1" and doc["state"] == "active"
    token = doc["token"]
    assert token.startswith("bcl_ctr_") and doc["municipality_code"] == "131016"
    assert token.encode() not in load_settings(data).db_path.read_bytes()  # only its hash is kept
    # the person's form: a sentence, then the token alone on the last line
    code, out, _ = run(capsys, "counter", "register", "--municipality", "131016", "--name", "窓口2",
                       "--data-dir", data, *NOW)
    assert code == 0 and "Counter terminal" in out and "shown once" in out
    assert out.strip().splitlines()[-1].startswith("bcl_ctr_")
    assert at_counter(data, token)[0][0] == 201

    code, doc = run_json(capsys, "counter", "list", "--data-dir", data, *NOW)
    assert [(t["name"], t["state"]) for t in doc["terminals"]] == [("住民課 窓口1", "active"), ("窓口2", "active")]
    assert all("token" not in t for t in doc["terminals"])
    assert run_json(capsys, "terminal", "list", "--data-dir", data, *NOW)[1]["terminals"] == []  # kinds apart
    code, out, _ = run(capsys, "counter", "list", "--municipality", "131016", "--data-dir", data, *NOW)
    assert code == 0 and "住民課 窓口1" in out and "窓口2" in out

    code, doc = run_json(capsys, "counter", "revoke", "住民課 窓口1", "--municipality", "131016",
                         "--data-dir", data, *NOW)
    assert code == 0 and doc["changed"] is True and doc["state"] == "revoked"
    assert at_counter(data, token)[0][0] == 401
    code, out, _ = run(capsys, "counter", "revoke", str(doc["id"]), "--municipality", "131016", "--data-dir", data,
                       *NOW)
    assert code == 0 and "was already revoked" in out

    # rejected: exit 3 with one sentence, nothing changed
    for args, words in (
        (["register", "--municipality", "131016", "--name", "窓口2"], "already has a counter terminal in use"),
        (["register", "--municipality", "999999", "--name", "x"], "not registered"),
        (["register", "--municipality", "131016", "--name", "7"], "digits alone"),
        (["revoke", "nobody", "--municipality", "131016"], "no counter terminal 'nobody'"),
    ):
        code, _, err = run(capsys, "counter", *args, "--data-dir", data, *NOW)
        assert code == 3 and words in err, (args, err)
    assert len(run_json(capsys, "counter", "list", "--data-dir", data, *NOW)[1]["terminals"]) == 2
    code, doc = run_json(capsys, "municipality", "audit", "131016", "--data-dir", data, *NOW)
    assert [(e["action"], e["interface"]) for e in doc["audit"][:3]] == [
        ("counter-revoke", "cli"), ("counter-register", "cli"), ("counter-register", "cli")]
    assert run(capsys, "counter", "register", "--name", "x", "--data-dir", data)[0] == 2  # usage


def test_a_card_from_card_issue_is_served_at_the_counter(capsys: pytest.CaptureFixture[str], demo_dir: Path,
                                                        tmp_path: Path) -> None:
    data = str(demo_dir)
    with sqlite3.connect(load_settings(data).db_path) as conn:
        holder = conn.execute("SELECT resident_code FROM residents WHERE municipality_code = ? AND status = 'active' "
                              "AND restricted = 0 ORDER BY resident_code DESC LIMIT 1", (TOWN,)).fetchone()[0]
    pem = tmp_path / "card.pem"
    code, _, err = run(capsys, "card", "issue", "--municipality", TOWN, "--resident", holder, "--out", str(pem),
                       "--data-dir", data, *NOW)
    assert code == 0, err
    code, doc = run_json(capsys, "counter", "register", "--municipality", TOWN, "--name", "本庁 1番窓口",
                         "--data-dir", data, *NOW)
    assert code == 0
    (c, _), (s, session), (r, issued), (d, verdict) = at_counter(data, doc["token"], pem.read_bytes())
    assert (c, s, r, d) == (201, 201, 201, 200), (session, issued)
    assert session["resident_code"] == holder and issued["status"] == "issued" and verdict == "genuine"
