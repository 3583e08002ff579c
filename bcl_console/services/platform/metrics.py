"""Counters and latency histograms of the HTTP services, in Prometheus text format."""

from __future__ import annotations

import bisect
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    inner = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.issuances: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self.refusals: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(("route", route), ("method", method), ("status", str(status)))] += 1
        self.latency[route][bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[route] += seconds

    def issued(self, type_: str, municipality: str) -> None:
        self.issuances[(("type", type_), ("municipality", municipality))] += 1

    def refused(self, reason: str) -> None:
        self.refusals[(("reason", reason),)] += 1

    def render(self) -> str:
        out = [
            "# HELP bcl_http_requests_total HTTP requests by route, method and status.",
            "# TYPE bcl_http_requests_total counter",
        ]
        out += [f"bcl_http_requests_total{_labels(k)} {v}" for k, v in sorted(self.requests.items())]
        out += ["# HELP bcl_http_request_seconds Request latency by route.",
                "# TYPE bcl_http_request_seconds histogram"]
        for route, counts in sorted(self.latency.items()):
            running = 0
            for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.append(f"bcl_http_request_seconds_bucket{_labels((('route', route), ('le', le)))} {running}")
            out.append(f"bcl_http_request_seconds_sum{_labels((('route', route),))} {self.latency_sum[route]:.6f}")
            out.append(f"bcl_http_request_seconds_count{_labels((('route', route),))} {running}")
        out += ["# HELP bcl_issuances_total Certificates issued at stores, by type and municipality.",
                "# TYPE bcl_issuances_total counter"]
        out += [f"bcl_issuances_total{_labels(k)} {v}" for k, v in sorted(self.issuances.items())]
        out += ["# HELP bcl_relay_refusals_total Refused kiosk calls by reason.",
                "# TYPE bcl_relay_refusals_total counter"]
        out += [f"bcl_relay_refusals_total{_labels(k)} {v}" for k, v in sorted(self.refusals.items())]
        return "\n".join(out) + "\n"
