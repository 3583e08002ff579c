"""What the benchmarks share: a PostgreSQL server of their own for the run, the
``--database`` choice, and the machine's load average printed beside the figures.

The server is ``LocalCluster`` (bcl_console/services/platform/postgres_local.py: initdb and
pg_ctl from Debian's binaries, as the ``postgres`` user when run as root, on a free
loopback port) with settings for a machine of this size, durability left as shipped
(fsync and synchronous_commit on): shared buffers large enough to hold a 10 M-row year,
checkpoints spaced out so that loading the bench's data does not measure them. It is
removed (stopped, files deleted) when the benchmark ends, also on an error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bcl_console.services.platform.postgres_local import LocalCluster  # noqa: E402

#: The benchmark server's settings (everything else PostgreSQL 15's defaults).
SETTINGS = {
    "shared_buffers": "3GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "max_connections": "200",
}

STORES = ("sqlite", "postgresql")


def add_database_option(parser: argparse.ArgumentParser, default: str = "both") -> None:
    parser.add_argument("--database", choices=(*STORES, "both"), default=default,
                        help=f"which store to measure (default {default}: both in one run)")


def stores(choice: str) -> list[str]:
    return list(STORES) if choice == "both" else [choice]


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def server() -> Iterator[LocalCluster]:
    """A PostgreSQL server for this run, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="bcl-bench-pg-"))
    cluster = LocalCluster(home / "cluster", settings=SETTINGS)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
        shutil.rmtree(home, ignore_errors=True)


def database(cluster: LocalCluster, name: str) -> str:
    """A new empty database on the server; its URL."""
    cluster.psql(f"CREATE DATABASE {name}")
    return cluster.url(name)


def measure_each_store(choice: str, records: int, setup_all: Callable[[dict[str, tuple[Path, str]], int], dict[str, Any]],
                       measure: Callable[[str, Path, str, Any], dict[str, Any]]) -> dict[str, Any]:
    """A centre per store chosen (a data directory, and a database on a server of the
    run's own for PostgreSQL), loaded side by side by ``setup_all``, then measured one after
    the other: the results by store, with the load average at the start."""
    results: dict[str, Any] = {"records": records, "load_average_start": loadavg()}
    with tempfile.TemporaryDirectory(prefix="bcl-bench-") as tmp, ExitStack() as stack:
        centres = {}
        for store in stores(choice):
            data = Path(tmp) / f"data-{store}"
            data.mkdir()
            centres[store] = (data, database(stack.enter_context(server()), "centre") if store == "postgresql" else "")
        loaded = setup_all(centres, records)
        for store, (data, url) in centres.items():
            results[store] = measure(store, data, url, loaded[store])
    return results
