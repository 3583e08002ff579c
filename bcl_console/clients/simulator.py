"""A kiosk simulator: N kiosks drive complete store flows against a centre's relay at a
given rate, with the demo's test cards, mixing in failed prints and wrong payments
(revoked cards and closed municipalities come from the cards themselves), and report
throughput, latency percentiles and outcomes. Loopback or a URL of the operator's own.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bcl_console.services.issuance.pki import CardHolder

TYPES = (("residence", 0.75), ("seal", 0.15), ("tax", 0.10))


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


def load_cards(directory: Path) -> list[bytes]:
    """Every card file (*.pem) of a directory; none when it does not exist."""
    if not directory.is_dir():
        return []
    return [p.read_bytes() for p in sorted(directory.glob("*.pem"))]


class Simulator:
    """``token`` is one kiosk operator's token, or several: kiosk i then belongs to the
    operator of token i mod n (the relay limits the request rate per operator)."""

    def __init__(self, url: str, token: str | Sequence[str], cards: list[bytes], *, kiosks: int = 4, rate: float = 5.0,
                 duration: float = 10.0, failed_print: float = 0.04, wrong_payment: float = 0.03,
                 seed: int | None = None, types: tuple[tuple[str, float], ...] = TYPES) -> None:
        if not cards:
            raise ValueError("the simulator needs test cards (bcl-console demo makes some)")
        self.base = url.rstrip("/") + "/kiosk/v1"
        tokens = [token] if isinstance(token, str) else list(token)
        if not tokens:
            raise ValueError("the simulator needs a kiosk operator token")
        self._auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
        self.cards = [CardHolder(c) for c in cards]
        self.kiosks = max(1, kiosks)
        self.rate = max(0.1, rate)
        self.duration = duration
        self.failed_print = failed_print
        self.wrong_payment = wrong_payment
        self.rng = random.Random(seed)
        self.types = types
        self.report = SimReport()
        self._stop = asyncio.Event()
        self._counter = 0
        self._run_id = f"{random.getrandbits(48):012x}"

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> SimReport:
        started = time.perf_counter()
        deadline = started + self.duration
        interval = self.kiosks / self.rate  # each kiosk starts a flow this often
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=max(16, self.kiosks * 2))
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:

            async def kiosk(index: int) -> None:
                auth = self._auth[index % len(self._auth)]
                next_start = started + interval * index / self.kiosks
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
                    await self._flow(http, auth)

            await asyncio.gather(*(kiosk(i) for i in range(self.kiosks)))
        self.report.seconds = time.perf_counter() - started
        return self.report

    async def _call(self, http: aiohttp.ClientSession, method: str, path: str, body: Any = None,
                    headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """``headers`` always holds the kiosk's Authorization."""
        async with http.request(method, self.base + path, json=body, headers=headers) as r:
            if r.content_type == "application/pdf":
                return r.status, await r.read()
            try:
                return r.status, await r.json()
            except (aiohttp.ContentTypeError, ValueError):
                return r.status, None

    async def _flow(self, http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
        self.report.flows += 1
        self._counter += 1
        started = time.perf_counter()
        outcome = await self._flow_outcome(http, auth, self._counter)
        self.report.outcomes[outcome] += 1
        if outcome in ("printed", "voided-failed-print"):
            self.report.latencies.append(time.perf_counter() - started)

    async def _flow_outcome(self, http: aiohttp.ClientSession, auth: dict[str, str], n: int) -> str:
        card = self.rng.choice(self.cards)
        try:
            status, c = await self._call(http, "POST", "/challenges", None, auth)
            if status != 201:
                return f"challenge-{status}"
            status, s = await self._call(http, "POST", "/sessions", {
                "challenge_id": c["challenge_id"], "certificate": card.certificate,
                "signature": card.sign(c["nonce"])}, auth)
            if status != 201:
                return f"refused-{(s or {}).get('error', {}).get('code', status)}"
            type_ = self.rng.choices([t for t, _ in self.types], [w for _, w in self.types])[0]
            key = f"sim-{self._run_id}-{n}"
            status, req = await self._call(http, "POST", "/requests",
                                           {"session_id": s["session_id"], "type": type_, "copies": 1},
                                           {**auth, "Idempotency-Key": key})
            if status != 201:
                return f"refused-{(req or {}).get('error', {}).get('code', status)}"
            rid, fee = req["request_id"], req["fee_total"]
            if self.rng.random() < self.wrong_payment:
                status, _ = await self._call(http, "POST", f"/requests/{rid}/payment", {"amount": fee + 10}, auth)
                if status != 422:
                    return f"wrong-payment-not-refused-{status}"
            status, paid = await self._call(http, "POST", f"/requests/{rid}/payment", {"amount": fee}, auth)
            if status != 200:
                return f"payment-{status}"
            status, pdf = await self._call(http, "GET", f"/requests/{rid}/document", None, auth)
            if status != 200 or not isinstance(pdf, bytes):
                return f"document-{status}"
            failed = self.rng.random() < self.failed_print
            status, _ = await self._call(http, "POST", f"/requests/{rid}/completion",
                                         {"result": "failed" if failed else "printed"}, auth)
            if status != 200:
                return f"completion-{status}"
            return "voided-failed-print" if failed else "printed"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"error-{exc.__class__.__name__}"
