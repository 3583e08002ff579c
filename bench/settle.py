"""Benchmark: settle a fiscal year of 10,000,000 issuance records over 100 municipalities
and 5 kiosk operators, on SQLite and on PostgreSQL in one run; seconds and peak RSS; in
the same run, on the same store, the baseline: one SQL GROUP BY count over the same table
(each the best of three runs, so that both read a warm cache). Target (issue 6): under
10 s, within 3x the baseline.

The rows are made inside the database (a recursive CTE on SQLite, generate_series on
PostgreSQL) through the schema's own triggers, the issuances' indexes built afterwards
from their own definitions; the PostgreSQL server is one of the run's own
(bench/pgserver.py), removed afterwards.

Then, for information (no target), the unattended year-end job itself, as a scheduler runs
it: `bcl-console settle --fiscal-year 2025 --close --json --out DIR` (settle, store the
statement, write the statements: 100 PDFs and their CSVs), and the same command again,
which must change nothing and print the same document. The close alone, against a settle
in the same run, is bench/close.py.

    ./dev bench settle [--records 10000000] [--database sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from pgserver import (
    STORES,
    add_database_option,
    loadavg,
    measure_each_store,
)

#: The year's rows, the same on both stores: row i (0 ≤ i < N) is of municipality i mod 100,
#: operator op-a … op-e (i mod 5), type residence/seal/tax (7:2:1 by i mod 10), voided when
#: i mod 50 = 0, a free test-stage-2 issuance when i mod 997 = 0, issued at a second of
#: FY2025 (from 1 April 2025 00:00 JST) spread over the year by a multiplicative hash of i.
#: In the SQL below: 1743433200 is 2025-03-31T15:00:00Z, 31536000 the seconds of 365 days,
#: 2654435761 a multiplier coprime to it (so i -> second is one-to-one over a year).

SETUP_SQLITE = textwrap.dedent(
    """
    import sqlite3, sys
    from bcl_console.domain.codes import with_check_digit
    from bcl_console.store.db import migrate
    db, records = sys.argv[1], int(sys.argv[2])
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL"); conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    migrate(conn)  # the schema as it is today, triggers and all
    codes = [with_check_digit(f"98{i:03d}") for i in range(100)]
    conn.execute("BEGIN")
    for i, code in enumerate(codes):
        conn.execute("INSERT INTO municipalities (code, name, kind, population, hosting, service_start, created_at) "
                     "VALUES (?, ?, ?, ?, 'bcl', '2020-04-01', '2020-01-01T00:00:00.000000+00:00')",
                     (code, f"市{i}", "city" if i % 3 else "town", 5000 + i * 3000))
    conn.execute("CREATE TEMP TABLE codes (n INTEGER PRIMARY KEY, code TEXT NOT NULL)")
    conn.executemany("INSERT INTO codes VALUES (?, ?)", list(enumerate(codes)))
    conn.execute("COMMIT")
    # The rows go in through the schema's own triggers (they derive the Japan month, the
    # fiscal year and the settlement key of each); its indexes on issuances are made
    # afterwards from their own SQL, as sorting once is faster than 10 M inserts into each.
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'issuances' "
                           "AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, fee, "
        "state, created_at, issued_at) "
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "
        "SELECT printf('%032x', i), CASE i % 10 WHEN 7 THEN 'seal' WHEN 8 THEN 'seal' WHEN 9 THEN 'tax' "
        "ELSE 'residence' END, (SELECT code FROM codes WHERE codes.n = i % 100), '12345678901', "
        "CASE WHEN i % 997 = 0 THEN 'test-stage-2' ELSE 'store' END, 'op-' || char(97 + i % 5), 300, "
        "CASE WHEN i % 50 = 0 THEN 'voided' ELSE 'printed' END, t, t "
        "FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%S', 1743433200 + (i * 2654435761) % 31536000, 'unixepoch') "
        "|| '.000000+00:00' AS t FROM n)", (records,))
    conn.execute("COMMIT")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    """
)

SETUP_POSTGRESQL = textwrap.dedent(
    """
    import asyncio, sys
    import asyncpg
    from bcl_console.domain.codes import with_check_digit
    from bcl_console.store.pg.db import PgDatabase
    CHUNK = 1_000_000
    async def main(url, records):
        db = PgDatabase(url); await db.open(); await db.close()  # the schema as it is today
        conn = await asyncpg.connect(url)
        codes = [with_check_digit(f"98{i:03d}") for i in range(100)]
        await conn.executemany(
            "INSERT INTO municipalities (code, name, kind, population, hosting, service_start, created_at) "
            "VALUES ($1, $2, $3, $4, 'bcl', date '2020-04-01', timestamptz '2020-01-01T00:00:00Z')",
            [(code, f"市{i}", "city" if i % 3 else "town", 5000 + i * 3000) for i, code in enumerate(codes)])
        # Through the schema's own trigger (issuances_derive); the plain indexes are made
        # afterwards from their own definitions, those of constraints stay all along.
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'issuances' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'issuances'::regclass)")
        for name, _ in indexes:
            await conn.execute(f"DROP INDEX {name}")
        for first in range(0, records, CHUNK):
            await conn.execute(
                "INSERT INTO issuances (request_id, type, municipality_code, resident_code, channel, operator, "
                "fee, state, created_at, issued_at) "
                "SELECT lpad(to_hex(i), 32, '0'), CASE i % 10 WHEN 7 THEN 'seal' WHEN 8 THEN 'seal' "
                "WHEN 9 THEN 'tax' ELSE 'residence' END, ($3::text[])[(i % 100)::integer + 1], '12345678901', "
                "CASE WHEN i % 997 = 0 THEN 'test-stage-2' ELSE 'store' END, 'op-' || chr(97 + (i % 5)::integer), 300, "
                "CASE WHEN i % 50 = 0 THEN 'voided' ELSE 'printed' END, t, t "
                "FROM (SELECT i, to_timestamp(1743433200 + (i * 2654435761) % 31536000) AS t "
                "FROM generate_series($1::bigint, $2::bigint) AS i) s",
                first, min(first + CHUNK, records) - 1, codes)
        for _, sql in indexes:
            await conn.execute(sql)
        await conn.execute("VACUUM (ANALYZE) issuances")
        await conn.execute("CHECKPOINT")
        await conn.close()
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


def setup_all(centres: dict[str, tuple[Path, str]], records: int) -> dict[str, float]:
    """The year's rows in a fresh centre on each store ({store: (data dir, URL)}), the
    stores' loads side by side (each mostly one core; nothing is measured meanwhile);
    the seconds each took."""
    started = time.perf_counter()
    running = {}
    for store, (data, url) in centres.items():
        args = [SETUP_SQLITE, str(data / "bcl.sqlite3")] if store == "sqlite" else [SETUP_POSTGRESQL, url]
        running[store] = subprocess.Popen([sys.executable, "-c", *args, str(records)])
    seconds = {}
    for store, proc in running.items():
        if proc.wait() != 0:
            raise RuntimeError(f"loading the {store} centre failed (exit {proc.returncode})")
        seconds[store] = time.perf_counter() - started
        print(f"[{store}] setup: {records:,} issuance records in {seconds[store]:.0f} s "
              f"(load average {loadavg()})", flush=True)
    return seconds


SETTLE = textwrap.dedent(
    """
    import asyncio, json, resource, sys, time, shutil
    from datetime import datetime
    from pathlib import Path
    from bcl_console.config import load_settings
    from bcl_console.services.platform.clock import FixedClock
    from bcl_console.services.platform.runtime import Runtime
    async def main(data, url):
        rt = Runtime(load_settings(data, database_url=url or None),
                     clock=FixedClock(datetime.fromisoformat("2026-04-01T02:00:00+09:00")))
        await rt.start()
        seconds = float("inf")
        for _ in range(3):  # the best of three: both sides measured with the file in the OS cache
            started = time.perf_counter()
            doc = await rt.settlement.settle(2025)
            seconds = min(seconds, time.perf_counter() - started)
        await rt.stop()
        print(json.dumps({"seconds": seconds, "billable": doc["totals"]["billable"],
                          "municipalities": len(doc["municipalities"]), "operators": len(doc["operators"]),
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)

#: The baseline on either store: one plain GROUP BY count over the same table.
GROUP_BY = "SELECT municipality_code, count(*) FROM issuances GROUP BY municipality_code"

BASELINE_SQLITE = textwrap.dedent(
    """
    import json, resource, sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1])
    seconds = float("inf")
    for _ in range(3):  # the best of three, as for settle
        started = time.perf_counter()
        rows = conn.execute(sys.argv[2]).fetchall()
        seconds = min(seconds, time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "groups": len(rows), "rows": sum(r[1] for r in rows),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """
)


BASELINE_POSTGRESQL = textwrap.dedent(
    """
    import asyncio, json, resource, sys, time
    import asyncpg
    async def main(url, sql):
        conn = await asyncpg.connect(url)
        seconds = float("inf")
        for _ in range(3):  # the best of three, as for settle
            started = time.perf_counter()
            rows = await conn.fetch(sql)
            seconds = min(seconds, time.perf_counter() - started)
        await conn.close()
        print(json.dumps({"seconds": seconds, "groups": len(rows), "rows": sum(r[1] for r in rows),
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def year_end_job(data: Path, url: str) -> tuple[float, str]:
    """Seconds and stdout of the year-end job, run as a scheduler would."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bcl_console", "settle", "--fiscal-year", "2025", "--close", "--json",
         "--data-dir", str(data), "--now", "2026-04-01T02:00:00+09:00", "--out", str(data / "statements")],
        check=True, capture_output=True, text=True, env={**os.environ, **({"BCL_DATABASE_URL": url} if url else {})},
    )
    return time.perf_counter() - started, out.stdout


def measure(store: str, data: Path, url: str, loaded: float) -> dict[str, object]:
    if store == "sqlite":
        base = child(BASELINE_SQLITE, str(data / "bcl.sqlite3"), GROUP_BY)
    else:
        base = child(BASELINE_POSTGRESQL, url, GROUP_BY)
    settle = child(SETTLE, str(data), url)
    close = [year_end_job(data, url) for _ in range(2)]
    ratio = settle["seconds"] / base["seconds"]
    print(f"[{store}] settle FY2025:            {settle['seconds']:6.2f} s, peak RSS {settle['peak_rss_mb']:.0f} MB, "
          f"{settle['billable']:,} billable over {settle['municipalities']} municipalities and "
          f"{settle['operators']} operators")
    print(f"[{store}] baseline GROUP BY count:  {base['seconds']:6.2f} s ({base['rows']:,} rows)")
    print(f"[{store}] ratio settle/baseline:    {ratio:.2f}")
    identical = close[0][1] == close[1][1]
    print(f"[{store}] year-end job (--close):   {close[0][0]:6.2f} s; again {close[1][0]:.2f} s, "
          f"{'identical output' if identical else 'OUTPUT DIFFERS'}   (load average {loadavg()})", flush=True)
    verdict = {"under_10s": settle["seconds"] < 10, "within_3x_baseline": ratio <= 3, "identical_again": identical}
    year_end = {"close_seconds": close[0][0], "again_seconds": close[1][0], "identical_output": identical}
    return {"setup_seconds": round(loaded, 1), "settle": settle, "baseline": base, "ratio": round(ratio, 2),
            "year_end_job": year_end, "document": json.loads(close[0][1]), "targets_met": verdict}


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON documents differ (paths), but for the instant of the close."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) if k != "closed_at"
                for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path or '.'}: {a!r} / {b!r}"[:160]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    add_database_option(parser)
    args = parser.parse_args()
    results = measure_each_store(args.database, args.records, setup_all, measure)
    documents = [results[s].pop("document") for s in STORES if s in results]
    if len(documents) == 2:
        differ = differences(documents[0], documents[1])
        same = not differ
        print(f"the closed FY2025 statement is {'the same' if same else 'NOT THE SAME'} on both stores"
              + ("" if same else f": {', '.join(differ[:5])}"))
        results["same_statement_on_both_stores"] = same
    results["load_average_end"] = loadavg()
    print(json.dumps(results, indent=2))
    return 0 if all(all(results[s]["targets_met"].values()) for s in STORES if s in results) \
        and results.get("same_statement_on_both_stores", True) else 1


if __name__ == "__main__":
    sys.exit(main())
