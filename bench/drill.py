"""Benchmark: the two-centres drill, N times in a row (issue 17's targets).

Each run is `bcl-console drill two-centres --json` on the same trainer's data directory
(the demo centre, made once): two PostgreSQL clusters, kiosk and linkage traffic, East
killed with SIGKILL at a random moment (its seed differs per run), West promoted, every
accepted step checked at West, East rejoined. Printed per run and in total:

- RPO: accepted steps lost at West (target 0 over every run), duplicated, wrong person;
- RTO: East's death to the first issuance completed at West (target < 10 s), median and
  worst;
- the baseline, same run: the time from East's death to West's promotion alone (the
  part of the RTO that is the failover itself rather than the kiosks coming back).

    ./dev bench drill [--runs 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pgserver import loadavg  # noqa: E402

RTO_TARGET = 10.0


def bcl(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bcl_console", "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=1800)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0, help="kiosk traffic per drill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-drill-") as tmp:
        data = Path(tmp) / "trainer"
        made = bcl(data, "demo", "--json")
        if made.returncode != 0:
            print(made.stderr, file=sys.stderr)
            return 1
        rows = []
        for n in range(1, args.runs + 1):
            started = time.perf_counter()
            done = bcl(data, "drill", "two-centres", "--seconds", str(args.seconds), "--seed", str(1000 + n), "--json")
            if done.returncode not in (0, 1) or not done.stdout.strip():
                print(f"run {n}: the drill did not run (exit {done.returncode}): {done.stderr.strip()[-500:]}")
                rows.append(None)
                continue
            d = json.loads(done.stdout)
            if "verdict" not in d:  # the drill could not be run to its end: its one sentence
                print(f"run {n:2d}: did not run to its end: {d.get('error', d)}", flush=True)
                rows.append({"verdict": "error", "accepted": 0, "lost": 0, "duplicated": 0, "wrong_person": 0,
                             "rto_seconds": None, "failover_s": None, "error": d.get("error")})
                continue
            failover = d["west_promoted_at"] - d["east_killed_at"]
            rows.append({**d, "failover_s": failover, "wall_s": time.perf_counter() - started})
            print(f"run {n:2d}: {d['verdict']:4}  accepted {d['accepted']:4d}  lost {d['lost']}  duplicated "
                  f"{d['duplicated']}  wrong person {d['wrong_person']}  RTO {d['rto_seconds']} s  "
                  f"(promotion {failover:.2f} s, of which seeing the stream lost "
                  f"{(d.get('west_lost_stream_at') or d['east_killed_at']) - d['east_killed_at']:.2f} s; "
                  f"East killed at {d['east_killed_at']:.1f} s)  "
                  f"rejoin {d['rejoin_method']}  {time.perf_counter() - started:.0f} s  load {loadavg()}",
                  flush=True)
    ran = [r for r in rows if r is not None]
    rtos = [r["rto_seconds"] for r in ran if r["rto_seconds"] is not None]
    failovers = [r["failover_s"] for r in ran if r["failover_s"] is not None]
    passed = sum(r["verdict"] == "pass" for r in ran)
    summary = {
        "runs": args.runs, "passed": passed, "in_a_row": passed == args.runs,
        "accepted": sum(r["accepted"] for r in ran), "lost": sum(r["lost"] for r in ran),
        "duplicated": sum(r["duplicated"] for r in ran), "wrong_person": sum(r["wrong_person"] for r in ran),
        "rto_median_s": round(statistics.median(rtos), 3) if rtos else None,
        "rto_worst_s": round(max(rtos), 3) if rtos else None,
        "promotion_median_s": round(statistics.median(failovers), 3) if failovers else None,
        "rto_over_promotion": round(statistics.median(rtos) / statistics.median(failovers), 2)
        if rtos and failovers and statistics.median(failovers) else None,
        "rto_target_s": RTO_TARGET, "load": loadavg(), "cores": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    return 0 if summary["in_a_row"] and summary["lost"] == 0 and (summary["rto_worst_s"] or 99) < RTO_TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
