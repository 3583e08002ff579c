"""SIGKILL of real `link` and `serve` processes at named points (a power failure there),
then what must hold: the database intact, a batch applied whole with a restorable backup
or not at all, every paid request issued with a verifying document or retryable, nothing
billed twice, and no process left behind."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.faults.conftest import Serve, alive, children_of, cli, integrity_ok, rows, wait_until
from tests.services.relay_client import Kiosk

ROOT = Path(__file__).resolve().parents[2]
BATCH = ROOT / "fixtures" / "linkage" / "valid-full"
TOWN = "993611"


def applied(db: Path) -> list[tuple]:  # type: ignore[type-arg]
    return rows(db, "SELECT sequence, outcome FROM linkage_batches WHERE municipality_code = ? AND sequence = 2",
                TOWN)


def backup_files(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "backups" / TOWN).glob("*")) if (data / "backups" / TOWN).exists() else []


def assert_restorable(data: Path) -> None:
    restore = cli("backup", "restore", TOWN, "--json", data=data)
    assert restore.returncode == 0, restore.stderr
    assert json.loads(restore.stdout)["residents"] == 10
    check = cli("jobs", "run", "nightly-backup-check", "--json", data=data)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("point", ["link:reading", "link:inserting", "link:before-commit"])
def test_link_killed_before_its_commit_applies_nothing(demo_dir: Path, point: str) -> None:
    db = demo_dir / "bcl.sqlite3"
    residents = rows(db, "SELECT count(*) FROM residents WHERE municipality_code = ?", TOWN)
    killed = cli("link", str(BATCH), "--json", data=demo_dir, fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert integrity_ok(db)
    assert applied(db) == [] and rows(db, "SELECT count(*) FROM residents WHERE municipality_code = ?",
                                      TOWN) == residents
    # The retry applies it, and its backup is there and restorable.
    again = cli("link", str(BATCH), "--json", data=demo_dir)
    assert again.returncode == 0 and json.loads(again.stdout)["outcome"] == "applied", again.stdout
    files = backup_files(demo_dir)
    assert "00000002-full.bclbak" in files
    # what the killed attempt was writing is its own file; once it is an hour old, the next
    # start removes it (a younger one may belong to another process's ingest in progress)
    left = [f for f in files if f.endswith(".partial")]
    assert len(left) <= 1
    for name in left:
        old = time.time() - 7200
        os.utime(demo_dir / "backups" / TOWN / name, (old, old))
    assert_restorable(demo_dir)
    assert backup_files(demo_dir) == ["00000002-full.bclbak"]


def test_link_killed_right_after_its_commit_keeps_its_backup(demo_dir: Path) -> None:
    db = demo_dir / "bcl.sqlite3"
    killed = cli("link", str(BATCH), "--json", data=demo_dir, fault="link:after-commit")
    assert killed.returncode == -signal.SIGKILL
    assert integrity_ok(db)
    assert applied(db) == [(2, "applied")]
    assert backup_files(demo_dir) == ["00000002-full.bclbak"]  # durable before "applied" was said
    assert_restorable(demo_dir)
    again = cli("link", str(BATCH), "--json", data=demo_dir)
    assert again.returncode == 0 and json.loads(again.stdout)["outcome"] == "already-applied"


def test_a_backup_left_unfinished_by_an_older_version_is_recovered_at_start(demo_dir: Path) -> None:
    """Directories that an earlier version left with only ``…-full.partial`` (it renamed the
    backup after the commit): the next start verifies the partial file and renames it."""
    done = cli("link", str(BATCH), "--json", data=demo_dir)
    assert done.returncode == 0
    final = demo_dir / "backups" / TOWN / "00000002-full.bclbak"
    final.rename(final.with_suffix(".partial"))
    stray = demo_dir / "backups" / TOWN / "00000009-full.partial"  # never applied: removed
    stray.write_bytes(b"BCLBAK1\n")
    os.utime(stray, (time.time() - 7200, time.time() - 7200))  # left by a crash two hours ago
    assert_restorable(demo_dir)
    assert backup_files(demo_dir) == ["00000002-full.bclbak"]


def resident_with_card(data: Path) -> Path:
    cards = sorted((data / "cards").glob(f"{TOWN}-*.pem"))
    return next(c for c in cards if "revoked" not in c.name)


async def _request(url: str, token: str, card: bytes, key: str) -> tuple[Kiosk, str, int, aiohttp.ClientSession]:
    http = aiohttp.ClientSession()
    kiosk = Kiosk(url, token, http)
    status, s = await kiosk.session(card)
    assert status == 201, s
    status, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                   {"Idempotency-Key": key})
    assert status == 201, req
    return kiosk, req["request_id"], req["fee_total"], http


def kiosk_token(data: Path) -> str:
    out = cli("kiosk", "register", "--operator", "Fault Mart", "--json", data=data)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["token"])


@pytest.mark.parametrize("point", ["pay:after-render", "pay:after-commit"])
def test_serve_killed_during_a_payment(demo_dir: Path, serving: list[Serve], point: str) -> None:
    """A payment cut off by a power failure: after the restart the kiosk's retry either
    issues it (the first attempt never committed) or finds it issued; either way one
    issuance, billed once, whose document verifies."""
    token = kiosk_token(demo_dir)
    card = resident_with_card(demo_dir).read_bytes()
    db = demo_dir / "bcl.sqlite3"

    async def first() -> str:
        server = Serve(demo_dir, fault=point)
        serving.append(server)
        kiosk, rid, fee, http = await _request(server.url, token, card, "fault-pay")
        try:
            with pytest.raises(aiohttp.ClientError):
                await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": fee})
        finally:
            await http.close()
        server.proc.wait(timeout=30)
        assert server.proc.returncode == -signal.SIGKILL
        return rid

    rid = asyncio.run(first())
    assert integrity_ok(db)
    state = rows(db, "SELECT state FROM issuances WHERE request_id = ?", rid)[0][0]
    assert state == ("awaiting_payment" if point == "pay:after-render" else "issued")

    async def retry() -> bytes:
        server = Serve(demo_dir)
        serving.append(server)
        async with aiohttp.ClientSession() as http:
            kiosk = Kiosk(server.url, token, http)
            status, paid = await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": 300})
            assert status == (200 if point == "pay:after-render" else 409), paid
            status, pdf = await kiosk.call("GET", f"/requests/{rid}/document")
            assert status == 200
            status, done = await kiosk.call("POST", f"/requests/{rid}/completion", {"result": "printed"})
            assert status == 200, done
        server.stop()
        return bytes(pdf)

    pdf = asyncio.run(retry())
    (sha, state), = rows(db, "SELECT content_sha256, state FROM issuances WHERE request_id = ?", rid)
    assert state == "printed" and hashlib.sha256(pdf).hexdigest() == sha
    assert rows(db, "SELECT count(*) FROM issuances WHERE idempotency_key = 'fault-pay'") == [(1,)]
    out = demo_dir / "retry.pdf"
    out.write_bytes(pdf)
    verdict = cli("verify", str(out), "--json", data=demo_dir)
    assert verdict.returncode == 0 and json.loads(verdict.stdout)["status"] == "genuine", verdict.stdout
    # the killed attempt kept a document of its own that nothing records; once it is an
    # hour old the nightly sweep removes it, and only it
    (kept,), = rows(db, "SELECT document_path FROM issuances WHERE request_id = ?", rid)
    attempts = sorted(p for p in (demo_dir / kept).parent.glob(f"{rid}-*.pdf"))
    assert demo_dir / kept in attempts
    left = [p for p in attempts if p != demo_dir / kept]
    assert len(left) == (1 if point == "pay:after-render" else 0)
    documents = sorted((demo_dir / "documents").rglob("*.pdf"))
    for path in left:
        hours_ago = time.time() - 7200
        os.utime(path, (hours_ago, hours_ago))
    swept = cli("jobs", "run", "documents-sweep", "--json", data=demo_dir)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert f"{len(left)} removed" in json.loads(swept.stdout)["detail"]
    assert sorted((demo_dir / "documents").rglob("*.pdf")) == [p for p in documents if p not in left]


def test_serve_killed_right_after_a_completion(demo_dir: Path, serving: list[Serve]) -> None:
    token = kiosk_token(demo_dir)
    card = resident_with_card(demo_dir).read_bytes()
    db = demo_dir / "bcl.sqlite3"

    async def flow() -> str:
        server = Serve(demo_dir, fault="complete:after-commit")
        serving.append(server)
        kiosk, rid, fee, http = await _request(server.url, token, card, "fault-done")
        try:
            status, _ = await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": fee})
            assert status == 200
            with pytest.raises(aiohttp.ClientError):
                await kiosk.call("POST", f"/requests/{rid}/completion", {"result": "failed"})
        finally:
            await http.close()
        server.proc.wait(timeout=30)
        return rid

    rid = asyncio.run(flow())
    assert integrity_ok(db)
    assert rows(db, "SELECT state FROM issuances WHERE request_id = ?", rid) == [("voided",)]

    async def retry() -> None:
        server = Serve(demo_dir)
        serving.append(server)
        async with aiohttp.ClientSession() as http:
            status, doc = await Kiosk(server.url, token, http).call(
                "POST", f"/requests/{rid}/completion", {"result": "failed"})
            assert status == 409, doc  # refunded once, never twice
        server.stop()

    asyncio.run(retry())


@pytest.mark.parametrize("command", ["serve", "console"])
def test_render_workers_die_with_their_parent(demo_dir: Path, serving: list[Serve], command: str) -> None:
    if command == "serve":
        server = Serve(demo_dir)
        serving.append(server)
        proc = server.proc
    else:
        import pty
        import subprocess
        import sys

        leader, follower = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "bcl_console", "--data-dir", str(demo_dir),
                                 "--now", "2026-06-17T10:00:00+09:00"],
                                stdin=follower, stdout=follower, stderr=follower,
                                env={**os.environ, "BCL_PORT": "0", "TERM": "xterm", "COLUMNS": "80",
                                     "LINES": "24"})
        os.close(follower)
    try:
        # the render pool is up once there are worker processes besides the parent
        assert wait_until(lambda: len(children_of(proc.pid)) >= 2, timeout=60), "no render workers started"
        descendants = children_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert wait_until(lambda: not alive(descendants), timeout=20), f"left behind: {alive(descendants)}"


def test_a_demo_cut_off_mid_swap_is_undone_at_the_next_start(demo_dir: Path) -> None:
    """The state a power cut between demo's two rename loops leaves: the previous set moved
    aside, the new one not yet in. The next command moves the previous set back."""
    db = demo_dir / "bcl.sqlite3"
    before = rows(db, "SELECT count(*) FROM residents")
    previous = demo_dir / ".demo-previous"
    previous.mkdir()
    for name in ("bcl.sqlite3", "cards", "documents", "backups"):
        if (demo_dir / name).exists():
            (demo_dir / name).rename(previous / name)
    (demo_dir / ".demo-staging").mkdir()
    done = cli("municipality", "list", "--json", data=demo_dir)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["municipalities"]) == 5
    assert rows(db, "SELECT count(*) FROM residents") == before
    assert not previous.exists() and not (demo_dir / ".demo-staging").exists()
    assert (demo_dir / "cards").is_dir() and integrity_ok(db)
