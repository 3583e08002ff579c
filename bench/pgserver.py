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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
