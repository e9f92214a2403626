"""Traces, exported over OTLP/HTTP to a real receiver on loopback.

`keylink serve` and `keylink ingest` run as separate processes, configured only by the
standard OTEL_* variables, and export to a small OTLP/HTTP receiver in this test that
decodes what it gets with the protocol's own protobuf definitions.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import paho.mqtt.client as mqtt
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from paho.mqtt.enums import CallbackAPIVersion

from api.embedded import Mosquitto, free_port
from settings import PROJECT_ROOT, Settings
from tests.support.api import SECRET, token

SETTING_VARS = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}


@dataclass(frozen=True)
class Received:
    service: str
    span: Span

    def attribute(self, key: str) -> Any:
        for kv in self.span.attributes:
            if kv.key == key:
                value = kv.value
                return getattr(value, value.WhichOneof("value") or "string_value")
        return None


class Receiver:
    """An OTLP/HTTP trace receiver: POST /v1/traces, protobuf (gzip or not)."""

    def __init__(self) -> None:
        self.spans: list[Received] = []
        self.requests = 0
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                received = [
                    Received(_service(rs.resource.attributes), span)
                    for rs in request.resource_spans
                    for ss in rs.scope_spans
                    for span in ss.spans
                ]
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                with receiver._changed:
                    receiver.requests += 1
                    receiver.spans.extend(received)
                    receiver._changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, found: Callable[[list[Received]], bool], timeout: float = 30.0,
                 ) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not found(self.spans):
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted({(r.service, r.span.name) for r in self.spans})
                    raise AssertionError(f"spans not received in {timeout}s; got {names}")
                self._changed.wait(left)
            return list(self.spans)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _service(attributes: Any) -> str:
    for kv in attributes:
        if kv.key == "service.name":
            return str(kv.value.string_value)
    return ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without Keylink's or OpenTelemetry's variables."""
    clean = {k: v for k, v in os.environ.items()
             if k not in SETTING_VARS and not k.startswith("OTEL_")}
    return {**clean, "KEYLINK_STATE_DIR": str(tmp_path / "state"), "KEYLINK_LOG_LEVEL": "WARNING",
            **extra}


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def run(env: dict[str, str], *args: str) -> Running:
        log = tmp_path / f"{args[0]}-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "api.cli", *args], env=env,
                                       cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
        running = Running(process, log)
        started.append(running)
        return running

    yield run
    for running in started:
        running.process.terminate()
    for running in started:
        try:
            running.process.wait(15)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()


def serve(start: Callable[..., Running], env: dict[str, str]) -> str:
    port = free_port(0)
    running = start({**env, "KEYLINK_PORT": str(port), "KEYLINK_HOST": "127.0.0.1"}, "serve")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert running.process.poll() is None, running.output()
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"keylink serve did not start:\n{running.output()}")


def graphql(base: str, headers: dict[str, str]) -> None:
    r = httpx.post(f"{base}/graphql", json={"query": "{ contracts(first: 1) { nodes { id } } }"},
                   headers={"authorization": f"Bearer {token('FAW-VW', 'customer')}", **headers},
                   timeout=10)
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.json()


async def execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def is_database(r: Received) -> bool:
    return "postgresql" in (r.attribute("db.system"), r.attribute("db.system.name"))


def test_a_graphql_request_continues_the_callers_trace_down_to_its_statements(
    tmp_path: Path, database_url: str, receiver: Receiver, start: Callable[..., Running],
) -> None:
    asyncio.run(execute(database_url, "INSERT INTO organization (code, name, kind)"
                                      " VALUES ('FAW-VW', 'FAW-Volkswagen', 'customer')"))
    env = environment(tmp_path, DATABASE_URL=database_url, KEYLINK_JWT_SECRET=SECRET,
                      OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_BSP_SCHEDULE_DELAY="100")
    base = serve(start, env)
    trace_id, parent_id = secrets.token_bytes(16), secrets.token_bytes(8)
    graphql(base, {"traceparent": f"00-{trace_id.hex()}-{parent_id.hex()}-01"})

    def server_and_statement(spans: list[Received]) -> bool:
        servers = [r for r in spans
                   if r.span.trace_id == trace_id and r.span.kind == Span.SPAN_KIND_SERVER]
        return any(is_database(r) and r.span.parent_span_id == s.span.span_id
                   for s in servers for r in spans)

    spans = receiver.wait_for(server_and_statement)
    (server,) = [r for r in spans if r.span.kind == Span.SPAN_KIND_SERVER]
    assert server.span.parent_span_id == parent_id  # the caller's span is its parent
    assert server.service == "keylink-api"
    assert "/graphql" in server.span.name
    assert server.attribute("http.request.method") == "POST" or (
        server.attribute("http.method") == "POST")
    statements = [r for r in spans if r.span.parent_span_id == server.span.span_id]
    assert statements and all(is_database(r) for r in statements)
    assert all(r.span.trace_id == trace_id for r in statements)
    # A statement outside any operation (the API's LISTEN at start) is no trace of its own.
    assert not [r.span.name for r in spans
                if r.span.kind == Span.SPAN_KIND_CLIENT and not r.span.parent_span_id]
    # Statements, never their parameters.
    assert not any(r.attribute("db.statement.parameters") for r in spans)
    # Probes are not traced.
    httpx.get(f"{base}/healthz", timeout=5)
    httpx.get(f"{base}/metrics", timeout=5)
    graphql(base, {})  # a request without a traceparent starts a trace of its own
    spans = receiver.wait_for(
        lambda s: sum(r.span.kind == Span.SPAN_KIND_SERVER for r in s) == 2)
    servers = [r for r in spans if r.span.kind == Span.SPAN_KIND_SERVER]
    assert all("/graphql" in r.span.name for r in servers)
    assert servers[1].span.trace_id != trace_id and not servers[1].span.parent_span_id


def test_an_ingester_batch_is_a_span_with_its_statements(
    tmp_path: Path, database_url: str, mqtt_broker: Mosquitto, receiver: Receiver,
    start: Callable[..., Running],
) -> None:
    group = f"otel-{uuid.uuid4().hex[:8]}"
    env = environment(tmp_path, DATABASE_URL=database_url, MQTT_URL=mqtt_broker.url,
                      KEYLINK_INGEST_GROUP=group, KEYLINK_INGEST_CLIENT_ID=f"{group}-{{n}}",
                      KEYLINK_INGEST_METRICS_PORT="0", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
                      OTEL_BSP_SCHEDULE_DELAY="100", OTEL_SERVICE_NAME="ingest-under-test")
    running = start(env, "ingest")
    device = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    device.connect(mqtt_broker.host, mqtt_broker.port)
    device.loop_start()

    def batch(spans: list[Received]) -> bool:
        return any(r.span.name == "ingest batch" for r in spans)

    try:
        # The ingester subscribes some time after it starts: publish until a batch is seen.
        deadline = time.monotonic() + 30
        while not batch(receiver.spans):
            assert running.process.poll() is None, running.output()
            assert time.monotonic() < deadline, f"no batch span:\n{running.output()}"
            device.publish("keylink/v1/devices/NO-SUCH-DEVICE/position", b'{"lat": 1}',
                           qos=1).wait_for_publish(5)
            time.sleep(0.5)
    finally:
        device.disconnect()
        device.loop_stop()

    def with_statement(spans: list[Received]) -> bool:
        batches = {r.span.span_id for r in spans if r.span.name == "ingest batch"}
        return any(is_database(r) and r.span.parent_span_id in batches for r in spans)

    spans = receiver.wait_for(with_statement)
    first = next(r for r in spans if r.span.name == "ingest batch")
    assert first.service == "ingest-under-test"  # OTEL_SERVICE_NAME is the SDK's to read
    assert first.attribute("messaging.batch.message_count") >= 1
    assert not first.span.parent_span_id  # a batch starts its own trace


# The edge's middleware (request ids, budgets, body limits), there with tracing or without.
EDGE = ["RequestIdMiddleware", "RateLimitMiddleware", "BodyLimitMiddleware"]


def test_without_an_endpoint_nothing_is_set_up(
    tmp_path: Path, database_url: str, receiver: Receiver,
) -> None:
    """No tracer provider, no middleware, asyncpg untouched, the batch tracer a no-op."""
    probe = """
import asyncpg
from opentelemetry import trace
from api import telemetry
from api.app import create_app
from settings import Settings
from tracking.ingester import TRACER
app = create_app(Settings(jwt_secret="x" * 32))
with TRACER.start_as_current_span("ingest batch") as span:
    recording = span.is_recording()
print(telemetry.setup("keylink-api"), telemetry.enabled(),
      [m.cls.__name__ for m in app.user_middleware],
      hasattr(asyncpg.connection.Connection.fetch, "__wrapped__"),
      type(trace.get_tracer_provider()).__name__, recording)
"""
    env = environment(tmp_path, DATABASE_URL=database_url)
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SDK_DISABLED": "true"}
    for unset in ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, disabled):
        result = subprocess.run([sys.executable, "-c", probe], env={**env, **unset},
                                cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == (
            f"False False {EDGE} False ProxyTracerProvider False"), result.stdout
    assert receiver.requests == 0

    # The same probe with an endpoint: everything is there.
    result = subprocess.run(
        [sys.executable, "-c", probe.replace(
            "app = create_app", "telemetry.setup('keylink-api')\napp = create_app")],
        env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url},
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"True True {['OpenTelemetryMiddleware', *EDGE]} True TracerProvider True"
    ), result.stdout
