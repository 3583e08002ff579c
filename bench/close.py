"""Benchmark: close a fiscal year of 10,000,000 issuance records (`settle --close`) against
settling it, in the same run on the same database, on SQLite and on PostgreSQL (a server
of the run's own, bench/pgserver.py). Target (issue 16 item 6): the close in 10 s or less
on both stores, about what a settle costs (the ratio close/settle is printed).

The data are bench/settle.py's (100 municipalities, 5 kiosk operators, FY2025, one row in
50 voided, one in 997 a free test-stage issuance). In one process, on a warm OS cache:
settle FY2025 (the best of three), close it (once: a close happens once), close it again
(idempotent: the stored document, unchanged). Then, after the close, 1,000 late events
for FY2025 and 500 voids of issuances it counted; FY2026's statement, open and closed,
must show them as adjustments (+1,000 - 500), and closing FY2026 is timed too.

    ./dev bench close [--records 10000000] [--database sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from pgserver import (
    STORES,
    add_database_option,
    loadavg,
    measure_each_store,
)
from settle import setup_all  # the same data as the settle benchmark

CLOSE = textwrap.dedent(
    """
    import asyncio, json, resource, sqlite3, sys, time
    from datetime import datetime
    from bcl_console.config import load_settings
    from bcl_console.services.platform.actor import Actor
    from bcl_console.services.platform.clock import FixedClock
    from bcl_console.services.platform.runtime import Runtime
    LATE, VOIDS = 1000, 500
    def frame(doc):
        return {k: v for k, v in doc.items() if k not in ("closed", "closed_at")}
    def after_close(conn):
        rows = conn.execute("SELECT type, municipality_code, resident_code, channel, operator, fee, issued_at "
                            "FROM issuances WHERE state = 'printed' AND channel = 'store' ORDER BY id LIMIT ?",
                            (LATE,)).fetchall()
        conn.executemany("INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, "
                         "operator, fee, state, created_at, issued_at) VALUES (?,?,?,?,?,?,?,'printed',?,?)",
                         [(f"late-{i}", *r[:6], r[6], r[6]) for i, r in enumerate(rows)])
        conn.execute("UPDATE issuances SET state = 'voided' WHERE id IN (SELECT id FROM issuances "
                     "WHERE state = 'printed' AND channel = 'store' ORDER BY id DESC LIMIT ?)", (VOIDS,))
    LATE_PG = ("SELECT type, municipality_code, resident_code, channel, operator, fee, issued_at FROM issuances "
               "WHERE state = 'printed' AND channel = 'store' ORDER BY id LIMIT $1")
    async def after_close_pg(url):
        import asyncpg
        conn = await asyncpg.connect(url)
        async with conn.transaction():
            rows = await conn.fetch(LATE_PG, LATE)
            await conn.executemany(
                "INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, "
                "fee, state, created_at, issued_at) VALUES ($1,$2,$3,$4,$5,$6,$7,'printed',$8,$9)",
                [(f"late-{i}", *r[:6], r[6], r[6]) for i, r in enumerate(rows)])
            await conn.execute("UPDATE issuances SET state = 'voided' WHERE id IN (SELECT id FROM issuances "
                               "WHERE state = 'printed' AND channel = 'store' ORDER BY id DESC LIMIT $1)", VOIDS)
        await conn.close()
    async def main(data, url):
        clock = FixedClock(datetime.fromisoformat("2026-04-01T02:00:00+09:00"))
        rt = Runtime(load_settings(data, database_url=url or None), clock=clock)
        await rt.start()
        actor = Actor("bench", "cli")
        try:
            settle = float("inf")
            for _ in range(3):  # the best of three, with the file in the OS cache
                started = time.perf_counter()
                open_doc = await rt.settlement.settle(2025)
                settle = min(settle, time.perf_counter() - started)
            started = time.perf_counter()
            closed = await rt.settlement.settle(2025, close=True, actor=actor)
            close = time.perf_counter() - started
            started = time.perf_counter()
            again = await rt.settlement.settle(2025, close=True, actor=actor)
            close_again = time.perf_counter() - started
            if url:
                await after_close_pg(url)
            else:
                await rt.db.write(after_close)
            started = time.perf_counter()
            fy26 = await rt.settlement.settle(2026)
            settle26 = time.perf_counter() - started
            clock.set(datetime.fromisoformat("2027-04-01T02:00:00+09:00"))
            started = time.perf_counter()
            closed26 = await rt.settlement.settle(2026, close=True, actor=actor)
            close26 = time.perf_counter() - started
        finally:
            await rt.stop()
        adjustments = [sum(r["adjustments"]["billable"] for r in d["municipalities"]) for d in (fy26, closed26)]
        print(json.dumps({
            "settle_seconds": settle, "close_seconds": close, "close_again_seconds": close_again,
            "billable": closed["totals"]["billable"],
            "same_figures_as_settle": frame(closed) == frame(open_doc),
            "again_identical": json.dumps(again, sort_keys=True) == json.dumps(closed, sort_keys=True),
            "next_year_settle_seconds": settle26, "next_year_close_seconds": close26,
            "next_year_adjustments": adjustments,
            "next_year_operator_adjustments": sum(o["adjustment_billable"] for o in closed26["operators"]),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def measure(store: str, data: Path, url: str, loaded: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", CLOSE, str(data), url], check=True, capture_output=True, text=True)
    r: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = r["close_seconds"] / r["settle_seconds"]
    print(f"[{store}] settle FY2025:            {r['settle_seconds']:6.2f} s ({r['billable']:,} billable)")
    print(f"[{store}] settle --close FY2025:    {r['close_seconds']:6.2f} s, "
          f"{'the same figures' if r['same_figures_as_settle'] else 'FIGURES DIFFER'}")
    print(f"[{store}] ratio close/settle:       {ratio:.2f}")
    print(f"[{store}] close again:              {r['close_again_seconds']:6.2f} s, "
          f"{'identical document' if r['again_identical'] else 'DOCUMENT DIFFERS'}")
    print(f"[{store}] FY2026 after 1,000 late events and 500 voids of FY2025: settle "
          f"{r['next_year_settle_seconds']:.2f} s, close {r['next_year_close_seconds']:.2f} s, "
          f"adjustments {r['next_year_adjustments']}   (load average {loadavg()})", flush=True)
    # 1,000 late events in, 500 counted issuances voided: +500 on FY2026, open and closed
    # alike, for the municipalities and the operators
    correct = (r["same_figures_as_settle"] and r["again_identical"] and r["next_year_adjustments"] == [500, 500]
               and r["next_year_operator_adjustments"] == 500)
    verdict = {"close_under_10s": r["close_seconds"] <= 10, "correct": correct}
    return {"setup_seconds": round(loaded, 1), **r, "ratio_close_settle": round(ratio, 2), "targets_met": verdict}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    add_database_option(parser)
    args = parser.parse_args()
    results = measure_each_store(args.database, args.records, setup_all, measure)
    results["load_average_end"] = loadavg()
    print(json.dumps(results, indent=2))
    return 0 if all(all(results[s]["targets_met"].values()) for s in STORES if s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
