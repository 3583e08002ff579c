"""Benchmark: the kiosk simulator against `bcl-console serve` on loopback.

Complete store issuances per second (challenge, card session, request, payment with
the certificate rendered and signed, document download, completion), p50/p99 latency
of a whole flow; in the same run the baseline: a bare aiohttp handler returning a fixed
small PDF, for the same number of HTTP calls at the same concurrency. Afterwards the
database is checked: every issued document names its own requester, nothing is lost
and nothing billed twice.

Targets (issue 5): >= 50 complete issuances/s sustained on 2 cores, p99 < 500 ms,
zero wrong-person documents, zero lost or double-billed requests.

    ./dev bench relay [--seconds 60] [--kiosks 12] [--rate 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from bcl_console.clients.simulator import Simulator  # noqa: E402

BARE = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    pdf = open(sys.argv[2], "rb").read()
    async def handle(request):
        return web.Response(body=pdf, content_type="application/pdf")
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("ready", flush=True),
                access_log=None)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(data: Path, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "bcl_console", *args, "--data-dir", str(data)],
                          check=True, capture_output=True, text=True).stdout


async def bare_baseline(calls: int, concurrency: int, pdf: Path) -> float:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE, str(port), str(pdf)], stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220 - started before the clock runs
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        remaining = calls
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    async with http.post(f"http://127.0.0.1:{port}/x", json={"a": 1}) as r:
                        await r.read()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait()


def check_database(data: Path) -> dict[str, int]:
    from pypdf import PdfReader

    conn = sqlite3.connect(data / "bcl.sqlite3")
    try:
        rows = conn.execute(
            "SELECT i.request_id, i.state, i.document_path, r.name, i.verification_code FROM issuances i "
            "JOIN residents r ON r.municipality_code = i.municipality_code AND r.resident_code = i.resident_code "
            "WHERE i.operator = 'bench'").fetchall()
        codes = conn.execute("SELECT count(*), count(DISTINCT verification_code) FROM issuances "
                             "WHERE operator='bench' AND verification_code IS NOT NULL").fetchone()
    finally:
        conn.close()
    wrong = 0
    for _, state, path, name, _ in rows:
        if state in ("issued", "printed", "voided") and path:
            text = "".join(PdfReader(str(data / path)).pages[0].extract_text().split())
            if f"氏名{''.join(name.split())}" not in text:
                wrong += 1
    states: dict[str, int] = {}
    for _, state, *_ in rows:
        states[state] = states.get(state, 0) + 1
    return {"requests": len(rows), "wrong_person_documents": wrong,
            "codes_issued": codes[0], "distinct_codes": codes[1], **{f"state_{k}": v for k, v in states.items()}}


async def main_async(seconds: float, kiosks: int, rate: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp:
        data = Path(tmp) / "data"
        cli(data, "demo")
        for code in ("993611", "994821"):
            cli(data, "municipality", "hours", code, "00:00", "24:00")
        token = cli(data, "kiosk", "register", "--operator", "bench").strip().splitlines()[-1]
        conn = sqlite3.connect(data / "bcl.sqlite3")
        eligible = {f"{m}-{r}.pem" for m, r in conn.execute(
            "SELECT municipality_code, resident_code FROM residents WHERE status='active' AND restricted=0 "
            "AND municipality_code IN ('993611', '994821')")}
        conn.close()
        cards = [p.read_bytes() for p in sorted((data / "cards").glob("*.pem")) if p.name in eligible]
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "bcl_console", "serve", "--port", str(port),  # noqa: ASYNC220
                                   "--data-dir", str(data)], stdout=subprocess.PIPE, text=True,
                                  env={**os.environ})
        try:
            assert server.stdout is not None
            server.stdout.readline()
            url = f"http://127.0.0.1:{port}"
            sim = Simulator(url, token, cards, kiosks=kiosks, rate=rate, duration=seconds, failed_print=0.0,
                            wrong_payment=0.0, seed=7, types=(("residence", 1.0),))
            report = (await sim.run()).as_dict()
            async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as r:
                metrics = await r.text()
        finally:
            server.terminate()
            server.wait(timeout=60)
        sample_pdf = next((data / "documents").rglob("*.pdf"))
        calls = report["flows"] * 6
        bare_seconds = await bare_baseline(calls, kiosks, sample_pdf)
        db = check_database(data)
    completed_per_s = report["completed_per_s"]
    bare_flows_per_s = report["flows"] / bare_seconds
    lat = report["latency_ms"]
    printed = report["outcomes"].get("printed", 0)
    print(f"relay: {report['flows']} flows in {report['seconds']} s → {completed_per_s} complete issuances/s; "
          f"latency p50 {lat['p50']} ms, p99 {lat['p99']} ms")
    print(f"baseline (bare aiohttp, fixed PDF): {calls} calls in {bare_seconds:.2f} s = {calls / bare_seconds:,.0f} "
          f"calls/s = {bare_flows_per_s:,.0f} flows/s")
    print(f"ratio relay/baseline: {completed_per_s / bare_flows_per_s:.3f}")
    print(f"database: {db}")
    print(f"outcomes: {report['outcomes']}")
    verdict = {
        "at_least_50_per_s": completed_per_s >= 50,
        "p99_under_500ms": lat["p99"] < 500,
        "no_wrong_person_documents": db["wrong_person_documents"] == 0,
        "nothing_lost": db.get("state_printed", 0) == printed and db.get("state_awaiting_payment", 0) == 0,
        "nothing_billed_twice": db["codes_issued"] == db["distinct_codes"] == printed,
    }
    return {"relay": report, "baseline_seconds": round(bare_seconds, 3), "baseline_flows_per_s": round(bare_flows_per_s, 1),
            "ratio_to_baseline": round(completed_per_s / bare_flows_per_s, 3), "database": db,
            "metrics_lines": len(metrics.splitlines()), "targets_met": verdict}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kiosks", type=int, default=12)
    parser.add_argument("--rate", type=float, default=60.0, help="flows started per second")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.seconds, args.kiosks, args.rate))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if all(result["targets_met"].values()) else 1  # type: ignore[union-attr]


if __name__ == "__main__":
    sys.exit(main())
