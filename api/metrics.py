"""Prometheus metrics of the API, served at ``/metrics``.

Under `keylink serve --workers N` (N > 1) every worker counts into files of its own in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, which the command
sets up), and whichever worker answers a scrape adds up those of all workers: a scrape
reaches one worker, chosen by the kernel, and must still see the whole server.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

# prometheus_client's own variable: set before it is imported, it counts into files there.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "keylink_http_requests_total", "HTTP requests by route and status.",
    ["route", "method", "status"], registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "keylink_http_request_seconds", "HTTP request latency by route.", ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "keylink_graphql_errors_total", "GraphQL errors by code.", ["code"], registry=REGISTRY,
)


def render() -> bytes:
    directory = os.environ.get(MULTIPROCESS_DIR)
    if not directory:
        return generate_latest(REGISTRY)
    every_worker = CollectorRegistry()
    multiprocess.MultiProcessCollector(every_worker, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(every_worker)
