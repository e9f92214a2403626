"""Tracing with OpenTelemetry: on when an OTLP endpoint is configured, off otherwise.

`keylink serve`, `keylink ingest` and `keylink push` call :func:`setup` before they
start. When ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
is set, it installs the SDK's tracer provider with a batching OTLP/HTTP exporter and
traces the asyncpg statements run within an operation (an HTTP request, a WebSocket,
an ingester's batch); :func:`instrument_app` wraps the API in the ASGI middleware,
whose server span continues the caller's W3C ``traceparent``. Everything
else is the SDK's to read from the standard variables: ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``..._TIMEOUT`` and
``..._COMPRESSION``, ``OTEL_TRACES_SAMPLER`` and its argument, ``OTEL_BSP_*``,
``OTEL_PROPAGATORS``; ``OTEL_SDK_DISABLED=true`` turns tracing off.

Unset, nothing is set up (this module does not even import the SDK): the spans the
code opens (an ingester's batch) come from OpenTelemetry's no-op tracer, asyncpg is
left as it is, and the API has no tracing middleware at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
    from starlette.applications import Starlette

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes and scrapes are not operations worth a trace; OTEL_PYTHON_ASGI_EXCLUDED_URLS
# (or OTEL_PYTHON_EXCLUDED_URLS) replaces this list.
EXCLUDED_URLS_VARIABLES = ("OTEL_PYTHON_ASGI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")
DEFAULT_EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"

_provider: TracerProvider | None = None


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def setup(service_name: str) -> bool:
    """Install tracing for this process if the environment asks for it; returns whether
    it did. ``service_name`` is the default for ``OTEL_SERVICE_NAME``."""
    global _provider
    if _provider is not None:
        return True
    if not enabled():
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    # The sampler comes from OTEL_TRACES_SAMPLER (default: follow the caller's decision,
    # sample every new trace); the exporter reads its endpoint, headers and timeout.
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(_in_operations(BatchSpanProcessor(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    # Statements only, never their parameters (they hold customers' data).
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    _provider = provider
    return True


def _in_operations(processor: SpanProcessor) -> SpanProcessor:
    """``processor`` for the spans that belong to an operation. A database statement
    that none started (the push worker's polling, the API's LISTEN) is not exported:
    each would be a trace of its own, several a second, saying nothing."""
    from opentelemetry.sdk.trace import SpanProcessor as Base
    from opentelemetry.trace import SpanKind

    class InOperations(Base):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            processor.on_start(span, parent_context)

        def on_end(self, span: ReadableSpan) -> None:
            if span.parent is None and span.kind is SpanKind.CLIENT:
                return
            processor.on_end(span)

        def shutdown(self) -> None:
            processor.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return processor.force_flush(timeout_millis)

    return InOperations()


def instrument_app(app: Starlette) -> None:
    """Server spans for every HTTP request and WebSocket, continuing a W3C
    ``traceparent``; nothing when tracing is off."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.util.http import get_excluded_urls, parse_excluded_urls

    configured = any(os.environ.get(name) for name in EXCLUDED_URLS_VARIABLES)
    excluded = get_excluded_urls("ASGI") if configured else parse_excluded_urls(
        DEFAULT_EXCLUDED_URLS)
    # No span per ASGI message: a subscription sends thousands; one span a connection.
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=_provider,
                       excluded_urls=excluded, exclude_spans=["receive", "send"])
