"""A PostgreSQL restart under traffic, end to end: a real `serve` on a cluster of the
test's own, kiosks and a municipality's linkage server sending while the server is
restarted with ``pg_ctl -m immediate`` (a crash, as far as the clients of the server
can tell). What must hold: every answer during the outage is a success or a clean 503
``unavailable`` with Retry-After (no 500, no reset connection, no hang); once the server
is back the next flows succeed within seconds; everything the centre answered as
accepted, paid or applied is in the database, billed once; and serve logs no traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bcl_console.config import DB_FILENAME
from bcl_console.services.issuance.pki import certificate_pem, sign_nonce
from bcl_console.services.platform.postgres_local import LocalCluster
from tests.conftest import TEST_NOW
from tests.pg import missing_reason, pg_query, run_sync, skip_or_fail
from tests.services.test_linkage_http import zipped

ROOT = Path(__file__).resolve().parents[2]
BATCH = ROOT / "fixtures" / "linkage" / "valid-full"
LINKED_TOWN = "993611"  # the batch replaces this town's residents: its cards are not used by the kiosks
#: No answer may take longer than this, outage or not (the pool's connect timeout is 10 s).
ANSWER_BOUND = 15.0
#: After the server is back, a flow must go through within this.
RECOVERY_BOUND = 10.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A PostgreSQL server of this test alone: restarting it hurts no other test."""
    if (reason := missing_reason()) is not None:
        skip_or_fail(reason)
    own = LocalCluster(tmp_path / "pg", settings={"fsync": "off", "max_connections": "100"})
    own.init()
    own.start()
    try:
        yield own
    finally:
        own.remove()


@pytest.fixture
def centre(demo_template: Path, tmp_path: Path, cluster: LocalCluster) -> tuple[Path, str]:
    """The demo centre copied onto the test's own server: (data directory, database URL)."""
    from bcl_console.store.copy import copy_sqlite_to_postgres

    data = tmp_path / "centre"
    shutil.copytree(demo_template, data)
    cluster.psql("CREATE DATABASE bcl")
    url = cluster.url("bcl")
    run_sync(lambda: copy_sqlite_to_postgres(demo_template / DB_FILENAME, url))
    (data / DB_FILENAME).unlink()  # nothing may read the SQLite copy by mistake
    return data, url


def _cli(data: Path, url: str, *args: str) -> str:
    env = {**os.environ, "BCL_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "bcl_console", "--data-dir", str(data), "--now",
                           TEST_NOW.isoformat(), *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Serving:
    """`bcl-console serve` on the test's database, its output in a file."""

    def __init__(self, data: Path, url: str, workers: int) -> None:
        self.log = data / "serve-output.txt"
        env = {**os.environ, "BCL_DATABASE_URL": url}
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bcl_console", "--data-dir", str(data), "--now", TEST_NOW.isoformat(),
                 "serve", "--port", "0", "--workers", str(workers)],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 90
        ready = "listening on (http://127\\.0\\.0\\.1:\\d+)"
        while time.monotonic() < deadline:
            text = self.log.read_text()
            found = re.search(ready, text)
            if found and (workers == 1 or text.count(" on http://") > workers):
                self.url = found.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError("serve did not start: " + self.log.read_text())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@dataclass
class Answer:
    what: str
    status: int | None  # None: no HTTP answer at all (a reset, a timeout)
    code: str | None
    retry_after: str | None
    seconds: float
    at: float
    problem: str = ""


@dataclass
class Record:
    answers: list[Answer] = field(default_factory=list)
    #: request_id -> idempotency key, for every request the centre answered 201
    accepted: dict[str, str] = field(default_factory=dict)
    #: request_id -> verification code, for every request the centre answered as issued
    paid: dict[str, str] = field(default_factory=dict)
    printed: set[str] = field(default_factory=set)
    #: the end of each whole flow: (started at, finished at)
    flows: list[tuple[float, float]] = field(default_factory=list)
    linkage: list[tuple[int, str]] = field(default_factory=list)
    #: the service hours a management terminal set, in the order the centre answered 200
    hours: list[str] = field(default_factory=list)


class Unanswered(Exception):
    pass


class Client:
    """Raw HTTP with every answer recorded; a 503 is retried after a short pause, as a
    kiosk retries (``call`` hands back the first answer that is not a 503)."""

    def __init__(self, base: str, http: aiohttp.ClientSession, record: Record) -> None:
        self.base = base
        self.http = http
        self.record = record

    async def once(self, what: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        start = time.monotonic()
        try:
            async with self.http.request(method, self.base + path, **kwargs) as r:
                body: Any = await r.read()
                code = None
                if r.content_type == "application/json":
                    body = json.loads(body)
                    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
                self.record.answers.append(Answer(what, r.status, code, r.headers.get("Retry-After"),
                                                  time.monotonic() - start, start))
                return r.status, body
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.record.answers.append(Answer(what, None, None, None, time.monotonic() - start, start,
                                              f"{type(exc).__name__}: {exc}"))
            raise Unanswered(what) from exc

    async def call(self, what: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        deadline = time.monotonic() + 60
        while True:
            status, body = await self.once(what, method, path, **kwargs)
            if status != 503 or time.monotonic() > deadline:
                return status, body
            await asyncio.sleep(0.3)


async def kiosk_flows(url: str, token: str, cards: list[bytes], record: Record, stop: asyncio.Event,
                      name: str) -> None:
    """One kiosk: whole flows, one after another, until ``stop``. A 503 anywhere is
    retried as the contract allows (a session again from a new challenge; the request
    with the same Idempotency-Key; the payment, the document and the completion as they
    are): each flow ends printed or the test fails."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=ANSWER_BOUND)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        c = Client(url + "/kiosk/v1", http, record)
        n = 0
        while not stop.is_set():
            n += 1
            card = cards[n % len(cards)]
            start = time.monotonic()
            while True:  # a session: a challenge may be lost with its 503, so a new one each time
                status, ch = await c.call("challenge", "POST", "/challenges")
                assert status == 201, ch
                status, s = await c.once("session", "POST", "/sessions", json={
                    "challenge_id": ch["challenge_id"], "certificate": certificate_pem(card),
                    "signature": sign_nonce(card, ch["nonce"])})
                if status == 503:
                    await asyncio.sleep(0.3)
                    continue
                assert status == 201, s
                break
            key = f"{name}-{n}"
            status, req = await c.call("request", "POST", "/requests", json={
                "session_id": s["session_id"], "type": "residence", "copies": 1, "options": {}},
                headers={"Idempotency-Key": key})
            assert status == 201, req
            rid = req["request_id"]
            record.accepted[rid] = key
            status, paid = await c.call("payment", "POST", f"/requests/{rid}/payment",
                                        json={"amount": req["fee_total"]})
            if status == 409:  # an earlier attempt committed and its answer was lost with the server
                assert paid["error"]["code"] in ("conflict", "wrong_state"), paid
                assert any(a.what == "payment" and a.status == 503 for a in record.answers), paid
            else:
                assert status == 200 and paid["status"] == "issued", paid
                record.paid[rid] = paid["verification_code"]
            status, pdf = await c.call("document", "GET", f"/requests/{rid}/document")
            assert status == 200 and pdf[:5] == b"%PDF-", pdf
            status, done = await c.call("completion", "POST", f"/requests/{rid}/completion",
                                        json={"result": "printed"})
            assert status in (200, 409), done
            record.printed.add(rid)
            record.flows.append((start, time.monotonic()))


async def linkage_sender(url: str, token: str, record: Record, begin: asyncio.Event) -> None:
    """The municipality's linkage server sends its batch once the outage has begun, and
    again on every 503, until it hears applied (201) or already applied (200)."""
    await begin.wait()
    body = zipped(BATCH)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/zip"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ANSWER_BOUND)) as http:
        c = Client(url, http, record)
        while True:
            status, doc = await c.once("linkage", "POST", "/linkage/v1/batches", data=body, headers=headers)
            record.linkage.append((status, str(doc.get("outcome", "")) if isinstance(doc, dict) else ""))
            if status != 503:
                return
            await asyncio.sleep(0.3)


async def terminal_writes(url: str, token: str, record: Record, stop: asyncio.Event) -> None:
    """A management terminal of the linked town changes its service hours, a new closing
    time each time, until ``stop``; a 503 is sent again with the same body."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=ANSWER_BOUND)) as http:
        c = Client(url + "/manage/v1", http, record)
        n = 0
        while not stop.is_set():
            close = f"{17 + n // 60 % 7}:{n % 60:02d}"
            n += 1
            status, doc = await c.call("hours", "PUT", "/hours", json={"open": "08:00", "close": close})
            assert status == 200 and doc["controls"]["hours"]["close"] == close, doc
            record.hours.append(f"08:00-{close}")
            await asyncio.sleep(0.05)


async def usable_cards(url: str, token: str, cards: list[Path]) -> list[bytes]:
    """The cards whose residents the relay serves now (not revoked, not moved away, of a
    municipality in service), outside the linked town."""
    good = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for path in cards:
            if path.name.startswith(LINKED_TOWN):
                continue
            card = path.read_bytes()
            async with http.post(url + "/kiosk/v1/challenges") as r:
                ch = await r.json()
            async with http.post(url + "/kiosk/v1/sessions", json={
                    "challenge_id": ch["challenge_id"], "certificate": certificate_pem(card),
                    "signature": sign_nonce(card, ch["nonce"])}) as r:
                if r.status == 201:
                    good.append(card)
            if len(good) == 12:
                break
    return good


def restart(cluster: LocalCluster, down: float) -> tuple[float, float]:
    """``pg_ctl stop -m immediate``, ``down`` seconds without a server, then start: the
    (monotonic) times it went down and was back up."""
    went = time.monotonic()
    cluster.stop("immediate")
    time.sleep(down)
    cluster.start()
    return went, time.monotonic()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_postgresql_restart_under_traffic(centre: tuple[Path, str], cluster: LocalCluster,
                                            workers: int) -> None:
    data, url = centre
    token = _cli(data, url, "kiosk", "register", "--operator", "Restart Mart").strip().splitlines()[-1]
    linkage_token = json.loads(_cli(data, url, "linkage-token", LINKED_TOWN, "--json"))["token"]
    terminal_token = json.loads(_cli(data, url, "terminal", "add", "--municipality", LINKED_TOWN,
                                     "--name", "Restart desk", "--json"))["token"]
    serve = Serving(data, url, workers)
    record = Record()
    try:
        async def run() -> tuple[float, float]:
            cards = await usable_cards(serve.url, token, sorted((data / "cards").glob("*.pem")))
            assert len(cards) >= 6
            stop, outage = asyncio.Event(), asyncio.Event()
            kiosks = [asyncio.create_task(kiosk_flows(serve.url, token, cards[i::6], record, stop, f"k{i}"))
                      for i in range(6)]
            sender = asyncio.create_task(linkage_sender(serve.url, linkage_token, record, outage))
            terminal = asyncio.create_task(terminal_writes(serve.url, terminal_token, record, stop))
            for _ in range(600):  # traffic flowing: every kiosk through a flow or two
                if len(record.flows) >= 12:
                    break
                await asyncio.sleep(0.1)
            assert len(record.flows) >= 12, "the flows before the restart did not go through"
            # writes caught in flight: a lock of the test's own holds every write of an
            # issuance, so the kiosks' requests, payments and completions wait inside their
            # transactions when the server goes
            holder = await asyncpg.connect(url)
            await holder.execute("BEGIN; LOCK TABLE issuances IN SHARE ROW EXCLUSIVE MODE")
            await asyncio.sleep(0.5)
            outage.set()
            restarted = asyncio.create_task(asyncio.to_thread(restart, cluster, 1.0))
            await asyncio.sleep(0.3)  # the linkage batch arrives while the server is down
            went, back = await restarted
            holder.terminate()
            await asyncio.sleep(RECOVERY_BOUND)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*kiosks, sender, terminal), 120)
            return went, back

        went, back = asyncio.run(run())
        # every accepted request's document, over the API, once all is done
        documents = asyncio.run(read_documents(serve.url, token, sorted(record.accepted)))
    finally:
        code = serve.stop()
    output = serve.log.read_text()
    assert code == 0, output

    # -- the answers
    in_flight = [a for a in record.answers if a.status == 503 and a.at < went
                 and a.what in ("request", "payment", "completion")]
    print(f"restart with {workers} worker(s): {len(record.answers)} answers, {len(record.flows)} flows, "
          f"{sum(a.status == 503 for a in record.answers)} x 503 ({len(in_flight)} writes in flight), "
          f"slowest answer {max(a.seconds for a in record.answers):.2f} s, server down {back - went:.1f} s, "
          f"first flow done {min((e for s, e in record.flows if s >= back), default=float('nan')) - back:.2f} s "
          f"after, linkage {[status for status, _ in record.linkage]}, {len(record.hours)} hours changes")
    unavailable = [a for a in record.answers if a.status == 503]
    assert in_flight, "no write was in flight when the server went: the test did not test it"
    bad = [a for a in record.answers if a.status is None or (a.status >= 500 and a.status != 503)]
    assert not bad, bad[:5]  # no 500, no reset or unanswered connection, no timeout
    for a in unavailable:
        assert a.code == "unavailable" and a.retry_after == "1", a
    assert max(a.seconds for a in record.answers) < ANSWER_BOUND
    # after the server is back, flows go through again, soon, and stay through
    after = [f for f in record.flows if f[0] >= back]
    assert after, "no flow started after the restart went through"
    assert min(end for _, end in after) - back < RECOVERY_BOUND
    assert not [a for a in record.answers if a.status == 503 and a.at > back + RECOVERY_BOUND / 2]

    # -- nothing accepted lost, nothing billed twice: one issuance per flow, printed
    rows = {r[0]: (r[1], r[2], r[3]) for r in pg_query(
        url, "SELECT request_id, state, idempotency_key, content_sha256 FROM issuances "
             "WHERE operator = 'Restart Mart'")}
    assert set(rows) == set(record.accepted) == record.printed
    assert len(rows) == len(record.flows) == len({key for _, key, _ in rows.values()})
    for rid, (state, _key, sha) in rows.items():
        assert state == "printed", (rid, state)
        assert hashlib.sha256(documents[rid]).hexdigest() == sha
    assert all(rid in rows for rid in record.paid)

    # -- the linkage batch: sent while the server was down, applied exactly once
    assert record.linkage[0][0] == 503 and record.linkage[-1][0] in (200, 201), record.linkage
    assert pg_query(url, "SELECT sequence, outcome FROM linkage_batches WHERE municipality_code = $1 "
                         "AND sequence = 2", LINKED_TOWN) == [(2, "applied")]

    # -- the management terminal: every change it was told was made is in the audit trail
    #    (a change whose answer was lost with the server may be there too), the last one holds
    changes = [r[0] for r in pg_query(
        url, "SELECT new_value FROM audit_log WHERE municipality_code = $1 AND interface = 'manage' "
             "AND field = 'hours' ORDER BY id", LINKED_TOWN)]
    assert set(record.hours) <= set(changes) and changes[-1] == record.hours[-1]
    assert any(a.what == "hours" and a.status == 503 for a in record.answers)
    assert pg_query(url, "SELECT hours_open || '-' || hours_close FROM municipalities WHERE code = $1",
                    LINKED_TOWN) == [(record.hours[-1],)]

    # -- the log: a warning per failed request, never a traceback; no worker died
    logged = output + "".join(p.read_text() for p in sorted((data / "logs").glob("*.log*")))
    assert "Traceback" not in logged, logged[logged.find("Traceback") - 200:][:3000]
    assert set(re.findall(r'" (5\d\d) \d+ ', logged)) <= {"503"}
    assert "exited (" not in output
    assert logged.count("events from other processes: listening again") == workers  # the live feed is back


async def read_documents(url: str, token: str, rids: list[str]) -> dict[str, bytes]:
    out = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for rid in rids:
            async with http.get(f"{url}/kiosk/v1/requests/{rid}/document") as r:
                assert r.status == 200, await r.text()
                out[rid] = await r.read()
    return out
