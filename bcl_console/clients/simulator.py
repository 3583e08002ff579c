"""A kiosk simulator: N kiosks drive complete store flows against a centre's relay at a
given rate, with the demo's test cards, mixing in failed prints and wrong payments
(revoked cards and closed municipalities come from the cards themselves), and report
throughput, latency percentiles and outcomes. Loopback or a URL of the operator's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from bcl_console.services.issuance.pki import CardHolder

TYPES = (("residence", 0.75), ("seal", 0.15), ("tax", 0.10))


@dataclass
class FlowRecord:
    """What one flow was told was accepted (``Simulator(journal=…)``), to check afterwards
    against a centre's database: the request, its payment, its document, its completion."""

    key: str
    card_serial: str
    request_id: str | None = None
    paid: bool = False
    document_sha256: str | None = None
    #: "printed" or "failed" once a completion was answered 200.
    completed: str | None = None
    #: time.monotonic() of that answer, and which centre (index of the URLs) gave it.
    completed_at: float | None = None
    centre: int | None = None


@dataclass
class SimReport:
    seconds: float = 0.0
    flows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def as_dict(self) -> dict[str, Any]:
        completed = self.outcomes.get("printed", 0) + self.outcomes.get("voided-failed-print", 0)
        return {
            "seconds": round(self.seconds, 2),
            "flows": self.flows,
            "completed": completed,
            "flows_per_s": round(self.flows / self.seconds, 2) if self.seconds else 0.0,
            "completed_per_s": round(completed / self.seconds, 2) if self.seconds else 0.0,
            "latency_ms": {
                "p50": round(self.percentile(50) * 1000, 1),
                "p95": round(self.percentile(95) * 1000, 1),
                "p99": round(self.percentile(99) * 1000, 1),
                "mean": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies else 0.0,
            },
            "outcomes": dict(sorted(self.outcomes.items())),
        }


#: Every call of a flow must be answered within this many seconds.
CALL_TIMEOUT = 30.0
#: What a failed call is counted as (``error-<class name>``).
CALL_ERRORS = (aiohttp.ClientError, TimeoutError, OSError, EOFError, asyncio.LimitOverrunError)


class KioskHttp(Protocol):
    """One kiosk's calls to the relay: (status, JSON value, PDF bytes or None)."""

    async def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]: ...

    async def close(self) -> None: ...


class AiohttpKiosk:
    """A kiosk's calls through an aiohttp session (any URL, https too)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self._http = http
        self._base = base
        self._auth = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        headers = self._auth if key is None else {**self._auth, "Idempotency-Key": key}
        async with self._http.request(method, self._base + path, json=body, headers=headers) as r:
            if r.content_type == "application/pdf":
                return r.status, await r.read()
            try:
                return r.status, await r.json()
            except (aiohttp.ContentTypeError, ValueError):
                return r.status, None

    async def close(self) -> None:
        return None


class PlainHttpKiosk:
    """A kiosk's keep-alive HTTP/1.1 connection to a plain ``http://`` relay, spoken by
    hand: aiohttp's client costs ~0.3 ms of CPU a call, more than the relay's own share
    of a call, and the simulator usually shares the machine with the relay it measures.
    Bodies are read by Content-Length or chunked; the connection is made again after an
    error, a ``Connection: close`` or ``IDLE`` seconds unused (before the server's
    keep-alive timeout could close it under a request)."""

    IDLE = 5.0

    def __init__(self, host: str, port: int, base_path: str, token: str) -> None:
        self._host, self._port = host, port
        self._head = f"HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        self._base = base_path
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0.0

    async def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                return await self._call(method, path, body, key)
        except BaseException:
            await self.close()
            raise

    async def _call(self, method: str, path: str, body: Any, key: str | None) -> tuple[int, Any]:
        if self._writer is None or time.monotonic() - self._used > self.IDLE:
            await self.close()
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {self._base}{path} {self._head}"
        if key is not None:
            head += f"Idempotency-Key: {key}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        self._writer.write(f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        lines = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length: int | None = None
        content_type, chunked, close = "", False, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "content-type":
                content_type = value.split(";")[0].strip().lower()
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "connection":
                close = value.lower() == "close"
        if chunked:
            data = await self._chunked()
        elif length is not None:
            data = await self._reader.readexactly(length)
        else:
            data, close = await self._reader.read(), True
        self._used = time.monotonic()
        if close:
            await self.close()
        if content_type == "application/pdf":
            return status, data
        if content_type != "application/json":
            return status, None
        try:
            return status, json.loads(data)
        except ValueError:
            return status, None

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        out = bytearray()
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while (await self._reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return bytes(out)
            out += await self._reader.readexactly(size)
            await self._reader.readexactly(2)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


class FailoverKiosk:
    """A kiosk that knows both centres (East first): a call that meets a connection
    failure, or 503 ``standby`` / ``unavailable``, is sent again, the same call with the same
    idempotency key, to the next centre, until ``FAILOVER_SECONDS`` have passed. The same
    request at West is the same request (the keys, challenges and sessions are replicated),
    so nothing is duplicated; ``last_retried`` tells the flow that an answer such as "already
    paid" may be its own earlier call's, whose answer was lost with East."""

    def __init__(self, clients: Sequence[KioskHttp]) -> None:
        self._clients = list(clients)
        self._current = 0
        self.last_retried = False
        self.failovers = 0
        self._pause = False
        #: The index of the centre that gave the last answer.
        self.answered_by = 0

    async def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        deadline = time.monotonic() + FAILOVER_SECONDS
        self.last_retried = False
        self._pause = False
        while True:
            if self._pause:
                await asyncio.sleep(FAILOVER_PAUSE)
            client = self._clients[self._current]
            try:
                status, value = await client.call(method, path, body, key)
            except CALL_ERRORS:
                if time.monotonic() >= deadline:
                    raise
                self._move_on()
                continue
            code = value.get("error", {}).get("code") if isinstance(value, dict) else None
            if status == 503 and code in ("standby", "unavailable") and time.monotonic() < deadline:
                self._move_on()
                continue
            self.answered_by = self._current
            return status, value

    def _move_on(self) -> None:
        self.last_retried = True
        self._pause = True
        if len(self._clients) > 1:
            self._current = (self._current + 1) % len(self._clients)
            self.failovers += 1

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


#: How long a kiosk keeps sending one call again across the centres.
FAILOVER_SECONDS = 20.0
#: The pause before a call is sent again after a failure.
FAILOVER_PAUSE = 0.2


def load_cards(directory: Path) -> list[bytes]:
    """Every card file (*.pem) of a directory; none when it does not exist."""
    if not directory.is_dir():
        return []
    return [p.read_bytes() for p in sorted(directory.glob("*.pem"))]


class Simulator:
    """``token`` is one kiosk operator's token, or several: kiosk i then belongs to the
    operator of token i mod n (the relay limits the request rate per operator)."""

    def __init__(self, url: str | Sequence[str], token: str | Sequence[str], cards: list[bytes], *,
                 kiosks: int = 4, rate: float = 5.0,
                 duration: float = 10.0, failed_print: float = 0.04, wrong_payment: float = 0.03,
                 seed: int | None = None, types: tuple[tuple[str, float], ...] = TYPES,
                 plain_http: bool = True, journal: list[FlowRecord] | None = None) -> None:
        if not cards:
            raise ValueError("the simulator needs test cards (bcl-console demo makes some)")
        urls = [url] if isinstance(url, str) else list(url)
        if not urls:
            raise ValueError("the simulator needs the centre's URL")
        #: The centres, East first: kiosks move on to the next on a failure or 503 standby.
        self.bases = [u.rstrip("/") + "/kiosk/v1" for u in urls]
        self.base = self.bases[0]
        self.tokens = [token] if isinstance(token, str) else list(token)
        if not self.tokens:
            raise ValueError("the simulator needs a kiosk operator token")
        self.cards = [CardHolder(c) for c in cards]
        self.kiosks = max(1, kiosks)
        self.rate = max(0.1, rate)
        self.duration = duration
        self.failed_print = failed_print
        self.wrong_payment = wrong_payment
        self.rng = random.Random(seed)
        self.types = types
        #: Whether plain http:// relays are spoken to by ``PlainHttpKiosk`` (else aiohttp).
        self.plain_http = plain_http
        self.report = SimReport()
        #: Every flow's accepted steps, when asked for (the two-centres drill checks them).
        self.journal = journal
        self._stop = asyncio.Event()
        self._counter = 0
        self._run_id = f"{random.getrandbits(48):012x}"

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> SimReport:
        started = time.perf_counter()
        deadline = started + self.duration
        interval = self.kiosks / self.rate  # each kiosk starts a flow this often
        timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT)
        connector = aiohttp.TCPConnector(limit=max(16, self.kiosks * 2))
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:

            def one(base: str, token: str) -> KioskHttp:
                parts = urlsplit(base)
                if self.plain_http and parts.scheme == "http" and parts.hostname is not None:
                    return PlainHttpKiosk(parts.hostname, parts.port or 80, parts.path, token)
                return AiohttpKiosk(http, base, token)

            def client(index: int) -> KioskHttp:
                token = self.tokens[index % len(self.tokens)]
                if len(self.bases) == 1:
                    return one(self.base, token)
                return FailoverKiosk([one(base, token) for base in self.bases])

            async def kiosk(index: int) -> None:
                k = client(index)
                next_start = started + interval * index / self.kiosks
                try:
                    while not self._stop.is_set():
                        now = time.perf_counter()
                        if now >= deadline:
                            return
                        if next_start > now:
                            try:
                                await asyncio.wait_for(self._stop.wait(), next_start - now)
                                return
                            except TimeoutError:
                                pass
                        next_start += interval
                        await self._flow(k)
                finally:
                    await k.close()

            await asyncio.gather(*(kiosk(i) for i in range(self.kiosks)))
        self.report.seconds = time.perf_counter() - started
        return self.report

    async def _flow(self, k: KioskHttp) -> None:
        self.report.flows += 1
        self._counter += 1
        started = time.perf_counter()
        outcome = await self._flow_outcome(k, self._counter)
        self.report.outcomes[outcome] += 1
        if outcome in ("printed", "voided-failed-print"):
            self.report.latencies.append(time.perf_counter() - started)

    async def _flow_outcome(self, k: KioskHttp, n: int) -> str:
        card = self.rng.choice(self.cards)
        key = f"sim-{self._run_id}-{n}"
        record = FlowRecord(key, card.serial)
        if self.journal is not None:
            self.journal.append(record)
        try:
            status, c = await k.call("POST", "/challenges")
            if status != 201:
                return f"challenge-{status}"
            status, s = await k.call("POST", "/sessions", {
                "challenge_id": c["challenge_id"], "certificate": card.certificate,
                "signature": card.sign(c["nonce"])})
            if status != 201:
                return f"refused-{(s or {}).get('error', {}).get('code', status)}"
            type_ = self.rng.choices([t for t, _ in self.types], [w for _, w in self.types])[0]
            status, req = await k.call("POST", "/requests",
                                       {"session_id": s["session_id"], "type": type_, "copies": 1}, key)
            if status != 201:
                return f"refused-{(req or {}).get('error', {}).get('code', status)}"
            rid, fee = req["request_id"], req["fee_total"]
            record.request_id = rid
            if self.rng.random() < self.wrong_payment:
                status, _ = await k.call("POST", f"/requests/{rid}/payment", {"amount": fee + 10})
                if status != 422:
                    return f"wrong-payment-not-refused-{status}"
            status, paid = await k.call("POST", f"/requests/{rid}/payment", {"amount": fee})
            if status == 409 and _retried(k):
                pass  # paid by this flow's own call, whose answer was lost with the centre that took it
            elif status != 200:
                return f"payment-{status}"
            record.paid = True
            status, pdf = await k.call("GET", f"/requests/{rid}/document")
            if status != 200 or not isinstance(pdf, bytes):
                return f"document-{status}"
            record.document_sha256 = hashlib.sha256(pdf).hexdigest()
            failed = self.rng.random() < self.failed_print
            status, _ = await k.call("POST", f"/requests/{rid}/completion",
                                     {"result": "failed" if failed else "printed"})
            if status != 200 and not (status == 409 and _retried(k)):
                return f"completion-{status}"
            record.completed = "failed" if failed else "printed"
            record.completed_at = time.monotonic()
            record.centre = int(getattr(k, "answered_by", 0))
            return "voided-failed-print" if failed else "printed"
        except CALL_ERRORS as exc:
            return f"error-{exc.__class__.__name__}"


def _retried(k: KioskHttp) -> bool:
    """Whether the kiosk's last call was sent again after a failure (FailoverKiosk)."""
    return bool(getattr(k, "last_retried", False))
