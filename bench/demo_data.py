"""Benchmark: making the demo data set — the default one, and a 500,000-resident city.

Each run happens in a fresh child process on a fresh data directory, so its peak RSS
is its own. Prints one line per run and a JSON summary. Targets (issue 2): the
500,000-resident city in under 60 s with peak RSS under 500 MB.

    ./dev bench demo_data [--residents 500000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap

CHILD = textwrap.dedent(
    """
    import asyncio, json, resource, sys, time
    from bcl_console.config import load_settings
    from bcl_console.services.platform.runtime import Runtime

    async def main(data_dir, residents):
        rt = Runtime(load_settings(data_dir))
        await rt.start()
        started = time.perf_counter()
        summary = await demo_service(rt).create(2026, residents=residents)
        seconds = time.perf_counter() - started
        await rt.stop()
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows = summary.residents + summary.seals + summary.taxes
        print(json.dumps({"residents": summary.residents, "rows": rows, "seconds": seconds,
                          "peak_rss_mb": peak_kb / 1024}))

    asyncio.run(main(sys.argv[1], None if sys.argv[2] == "default" else int(sys.argv[2])))
    """
)


def run(label: str, residents: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, f"{tmp}/data", residents],
            check=True, capture_output=True, text=True,
        )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{label:<28} {result['residents']:>9,} residents  {result['rows']:>10,} rows  "
        f"{result['seconds']:7.2f} s  {result['rows'] / result['seconds']:>9,.0f} rows/s  "
        f"{result['residents'] / result['seconds']:>9,.0f} residents/s  "
        f"peak RSS {result['peak_rss_mb']:6.1f} MB"
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=500_000)
    args = parser.parse_args()
    default = run("default demo", "default")
    large = run(f"demo, city of {args.residents:,}", str(args.residents))
    verdict = {
        "default_under_15s": default["seconds"] < 15,
        "large_under_60s": large["seconds"] < 60,
        "large_rss_under_500mb": large["peak_rss_mb"] < 500,
    }
    print(json.dumps({"default": default, "large": large, "targets_met": verdict}, indent=2))
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
