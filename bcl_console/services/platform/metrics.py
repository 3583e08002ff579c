"""What the centre counts for Prometheus (``GET /metrics``), kept by prometheus_client.

One process (the console, a plain ``serve``) keeps its metrics in a registry of its own
(one per runtime, so that two runtimes in one process never share a series). Under
``serve --workers N`` the supervisor makes one fresh directory and hands it to every
worker as ``$PROMETHEUS_MULTIPROC_DIR``: prometheus_client then keeps each process's
values in files there, and a scrape answered by any worker adds up every worker's files
(its multiprocess mode), so what a scrape through the load balancer sees is the whole
centre's, and counters never jump back when another worker answers. The supervisor marks
a dead worker's files, and removes the directory when serve stops.

prometheus_client chooses file-backed values when it is first imported, from that
variable: this module reads the same variable, so the two always agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from bcl_console.store.api import CentreState

#: The variable that puts prometheus_client in its multiprocess mode (its own name).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Latency buckets of the HTTP routes, in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

#: What a scrape answers with.
CONTENT_TYPE = CONTENT_TYPE_LATEST

# The ``*_created`` series (a timestamp per counter) are not what this centre's alerts
# read, and multiprocess mode has none: one process and several answer alike.
disable_created_metrics()  # type: ignore[no-untyped-call]


def shared_dir() -> Path | None:
    """The directory of per-process files when several workers serve, else None."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def prepare_shared_dir(path: Path) -> None:
    """A fresh, empty directory for the workers' files (0700: the centre's own)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)


def worker_gone(path: Path, pid: int) -> None:
    """A worker exited: its live gauges (render queue) stop counting; its counters stay,
    since what it served was served."""
    _multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self) -> None:
        self.shared = shared_dir()
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("bcl_http_requests", "HTTP requests by route, method and status.",
                                ("route", "method", "status"), registry=r)
        self.latency = Histogram("bcl_http_request_seconds", "Request latency by route.", ("route",),
                                 buckets=BUCKETS, registry=r)
        self.issuances = Counter("bcl_issuances", "Certificates issued at stores, by type and municipality.",
                                 ("type", "municipality"), registry=r)
        self.refusals = Counter("bcl_relay_refusals", "Refused kiosk calls by reason.", ("reason",), registry=r)
        self.batches = Counter("bcl_linkage_batches", "Linkage batches ingested, by outcome "
                               "(applied, already-applied, rejected).", ("outcome",), registry=r)
        self.render_queue = Gauge("bcl_render_queue_depth", "Certificates waiting for or being rendered "
                                  "by the render pool (all workers).", registry=r, multiprocess_mode="livesum")
        self.jobs = Counter("bcl_scheduler_jobs", "Scheduler job runs, by job and outcome (ok, failed).",
                            ("job", "outcome"), registry=r)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def issued(self, type_: str, municipality: str) -> None:
        self.issuances.labels(type_, municipality).inc()

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def batch(self, outcome: str) -> None:
        self.batches.labels(outcome).inc()

    def job_ran(self, job: str, outcome: str) -> None:
        self.jobs.labels(job, outcome).inc()

    @staticmethod
    def centre(state: CentreState) -> bytes:
        """The two centres' series (contract §11), read from the database at the scrape: the
        same at every worker, so they are not summed. ``bcl_centre_role`` is 1 for this
        centre's role; the replication series are absent on a single centre."""
        r = CollectorRegistry()
        role = Gauge("bcl_centre_role", "This centre's role (1 for the one it has).", ("role",), registry=r)
        for name in ("active", "standby", "single"):
            role.labels(name).set(1 if state.role == name else 0)
        Gauge("bcl_centre_epoch", "The centre's epoch (one more at every promotion).", registry=r).set(state.epoch)
        rep = state.replication
        if rep is not None:
            Gauge("bcl_replication_sync", "1 while an accepted write waits for the other centre.",
                  registry=r).set(1 if rep.sync else 0)
            if rep.lag_bytes is not None:
                Gauge("bcl_replication_lag_bytes", "WAL the other centre has not replayed yet.",
                      registry=r).set(rep.lag_bytes)
            if rep.lag_seconds is not None:
                Gauge("bcl_replication_lag_seconds", "How far the standby's replay is behind.",
                      registry=r).set(rep.lag_seconds)
        return generate_latest(r)

    def render(self) -> bytes:
        """The Prometheus text of every series: this process's, or, under several workers,
        the sum over every worker's files."""
        if self.shared is None:
            return generate_latest(self.registry)
        scrape = CollectorRegistry()
        _multiprocess.MultiProcessCollector(scrape, path=str(self.shared))  # type: ignore[no-untyped-call]
        return generate_latest(scrape)
