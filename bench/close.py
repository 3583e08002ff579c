"""Benchmark: close a fiscal year of 10,000,000 issuance records (`settle --close`) against
settling it, in the same run on the same file. Target (issue 16 item 6): the close in
10 s or less, about what a settle costs (the ratio close/settle is printed).

The data are bench/settle.py's (100 municipalities, 5 kiosk operators, FY2025, one row in
50 voided, one in 997 a free test-stage issuance). In one process, on a warm OS cache:
settle FY2025 (the best of three), close it (once: a close happens once), close it again
(idempotent: the stored document, unchanged). Then, after the close, 1,000 late events
for FY2025 and 500 voids of issuances it counted; FY2026's statement, open and closed,
must show them as adjustments (+1,000 - 500), and closing FY2026 is timed too.

    ./dev bench close [--records 10000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from settle import SETUP  # the same data as the settle benchmark

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
    async def main(data):
        clock = FixedClock(datetime.fromisoformat("2026-04-01T02:00:00+09:00"))
        rt = Runtime(load_settings(data), clock=clock)
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
    asyncio.run(main(sys.argv[1]))
    """
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", SETUP, str(data / "bcl.sqlite3"), str(args.records)], check=True)
        print(f"setup: {args.records:,} issuance records in {time.perf_counter() - started:.0f} s")
        out = subprocess.run([sys.executable, "-c", CLOSE, str(data)], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = r["close_seconds"] / r["settle_seconds"]
    print(f"settle FY2025:            {r['settle_seconds']:6.2f} s ({r['billable']:,} billable)")
    print(f"settle --close FY2025:    {r['close_seconds']:6.2f} s, "
          f"{'the same figures' if r['same_figures_as_settle'] else 'FIGURES DIFFER'}")
    print(f"ratio close/settle:       {ratio:.2f}")
    print(f"close again:              {r['close_again_seconds']:6.2f} s, "
          f"{'identical document' if r['again_identical'] else 'DOCUMENT DIFFERS'}")
    print(f"FY2026 after 1,000 late events and 500 voids of FY2025: settle {r['next_year_settle_seconds']:.2f} s, "
          f"close {r['next_year_close_seconds']:.2f} s, adjustments {r['next_year_adjustments']}")
    # 1,000 late events in, 500 counted issuances voided: +500 on FY2026, open and closed
    # alike, for the municipalities and the operators
    correct = (r["same_figures_as_settle"] and r["again_identical"] and r["next_year_adjustments"] == [500, 500]
               and r["next_year_operator_adjustments"] == 500)
    verdict = {"close_under_10s": r["close_seconds"] <= 10, "correct": correct}
    print(json.dumps({**r, "ratio_close_settle": round(ratio, 2), "targets_met": verdict}, indent=2))
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
