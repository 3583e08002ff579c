"""Contract §9 from outside, on a real socket: bodies in pieces, hostile bodies and headers
on every route, concurrent payments of one request, slow and idle connections, and what
the logs and files of the data directory reveal."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import stat
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bcl_console.http.app import start_http
from bcl_console.http.shelter import RESIDENT_LIMIT_KEY
from bcl_console.services.issuance.pki import certificate_pem, sign_nonce
from bcl_console.services.platform.actor import Actor
from bcl_console.services.platform.runtime import Runtime
from tests.conftest import kept_names, query
from tests.services.relay_client import Kiosk

OP = Actor("op", "cli")
TOWN = "993611"


class Wire:
    """Raw HTTP/1.1 on a socket: headers and body sent exactly as the test says."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", int(parts.port or 80)

    async def send(self, method: str, path: str, body: bytes = b"", *, headers: dict[str, bytes] | None = None,
                   pieces: int = 1, pause: float = 0.05) -> tuple[int, Any]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        sock = writer.get_extra_info("socket")
        import socket

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each piece its own segment
        head = [f"{method} {path} HTTP/1.1".encode(), f"Host: {self.host}".encode(),
                b"Connection: close", f"Content-Length: {len(body)}".encode(),
                b"Content-Type: application/json"]
        head += [name.encode() + b": " + value for name, value in (headers or {}).items()]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n")
        await writer.drain()
        size = -(-len(body) // pieces) if body else 0
        for start in range(0, len(body), size or 1):
            await asyncio.sleep(pause)
            writer.write(body[start:start + size])
            await writer.drain()
        raw = await reader.read()
        writer.close()
        status_line, _, rest = raw.partition(b"\r\n")
        status = int(status_line.split()[1])
        payload = rest.partition(b"\r\n\r\n")[2]
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload


@pytest.fixture
async def centre(demo_runtime: Runtime) -> AsyncIterator[tuple[Runtime, str, str]]:
    server = await start_http(demo_runtime, "127.0.0.1", 0)
    token = await demo_runtime.tokens.issue("kiosk", "Seven Mart", actor=OP)
    yield demo_runtime, server.url, token


def active_resident(rt: Runtime, code: str = TOWN) -> str:
    return str(query(rt.settings.db_path, "SELECT resident_code FROM residents WHERE municipality_code=? "
                     "AND status='active' AND restricted=0 LIMIT 1", code)[0][0])


async def session_body(http: aiohttp.ClientSession, url: str, auth: dict[str, str], base: str,
                       card: bytes) -> dict[str, Any]:
    async with http.post(f"{url}/{base}/v1/challenges", headers=auth) as r:
        c = await r.json()
    return {"challenge_id": c["challenge_id"], "certificate": certificate_pem(card),
            "signature": sign_nonce(card, c["nonce"])}


async def test_a_card_session_arrives_in_pieces(centre: tuple[Runtime, str, str]) -> None:
    """≈1.7 KB with the PEM: above one segment, so real networks split it."""
    rt, url, token = centre
    card = (await rt.pki.issue_card(TOWN, active_resident(rt), actor=OP)).pem
    auth = {"Authorization": f"Bearer {token}"}
    wire = Wire(url)
    async with aiohttp.ClientSession() as http:
        for pieces in (2, 5):
            body = json.dumps(await session_body(http, url, auth, "kiosk", card)).encode()
            assert len(body) > 1460
            status, doc = await wire.send("POST", "/kiosk/v1/sessions", body, pieces=pieces,
                                          headers={"Authorization": f"Bearer {token}".encode()})
            assert status == 201, doc
            assert doc["resident_code"] == active_resident(rt)
            # the rest of the flow, each body in pieces too
            request = json.dumps({"session_id": doc["session_id"], "type": "residence", "copies": 1,
                                  "options": {}}).encode()
            status, req = await wire.send("POST", "/kiosk/v1/requests", request, pieces=pieces, headers={
                "Authorization": f"Bearer {token}".encode(), "Idempotency-Key": f"split-{pieces}".encode()})
            assert status == 201, req
            rid = req["request_id"]
            status, paid = await wire.send("POST", f"/kiosk/v1/requests/{rid}/payment",
                                           json.dumps({"amount": req["fee_total"]}).encode(), pieces=pieces,
                                           headers={"Authorization": f"Bearer {token}".encode()})
            assert status == 200, paid
            status, done = await wire.send("POST", f"/kiosk/v1/requests/{rid}/completion",
                                           b'{"result": "printed"}', pieces=pieces,
                                           headers={"Authorization": f"Bearer {token}".encode()})
            assert status == 200 and done["status"] == "printed"


async def test_shelter_and_resident_bodies_arrive_in_pieces(centre: tuple[Runtime, str, str]) -> None:
    rt, url, _ = centre
    shelter_token = await rt.tokens.issue("shelter", "受付1", actor=OP)
    card = (await rt.pki.issue_card(TOWN, active_resident(rt), actor=OP)).pem
    wire = Wire(url)
    async with aiohttp.ClientSession() as http:
        for pieces in (2, 5):
            auth = {"Authorization": f"Bearer {shelter_token}"}
            body = await session_body(http, url, auth, "shelter", card)
            status, doc = await wire.send("POST", "/shelter/v1/checkins",
                                          json.dumps({**body, "shelter_id": 1}).encode(), pieces=pieces,
                                          headers={"Authorization": f"Bearer {shelter_token}".encode()})
            assert status == 201 and doc["checked_in"] is True, doc
            body = await session_body(http, url, auth, "shelter", card)
            status, doc = await wire.send("POST", "/shelter/v1/checkouts", json.dumps(body).encode(),
                                          pieces=pieces,
                                          headers={"Authorization": f"Bearer {shelter_token}".encode()})
            assert status == 200 and doc["checked_in"] is False, doc
            body = await session_body(http, url, {}, "resident", card)
            status, doc = await wire.send("POST", "/resident/v1/applications",
                                          json.dumps({**body, "disaster_id": 1}).encode(), pieces=pieces)
            assert status in (201, 409), doc  # applied, or already applied the first time round
            assert doc.get("error", {}).get("code") != "malformed_json"


#: Bodies no client should send, each with what it tries.
HOSTILE: list[tuple[str, bytes]] = [
    ("lone surrogate", b'{"challenge_id": "\\ud800", "amount": 1, "result": "\\udfff", "session_id": "\\ud83d"}'),
    ("surrogate key", b'{"\\ud800": 1}'),
    ("nested 5,000 deep", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("nested 40 deep", b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}"),
    ("integer 2^63", b'{"amount": 9223372036854775808, "disaster_id": 9223372036854775808, '
                     b'"shelter_id": 9223372036854775808, "copies": 9223372036854775808}'),
    ("integer of 5,000 digits", b'{"amount": ' + b"9" * 5000 + b"}"),
    ("NaN", b'{"amount": NaN}'),
    ("not UTF-8", b'{"result": "\xff\xfe"}'),
    ("infinite number", b'{"amount": 1e400, "disaster_id": 1e400}'),
    ("not an object", b"[1, 2, 3]"),
    ("NUL in strings", b'{"challenge_id": "a\\u0000b", "session_id": "a\\u0000b", "type": "residence\\u0000", '
                       b'"result": "printed\\u0000", "amount": 1}'),
    ("truncated", b'{"amount": '),
]


def routes(rid: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/kiosk/v1/challenges"), ("POST", "/kiosk/v1/sessions"), ("POST", "/kiosk/v1/requests"),
        ("POST", f"/kiosk/v1/requests/{rid}/payment"), ("POST", f"/kiosk/v1/requests/{rid}/completion"),
        ("POST", "/shelter/v1/challenges"), ("POST", "/shelter/v1/checkins"), ("POST", "/shelter/v1/checkouts"),
        ("POST", "/resident/v1/challenges"), ("POST", "/resident/v1/applications"),
        ("POST", "/linkage/v1/batches"), ("GET", "/healthz"), ("GET", "/metrics"),
    ]


async def _awaiting_request(rt: Runtime, url: str, token: str) -> str:
    card = (await rt.pki.issue_card(TOWN, active_resident(rt), actor=OP)).pem
    async with aiohttp.ClientSession() as http:
        kiosk = Kiosk(url, token, http)
        _, s = await kiosk.session(card)
        _, req = await kiosk.call("POST", "/requests", {"session_id": s["session_id"], "type": "residence"},
                                  {"Idempotency-Key": "hostile"})
    return str(req["request_id"])


def _state(rt: Runtime) -> list[tuple]:  # type: ignore[type-arg]
    return query(rt.settings.db_path, "SELECT request_id, state, fee, verification_code FROM issuances "
                 "ORDER BY request_id") + query(rt.settings.db_path, "SELECT count(*) FROM shelter_stays") + \
        query(rt.settings.db_path, "SELECT count(*) FROM online_applications")


async def test_hostile_bodies_and_headers_are_400_on_every_route(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    shelter = await rt.tokens.issue("shelter", "受付1", actor=OP)
    rid = await _awaiting_request(rt, url, token)
    before = _state(rt)
    wire = Wire(url)
    assert rt.http is not None  # residents are rate-limited per address: this test is one address
    rt.http.runner.app[RESIDENT_LIMIT_KEY].burst = 10_000
    for method, path in routes(rid):
        auth = shelter if path.startswith("/shelter/") else token
        headers = {"Authorization": f"Bearer {auth}".encode(), "Idempotency-Key": b"k-1"}
        for what, body in HOSTILE:
            status, doc = await wire.send(method, path, body, headers=headers)
            assert status < 500, (path, what, status, doc)
            if path.endswith(("/challenges", "/sessions", "/requests", "/payment", "/completion", "/checkins",
                              "/checkouts", "/applications")):
                assert status == 400 and doc["error"]["code"] in ("malformed_json", "bad_request"), \
                    (path, what, status, doc)
        for what, header in [("Idempotency-Key not UTF-8", {"Idempotency-Key": b"\xff\xfe-key"}),
                             ("Authorization not UTF-8", {"Authorization": b"Bearer \xc3\x28"}),
                             ("Idempotency-Key too long", {"Idempotency-Key": b"k" * 5000})]:
            status, doc = await wire.send(method, path, b'{"type": "residence"}',
                                          headers={**headers, **header})
            assert status < 500, (path, what, status, doc)
            if "not UTF-8" in what and method == "POST":
                assert status == 400 and doc["error"]["code"] == "bad_header", (path, what, doc)
    # a NUL in the path or the query string: no name or code a route looks up holds one
    for method, path in [("GET", f"/kiosk/v1/requests/{rid[:4]}%00{rid[4:]}/document"),
                         ("POST", f"/kiosk/v1/requests/{rid}%00/payment"), ("GET", "/verify/v1/AB%00CD"),
                         ("GET", "/kiosk/v1/requests?state=%00")]:
        status, doc = await wire.send(method, path, b'{"amount": 300}',
                                      headers={"Authorization": f"Bearer {token}".encode()})
        assert status == 400 and doc["error"]["code"] == "bad_path", (path, status, doc)
    assert _state(rt) == before  # nothing changed anywhere
    errors = (rt.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
    assert "Traceback" not in errors and "unhandled error" not in errors


async def test_own_server_bodies_are_read_whole_and_checked(runtime: Runtime) -> None:
    from bcl_console.http.app import HttpServer
    from bcl_console.http.own_server import BASE, build_own_server_app

    server = await HttpServer.start(runtime, "127.0.0.1", 0, build_own_server_app(runtime))
    try:
        wire = Wire(server.url)
        body = json.dumps({"resident_code": "12345678901", "type": "residence", "options": {}, "pad": "x" * 3000})
        status, doc = await wire.send("POST", f"{BASE}/certificates", body.encode(), pieces=5)
        assert status == 404 and doc["error"]["code"] == "unknown_resident"  # read whole: not a 400
        for _, hostile in HOSTILE:
            status, doc = await wire.send("POST", f"{BASE}/certificates", hostile)
            assert status == 400, (hostile[:30], doc)
    finally:
        await server.stop()


async def test_fifty_payments_of_one_request_at_once(centre: tuple[Runtime, str, str]) -> None:
    """A kiosk retry while the first payment still renders: one issues, the others are 409,
    and the document kept and served is the one recorded, and it verifies."""
    rt, url, token = centre
    rid = await _awaiting_request(rt, url, token)
    async with aiohttp.ClientSession() as http:
        kiosk = Kiosk(url, token, http)
        answers = await asyncio.gather(*(kiosk.call("POST", f"/requests/{rid}/payment", {"amount": 300})
                                         for _ in range(50)))
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] + [409] * 49, statuses
        status, pdf = await kiosk.call("GET", f"/requests/{rid}/document")
        assert status == 200
    (sha, path, code), = query(rt.settings.db_path, "SELECT content_sha256, document_path, verification_code "
                                                    "FROM issuances WHERE request_id = ?", rid)
    assert hashlib.sha256(pdf).hexdigest() == sha
    assert await rt.store.files.read(path) == pdf
    verdict = await rt.verification.verify_bytes(pdf)
    assert verdict.status == "genuine" and verdict.details["code"] == code
    # no loser left a document behind, and no temporary file is left either
    assert {n for n in await kept_names(rt, "documents") if rid in n} == {path}


@pytest.mark.sqlite_only
async def test_logs_hold_no_query_string_and_files_are_private(centre: tuple[Runtime, str, str]) -> None:
    rt, url, token = centre
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/kiosk/v1/challenges?token=SECRET-IN-QUERY",
                             headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 201
        card = (await rt.pki.issue_card(TOWN, active_resident(rt), actor=OP)).pem
        _, pdf = await Kiosk(url, token, http).flow(card)
    text = (rt.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
    assert "/kiosk/v1/challenges" in text and "SECRET-IN-QUERY" not in text and token not in text
    (path,) = query(rt.settings.db_path, "SELECT document_path FROM issuances WHERE document_path IS NOT NULL "
                                         "ORDER BY id DESC LIMIT 1")[0]
    for file in (rt.settings.db_path, rt.settings.db_path.with_name("bcl.sqlite3-wal"),
                 rt.settings.data_dir / path, rt.settings.logs_dir / "bcl-console.log"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


async def test_idle_and_dripping_connections_are_closed(demo_runtime: Runtime) -> None:
    """A bounded slowloris: 200 idle connections and 50 that drip their headers; the
    service answers throughout and closes them all after its idle timeout."""
    server = await start_http(demo_runtime, "127.0.0.1", 0, idle_timeout=1.5)
    wire = Wire(server.url)
    idle = [await asyncio.open_connection(wire.host, wire.port) for _ in range(200)]
    drippers = [await asyncio.open_connection(wire.host, wire.port) for _ in range(50)]

    async def drip(writer: asyncio.StreamWriter) -> None:
        try:
            for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                writer.write(bytes([ch]))
                await writer.drain()
                await asyncio.sleep(0.2)
        except (ConnectionError, OSError):
            return

    drips = [asyncio.create_task(drip(w)) for _, w in drippers]
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, doc = await wire.send("GET", "/healthz")
    assert status == 200 and doc["status"] == "ok"  # still serving while they are held

    async def closed(reader: asyncio.StreamReader) -> bool:
        """Whether the server closed the connection within 20 s (EOF or a reset)."""
        try:
            await asyncio.wait_for(reader.read(), timeout=20)
            return True
        except TimeoutError:  # before the OSError clause: TimeoutError is an OSError
            return False
        except (ConnectionError, OSError):
            return True

    results = await asyncio.gather(*(closed(r) for r, _ in idle + drippers))
    assert all(results)
    assert loop.time() - started < 15  # closed after the timeout, not held for ever
    for task in drips:
        task.cancel()
    for _, writer in idle + drippers:
        writer.close()
    status, _ = await wire.send("GET", "/healthz")
    assert status == 200


async def test_twenty_completions_of_one_request_at_once(centre: tuple[Runtime, str, str]) -> None:
    """A kiosk that retries a failed print's report: voided and refunded once."""
    rt, url, token = centre
    rid = await _awaiting_request(rt, url, token)
    async with aiohttp.ClientSession() as http:
        kiosk = Kiosk(url, token, http)
        status, _ = await kiosk.call("POST", f"/requests/{rid}/payment", {"amount": 300})
        assert status == 200
        answers = await asyncio.gather(*(kiosk.call("POST", f"/requests/{rid}/completion",
                                                    {"result": "failed" if n % 2 else "printed"})
                                         for n in range(20)))
    ok = [doc for status, doc in answers if status == 200]
    assert len(ok) == 1 and sorted(status for status, _ in answers)[1:] == [409] * 19
    state = "voided" if ok[0]["status"] == "voided" else "printed"
    assert query(rt.settings.db_path, "SELECT state FROM issuances WHERE request_id = ?", rid) == [(state,)]
    assert sum(doc.get("refunded", 0) for _, doc in answers) == (300 if state == "voided" else 0)


async def test_a_body_whose_encoding_is_broken_is_400(centre: tuple[Runtime, str, str]) -> None:
    """Content-Encoding: gzip over bytes that are not gzip failed inside aiohttp's reader
    (RequestPayloadError) and came out as 500 with a traceback in the log."""
    rt, url, _ = centre
    wire = Wire(url)
    for encoding in (b"gzip", b"deflate"):
        status, doc = await wire.send("POST", "/resident/v1/applications", b"0123456789",
                                      headers={"Content-Encoding": encoding})
        assert status == 400 and doc["error"]["code"] in ("malformed_body", "malformed_json"), (encoding, doc)
    log = (rt.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
    assert "Traceback" not in log and "unhandled error" not in log


async def test_the_own_servers_log_holds_no_resident_code(runtime: Runtime) -> None:
    from bcl_console.http.app import HttpServer
    from bcl_console.http.own_server import BASE, build_own_server_app

    server = await HttpServer.start(runtime, "127.0.0.1", 0, build_own_server_app(runtime))
    try:
        status, _ = await Wire(server.url).send("GET", f"{BASE}/residents/12345678901")
        assert status == 404
    finally:
        await server.stop()
    log = (runtime.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
    assert f"{BASE}/residents/" in log and "12345678901" not in log


async def raw_exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request exactly as given (no framing added): status, headers, body."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


async def test_what_the_http_parser_refuses_is_json_and_its_log_quotes_no_token(
        centre: tuple[Runtime, str, str], caplog: pytest.LogCaptureFixture) -> None:
    """Requests that aiohttp's parser refuses before any route runs: the contract's JSON
    error like every other 400, and the line logged says what was wrong without the input
    (the header that was too long held a real token)."""
    rt, url, token = centre
    caplog.set_level(logging.DEBUG)
    start = b"POST /kiosk/v1/challenges HTTP/1.1\r\nHost: x\r\n"
    bad = {
        "header too long": start + f"Authorization: Bearer {token}".encode() + b"x" * 9000 + b"\r\n\r\n",
        "request line too long": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "header without a colon": start + f"Bearer {token}\r\n\r\n".encode(),
        "too many headers": start + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
        "broken chunk size": start + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "length and chunked": start + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "length not a number": start + b"Content-Length: two\r\n\r\n{}",
        "no method": b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
    }
    for what, request in bad.items():
        status, headers, body = await raw_exchange(url, request)
        assert status == 400, (what, status, body)
        assert headers["content-type"].startswith("application/json"), (what, headers)
        error = json.loads(body)["error"]
        assert error["code"] == "bad_http" and token not in error["message"], (what, error)
        assert b"xxxx" not in body and b"zz" not in body, (what, body)
    assert token not in caplog.text and "x" * 100 not in caplog.text
    assert "that HTTP cannot read: a request line or header is too long" in caplog.text
    logged = (rt.settings.logs_dir / "bcl-console.log").read_text(encoding="utf-8")
    assert token not in logged and "Traceback" not in logged
    # the server is fine afterwards
    status, headers, body = await raw_exchange(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200
