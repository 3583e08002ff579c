"""Benchmark: linking a 500,000-resident full batch, and a 5,000-change delta, on
SQLite and on PostgreSQL in one run.

Steps (each measured run in its own child process, so peak RSS is its own):
1. setup: the demo generator makes a city of N residents; it is exported as a full batch
   (once, for both stores);
2. `link` of that batch into a fresh centre: records/s and peak RSS (the process and the
   child that reads and validates the batch beside the writer, added up);
3. baseline, same run, same store:
   - SQLite: the same CSV rows inserted with plain sqlite3 executemany in one transaction,
     no validation, no checksums, no backup (reading the CSV counted);
   - PostgreSQL: a bare COPY (asyncpg ``copy_records_to_table``) of the same rows, typed
     beforehand (not counted), into the same tables of a freshly migrated centre database
     (the schema's keys, foreign keys and indexes), in one transaction;
4. a delta of 5,000 changes (updates) linked on top.
Targets: SQLite (issue 3) >= 100,000 records/s, peak RSS < 300 MB, the delta in < 1 s;
PostgreSQL (issue 16) >= 300,000 records/s.

The PostgreSQL server is one of the run's own (bench/pgserver.py), removed afterwards.

    ./dev bench linkage [--residents 500000] [--database sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pgserver import STORES, add_database_option, database, loadavg, server, stores  # noqa: E402

CITY = "992054"

SETUP = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from bcl_console.config import load_settings
    from bcl_console.demo.make import demo_service
    from bcl_console.services.platform.runtime import Runtime

    async def main(data, out, residents):
        rt = Runtime(load_settings(data)); await rt.start()
        await demo_service(rt).create(2026, residents=residents)
        await rt.linkage.export(CITY, Path(out))
        await rt.stop()

    CITY = sys.argv[4]
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)

LINK = textwrap.dedent(
    """
    import asyncio, json, resource, sys, time
    from pathlib import Path
    from bcl_console.config import load_settings
    from bcl_console.services.platform.actor import Actor
    from bcl_console.services.platform.runtime import Runtime

    async def main(data, batch, fresh, url):
        rt = Runtime(load_settings(data, database_url=url or None)); await rt.start()
        if fresh == "1":
            await rt.municipalities.add(code=CITY, name="東浜市", kind="city", population=500000,
                                        actor=Actor("bench", "cli"))
        started = time.perf_counter()
        result = await rt.linkage.link(Path(batch))
        seconds = time.perf_counter() - started
        await rt.stop()
        assert result.outcome == "applied", result.problems[:3]
        records = sum(v for k, v in result.counts.items() if "." not in k)
        print(json.dumps({"records": records, "seconds": seconds,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "reader_child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))

    CITY = sys.argv[4]
    asyncio.run(main(*sys.argv[1:4], sys.argv[5]))
    """
)

BASELINE = textwrap.dedent(
    """
    import csv, json, resource, sqlite3, sys, time
    from pathlib import Path
    from bcl_console.store.db import migrate

    db, batch, city = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL"); conn.execute("PRAGMA synchronous = FULL")
    migrate(conn)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO municipalities (code, name, kind, population, hosting, created_at) "
                 "VALUES (?, 'x', 'city', 1, 'bcl', 'now')", (city,))
    conn.execute("INSERT INTO seal_impressions VALUES ('x', x'00')")
    started = time.perf_counter()
    conn.execute("BEGIN")
    records = 0
    for name, table in (("residents.csv", "residents"), ("seals.csv", "seals"), ("taxes.csv", "taxes")):
        with open(batch / name, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            if table == "seals":
                header[-1] = "impression_sha256"
            cols = ", ".join(["municipality_code", *header])
            marks = ", ".join("?" * (len(header) + 1))
            rows = [(city, *r[:-1], "x") if table == "seals" else (city, *r) for r in reader]
            conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
            records += len(rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    print(json.dumps({"records": records, "seconds": seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """
)


COPY_BASELINE = textwrap.dedent(
    """
    import asyncio, csv, json, resource, sys, time
    from pathlib import Path
    import asyncpg
    from bcl_console.store.pg.db import PgDatabase

    FILES = (("residents.csv", "residents"), ("seals.csv", "seals"), ("taxes.csv", "taxes"))

    async def main(url, batch, city):
        db = PgDatabase(url); await db.open(); await db.close()  # the centre's schema, migrated
        conn = await asyncpg.connect(url)
        await conn.execute("INSERT INTO municipalities (code, name, kind, population, hosting, created_at) "
                           "VALUES ($1, 'x', 'city', 1, 'bcl', now())", city)
        await conn.execute("INSERT INTO seal_impressions VALUES ('x', decode('00', 'hex'))")
        tables = []
        for name, table in FILES:  # typed as the columns want them, before the clock runs
            types = dict(await conn.fetch("SELECT column_name, data_type FROM information_schema.columns "
                                          "WHERE table_name = $1", table))
            with open(batch / name, encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader)
                if table == "seals":
                    header[-1] = "impression_sha256"
                columns = ["municipality_code", *header]
                ints = [types[c] in ("integer", "bigint") for c in columns]
                rows = []
                for r in reader:
                    values = [city, *r[:-1], "x"] if table == "seals" else [city, *r]
                    rows.append(tuple((int(v) if v != "" else None) if is_int else v
                                      for v, is_int in zip(values, ints)))
            tables.append((table, columns, rows))
        started = time.perf_counter()
        async with conn.transaction():
            for table, columns, rows in tables:
                await conn.copy_records_to_table(table, records=rows, columns=columns)
        seconds = time.perf_counter() - started
        await conn.close()
        print(json.dumps({"records": sum(len(rows) for _, _, rows in tables), "seconds": seconds,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))
    """
)


def child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def make_delta(full: Path, target: Path, changes: int) -> None:
    from bcl_console.services.linkage.batch_writer import address_delta

    sequence = json.loads((full / "manifest.json").read_text(encoding="utf-8"))["sequence"] + 1
    address_delta(full, target, sequence=sequence, changes=changes, address=lambda a: a + "の2")


def measure(t: Path, store: str, url: str) -> dict[str, object]:
    """Link the full batch into a fresh centre on ``store``, the baseline, then the delta."""
    centre = t / f"centre-{store}"
    link = child(LINK, str(centre), str(t / "batch"), "1", CITY, url)
    if store == "sqlite":
        base = child(BASELINE, str(t / "baseline.sqlite3"), str(t / "batch"), CITY)
    else:
        base = child(COPY_BASELINE, url.rsplit("/", 1)[0] + "/copy_baseline", str(t / "batch"), CITY)
    delta = child(LINK, str(centre), str(t / "delta"), "0", CITY, url)
    link_rate = link["records"] / link["seconds"]
    base_rate = base["records"] / base["seconds"]
    together = link["peak_rss_mb"] + link["reader_child_peak_rss_mb"]
    what = "plain executemany" if store == "sqlite" else "bare COPY"
    print(f"[{store}] link (validate, write, backup) {link['records']:>10,.0f} records {link['seconds']:7.2f} s "
          f"{link_rate:>10,.0f} records/s  peak RSS {link['peak_rss_mb']:6.1f} MB "
          f"+ reader child {link['reader_child_peak_rss_mb']:.1f} MB = {together:.1f} MB")
    print(f"[{store}] baseline ({what}){' ' * (17 - len(what))}{base['records']:>10,.0f} records "
          f"{base['seconds']:7.2f} s {base_rate:>10,.0f} records/s  peak RSS {base['peak_rss_mb']:6.1f} MB")
    print(f"[{store}] ratio link/baseline: {link_rate / base_rate:.2f} (the baseline does no validation, "
          f"checksums or backup)")
    print(f"[{store}] delta of 5,000 changes: {delta['seconds']:.2f} s   (load average {loadavg()})", flush=True)
    if store == "sqlite":
        verdict = {
            "records_per_s_at_least_100k": link_rate >= 100_000,
            "peak_rss_under_300mb": together < 300,  # the writer and its reading child together
            "delta_under_1s": delta["seconds"] < 1.0,
        }
    else:
        verdict = {"records_per_s_at_least_300k": link_rate >= 300_000}
    return {"link": link, "baseline": base, "delta": delta, "records_per_s": round(link_rate),
            "baseline_records_per_s": round(base_rate), "ratio_to_baseline": round(link_rate / base_rate, 3),
            "targets_met": verdict}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=500_000)
    add_database_option(parser)
    args = parser.parse_args()
    results: dict[str, object] = {"load_average_start": loadavg()}
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp, ExitStack() as stack:
        t = Path(tmp)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", SETUP, str(t / "source"), str(t / "batch"), str(args.residents),
                        CITY], check=True)
        size = sum(p.stat().st_size for p in (t / "batch").rglob("*") if p.is_file())
        print(f"setup: demo city of {args.residents:,} exported as a full batch "
              f"({size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s; load average {loadavg()}",
              flush=True)
        make_delta(t / "batch", t / "delta", 5_000)
        for store in stores(args.database):
            url = ""
            if store == "postgresql":
                cluster = stack.enter_context(server())
                url = database(cluster, "centre")
                database(cluster, "copy_baseline")
            results[store] = measure(t, store, url)
    results["load_average_end"] = loadavg()
    print(json.dumps(results, indent=2))
    return 0 if all(all(r["targets_met"].values()) for k, r in results.items()  # type: ignore[union-attr]
                    if k in STORES) else 1


if __name__ == "__main__":
    sys.exit(main())
