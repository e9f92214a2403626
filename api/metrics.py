"""Prometheus metrics of the API, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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
    return generate_latest(REGISTRY)
