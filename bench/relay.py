"""Benchmark: the kiosk simulator against `bcl-console serve` on loopback.

Complete store issuances per second (challenge, card session, request, payment with
the certificate rendered and signed, document download, completion), p50/p99 latency
of a whole flow; in the same run the baseline: a bare aiohttp handler returning a fixed
small PDF, for the same number of HTTP calls at the same concurrency. Afterwards the
database is checked: every issued document names its own requester, nothing is lost
and nothing billed twice.

Targets (issue 5): >= 50 complete issuances/s sustained on 2 cores, p99 < 500 ms,
zero wrong-person documents, zero lost or double-billed requests.

Saturation (issue 14 §5, ``--saturate``): the offered rate is stepped up (``--ramp``, flows
started per second, ``--step-seconds`` each, after a short warm-up that is not counted),
then ``--rate`` runs for ``--seconds``; every step reports the complete flows/s it
sustained and its p50/p99, and the capacity is the best step whose p99 stays under
300 ms. Target: >= 150 complete flows/s with p99 < 300 ms at ``--kiosks 24 --rate 200``.

The kiosks belong to ``--operators`` operators (kiosk i to operator i mod n): the relay
limits each operator to 400 requests/s (``http.kiosk.RateLimiter``, ~66 flows/s), so a
single operator would measure the limiter, not the relay.

On PostgreSQL (issue 16) the same demo centre is moved there (`database copy --to`) and
served by each number of ``--workers`` (`serve --workers N`, one run each); SQLite is
served by one process. ``--database both`` (the default) runs SQLite, then PostgreSQL
with 1 and 2 workers, each on its own copy of one demo centre, and prints them side by
side with the ratios 2 workers / 1 and PostgreSQL / SQLite. The PostgreSQL server is one
of the run's own (bench/pgserver.py), removed afterwards.

    ./dev bench relay [--seconds 60] [--kiosks 12] [--rate 60] [--operators 4]
    ./dev bench relay --saturate --kiosks 24 --rate 200 [--ramp 50,100,150] [--step-seconds 10]
                      [--database sqlite|postgresql|both] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from pgserver import add_database_option, database, loadavg, server, stores  # noqa: E402

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


def cli(data: Path, *args: str, url: str = "") -> str:
    env = {**os.environ, **({"BCL_DATABASE_URL": url} if url else {})}
    return subprocess.run([sys.executable, "-m", "bcl_console", *args, "--data-dir", str(data)],
                          check=True, capture_output=True, text=True, env=env).stdout


async def fetch_rows(data: Path, url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query without parameters, from the centre's store."""
    if not url:
        conn = sqlite3.connect(data / "bcl.sqlite3")
        try:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        finally:
            conn.close()
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await pg.fetch(sql)]
    finally:
        await pg.close()


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


#: What a saturation step must stay under to count as sustained.
P99_TARGET_MS = 300.0


def operator_name(i: int) -> str:
    """The bench's kiosk operators: bench, bench-2 … bench-n."""
    return "bench" if i == 0 else f"bench-{i + 1}"


async def check_database(data: Path, url: str) -> tuple[dict[str, int], bytes]:
    """What the database holds of the bench's requests, and one of the documents issued.
    A document is a file under the data directory on SQLite, a row of ``files`` on
    PostgreSQL (named by the same path)."""
    import io

    from pypdf import PdfReader

    body = "f.body" if url else "NULL"
    files = "LEFT JOIN files f ON f.name = i.document_path " if url else ""
    rows = await fetch_rows(data, url,
        f"SELECT i.request_id, i.state, i.document_path, r.name, {body} FROM issuances i "  # noqa: S608 - constants
        "JOIN residents r ON r.municipality_code = i.municipality_code AND r.resident_code = i.resident_code "
        f"{files}WHERE (i.operator = 'bench' OR i.operator LIKE 'bench-%')")
    codes = (await fetch_rows(data, url,
        "SELECT count(*), count(DISTINCT verification_code) FROM issuances "
        "WHERE (operator = 'bench' OR operator LIKE 'bench-%') AND verification_code IS NOT NULL"))[0]
    wrong = 0
    sample = b""
    for _, state, path, name, pdf in rows:
        if state in ("issued", "printed", "voided") and path:
            pdf = bytes(pdf) if pdf is not None else (data / path).read_bytes() if not url else b""
            sample = sample or pdf
            text = "".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split()) if pdf else ""
            if f"氏名{''.join(name.split())}" not in text:
                wrong += 1
    states: dict[str, int] = {}
    for _, state, *_ in rows:
        states[state] = states.get(state, 0) + 1
    return ({"requests": len(rows), "wrong_person_documents": wrong,
             "codes_issued": codes[0], "distinct_codes": codes[1], **{f"state_{k}": v for k, v in states.items()}},
            sample)


def make_centre(template: Path, operators: int) -> tuple[list[str], list[bytes]]:
    """The demo centre (on SQLite) the runs start from, open around the clock, with the
    bench's kiosk operators: their tokens and the cards the relay serves."""
    cli(template, "demo")
    for code in ("993611", "994821"):
        cli(template, "municipality", "hours", code, "00:00", "24:00")
    tokens = [cli(template, "kiosk", "register", "--operator", operator_name(i)).strip().splitlines()[-1]
              for i in range(max(1, operators))]
    conn = sqlite3.connect(template / "bcl.sqlite3")
    eligible = {f"{m}-{r}.pem" for m, r in conn.execute(
        "SELECT municipality_code, resident_code FROM residents WHERE status='active' AND restricted=0 "
        "AND municipality_code IN ('993611', '994821')")}
    conn.close()
    cards = [p.read_bytes() for p in sorted((template / "cards").glob("*.pem")) if p.name in eligible]
    return tokens, cards


async def run_simulator(url: str, tokens: list[str], cards: list[bytes], *, kiosks: int, rate: float,
                        seconds: float, seed: int) -> dict[str, Any]:
    sim = Simulator(url, tokens, cards, kiosks=kiosks, rate=rate, duration=seconds, failed_print=0.0,
                    wrong_payment=0.0, seed=seed, types=(("residence", 1.0),))
    return (await sim.run()).as_dict()


async def main_async(seconds: float, kiosks: int, rate: float, *, template: Path, tokens: list[str],
                     cards: list[bytes], url: str = "", workers: int = 1,
                     ramp: list[float] | None = None, step_seconds: float = 10.0) -> dict[str, object]:
    """One run at ``rate`` for ``seconds`` against a copy of the ``template`` centre (moved to
    PostgreSQL at ``url`` when given, served by ``workers`` processes); with ``ramp``
    (saturation), each offered rate of it for ``step_seconds`` first."""
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(template, data, symlinks=True)
        if url:
            cli(data, "database", "copy", "--to", url)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "bcl_console", "serve", "--port", str(port),  # noqa: ASYNC220
                                   *(["--workers", str(workers)] if workers > 1 else []),
                                   "--data-dir", str(data)], stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, **({"BCL_DATABASE_URL": url} if url else {})})
        steps: list[dict[str, Any]] = []
        try:
            assert server.stdout is not None
            ready = 0  # one line when alone; the supervisor's, then one per worker
            while ready < (workers if workers > 1 else 1):
                line = server.stdout.readline()
                if not line:
                    raise RuntimeError("serve exited before it was ready")
                ready += workers == 1 or " worker " in line
            relay = f"http://127.0.0.1:{port}"
            if ramp is not None:
                # A warm-up, not counted: the relay's first certificates load the font.
                await run_simulator(relay, tokens, cards, kiosks=kiosks, rate=min(20.0, rate), seconds=2.0, seed=1)
                for i, offered in enumerate(ramp):
                    step = await run_simulator(relay, tokens, cards, kiosks=kiosks, rate=offered,
                                               seconds=step_seconds, seed=100 + i)
                    steps.append({"offered_per_s": offered, **step})
                    print(f"  offered {offered:>6.1f}/s → {step['completed_per_s']:>6.1f} complete/s, "
                          f"p50 {step['latency_ms']['p50']} ms, p99 {step['latency_ms']['p99']} ms", flush=True)
            report = await run_simulator(relay, tokens, cards, kiosks=kiosks, rate=rate, seconds=seconds, seed=7)
            async with aiohttp.ClientSession() as http, http.get(f"{relay}/metrics") as r:
                metrics = await r.text()
        finally:
            server.terminate()
            server.wait(timeout=60)
        db, sample = await check_database(data, url)
        sample_pdf = Path(tmp) / "sample.pdf"
        sample_pdf.write_bytes(sample)
        calls = report["flows"] * 6
        bare_seconds = await bare_baseline(calls, kiosks, sample_pdf)
    completed_per_s = report["completed_per_s"]
    bare_flows_per_s = report["flows"] / bare_seconds
    lat = report["latency_ms"]
    # Every printed flow of every step (and the warm-up's) is in the database.
    printed = db.get("state_printed", 0) if ramp is not None else report["outcomes"].get("printed", 0)
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
    result: dict[str, object] = {
        "relay": report, "baseline_seconds": round(bare_seconds, 3),
        "baseline_flows_per_s": round(bare_flows_per_s, 1),
        "ratio_to_baseline": round(completed_per_s / bare_flows_per_s, 3), "database": db,
        "metrics_lines": len(metrics.splitlines()), "targets_met": verdict}
    if ramp is not None:
        steps.append({"offered_per_s": rate, **report})
        sustained = [st for st in steps if st["latency_ms"]["p99"] < P99_TARGET_MS]
        best = max(sustained, key=lambda st: st["completed_per_s"], default=None)
        capacity = {"complete_per_s": best["completed_per_s"] if best else 0.0,
                    "offered_per_s": best["offered_per_s"] if best else None,
                    "p50_ms": best["latency_ms"]["p50"] if best else None,
                    "p99_ms": best["latency_ms"]["p99"] if best else None}
        print(f"saturation: sustained {capacity['complete_per_s']} complete flows/s with p99 "
              f"{capacity['p99_ms']} ms (< {P99_TARGET_MS:.0f} ms) at {capacity['offered_per_s']} offered/s; "
              f"at {rate:.0f} offered/s: {completed_per_s}/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms")
        verdict["at_least_150_per_s_saturated"] = completed_per_s >= 150
        verdict["p99_under_300ms_saturated"] = lat["p99"] < P99_TARGET_MS
        result["saturation"] = {"steps": [{"offered_per_s": st["offered_per_s"],
                                           "complete_per_s": st["completed_per_s"],
                                           "p50_ms": st["latency_ms"]["p50"], "p99_ms": st["latency_ms"]["p99"],
                                           "outcomes": st["outcomes"]} for st in steps],
                                "capacity": capacity}
    return result


async def run_all(args: argparse.Namespace, ramp: list[float] | None) -> dict[str, Any]:
    """Every configuration asked for, each on its own copy of one demo centre: SQLite
    served by one process, PostgreSQL by each number of ``--workers``."""
    configs = [(store, w) for store in stores(args.database)
               for w in ([1] if store == "sqlite" else [int(n) for n in args.workers.split(",")])]
    results: dict[str, Any] = {"load_average_start": loadavg(), "runs": {}}
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp, ExitStack() as stack:
        template = Path(tmp) / "template"
        tokens, cards = make_centre(template, args.operators)
        cluster = stack.enter_context(server()) if any(st == "postgresql" for st, _ in configs) else None
        for n, (store, workers) in enumerate(configs):
            name = f"{store}-{workers}w"
            url = database(cluster, f"relay{n}") if store == "postgresql" and cluster is not None else ""
            print(f"[{name}] {store}, {workers} serve worker(s); load average {loadavg()}", flush=True)
            result = await main_async(args.seconds, args.kiosks, args.rate, template=template, tokens=tokens,
                                      cards=cards, url=url, workers=workers, ramp=ramp,
                                      step_seconds=args.step_seconds)
            result["load_average"] = loadavg()
            results["runs"][name] = result
            print(f"[{name}] load average {result['load_average']}", flush=True)
    results["load_average_end"] = loadavg()
    summary = {name: {"complete_per_s": r["relay"]["completed_per_s"], "p99_ms": r["relay"]["latency_ms"]["p99"],
                      "p50_ms": r["relay"]["latency_ms"]["p50"], "load_average": r["load_average"]}
               for name, r in results["runs"].items()}
    print(f"at {args.rate:.0f} offered flows/s, {args.kiosks} kiosks:")
    for name, row in summary.items():
        print(f"  {name:<16} {row['complete_per_s']:>7.1f} complete flows/s  p50 {row['p50_ms']} ms  "
              f"p99 {row['p99_ms']} ms  (load average {row['load_average']})")
    pg = sorted((name for name in summary if name.startswith("postgresql-")), key=lambda n: int(n[11:-1]))
    if len(pg) > 1:
        first, last = summary[pg[0]]["complete_per_s"], summary[pg[-1]]["complete_per_s"]
        results["ratio_workers"] = round(last / first, 2) if first else None
        print(f"  ratio {pg[-1]}/{pg[0]}: {results['ratio_workers']}")
    if "sqlite-1w" in summary and pg:
        lite = summary["sqlite-1w"]["complete_per_s"]
        results["ratio_postgresql_to_sqlite"] = {n: round(summary[n]["complete_per_s"] / lite, 2) if lite else None
                                                 for n in pg}
        print(f"  ratio to sqlite-1w: {results['ratio_postgresql_to_sqlite']}")
    results["summary"] = summary
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kiosks", type=int, default=12)
    parser.add_argument("--rate", type=float, default=60.0, help="flows started per second")
    parser.add_argument("--operators", type=int, default=4,
                        help="kiosk operators the kiosks belong to (the relay limits each to 400 requests/s)")
    parser.add_argument("--saturate", action="store_true",
                        help="step the offered rate up (--ramp), then run --rate for --seconds")
    parser.add_argument("--ramp", default="50,100,150",
                        help="offered rates (flows/s) of the saturation steps before --rate")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    add_database_option(parser)
    parser.add_argument("--workers", default="1,2",
                        help="serve processes on PostgreSQL, one run each (comma-separated; SQLite: 1)")
    args = parser.parse_args()
    ramp = [float(r) for r in args.ramp.split(",") if r.strip()] if args.saturate else None
    result = asyncio.run(run_all(args, ramp))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if all(all(r["targets_met"].values()) for r in result["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
