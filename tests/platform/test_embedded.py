"""Embedded servers: each starts, answers, keeps its state, stops, and leaves nothing running.

The broker tests run against Mosquitto with the configs we ship, because the
guarantee that matters (no QoS 1 message silently dropped for a slow or offline
subscriber) lives in those files, not in code.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import paho.mqtt.client as mqtt
import pytest
import redis.asyncio as aioredis
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from api.embedded import (
    MOSQUITTO_DEV_CONFIG,
    Amqtt,
    Mosquitto,
    Postgres,
    Redis,
    ServerError,
    alive,
    free_port,
    mqtt_broker,
    wait_gone,
)
from api.embedded import mqtt as embedded
from settings import PROJECT_ROOT

PRODUCTION_CONFIG = PROJECT_ROOT / "config" / "mosquitto.conf"


# --- ports ----------------------------------------------------------------------


def test_a_free_preferred_port_is_kept() -> None:
    port = free_port(0)
    assert free_port(port) == port


def test_a_taken_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        other = free_port(port)

        assert other != port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", other))


# --- PostgreSQL -----------------------------------------------------------------


async def test_postgres_serves_the_keylink_database_and_keeps_it(state_dir: Path) -> None:
    with Postgres(state_dir / "pg") as pg:
        pid = pg.pid
        assert pid is not None and alive(pid)
        conn = await asyncpg.connect(pg.url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "keylink"
            await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        finally:
            await conn.close()
    assert wait_gone(pid, 10)

    with Postgres(state_dir / "pg") as pg:
        conn = await asyncpg.connect(pg.url)
        try:
            assert await conn.fetchval("SELECT n FROM kept") == 7
        finally:
            await conn.close()


# --- Redis ----------------------------------------------------------------------


async def test_redis_answers_and_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    with Redis(tmp_path / "redis", free_port(0)) as server:
        pid = server.process.pid
        client = aioredis.Redis.from_url(server.url)
        assert await client.ping()
        await client.set("kept", "yes")
        await client.aclose()
    assert pid is not None and not alive(pid)

    with Redis(tmp_path / "redis", free_port(0)) as server:
        client = aioredis.Redis.from_url(server.url)
        assert await client.get("kept") == b"yes"
        await client.aclose()


def test_a_copy_left_by_a_killed_run_is_stopped_before_a_new_start(tmp_path: Path) -> None:
    first = Redis(tmp_path / "redis", free_port(0))
    first.start()
    leftover = first.process.pid
    assert leftover is not None
    first.process._process = None  # as if the run that started it had been killed

    with Redis(tmp_path / "redis", free_port(0)):
        assert wait_gone(leftover, 10)


def test_children_stop_when_the_process_that_started_them_is_killed(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from api.embedded import Redis, free_port\n"
        "server = Redis(Path(sys.argv[1]), free_port(0))\n"
        "server.start()\n"
        "print(server.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "redis")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_gone(child, 10)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Redis(tmp_path / "redis", taken.getsockname()[1])
        with pytest.raises(ServerError, match="redis exited while starting"):
            server.start()
    assert not server.process.running


# --- MQTT brokers ---------------------------------------------------------------


class Subscriber:
    """A paho MQTT v5 client that records what it receives."""

    def __init__(
        self, broker: Mosquitto, client_id: str, *, persistent: bool = False,
        username: str | None = None, password: str | None = None,
    ) -> None:
        self.broker = broker
        self.persistent = persistent
        self.received: list[mqtt.MQTTMessage] = []
        self.connected = threading.Event()
        self.reason: mqtt.ReasonCode | None = None
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, message: self.received.append(message)

    def _on_connect(self, _c: object, _u: object, _f: object, reason: mqtt.ReasonCode,
                    _p: object) -> None:
        self.reason = reason
        self.connected.set()

    def connect(self) -> mqtt.ReasonCode:
        properties = Properties(PacketTypes.CONNECT)
        # In MQTT v5 a session outlives the connection only with an expiry interval.
        properties.SessionExpiryInterval = 3600 if self.persistent else 0
        self.connected.clear()
        self.client.connect(
            self.broker.host, self.broker.port, clean_start=not self.persistent,
            properties=properties,
        )
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        assert self.reason is not None
        return self.reason

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(10), "no SUBACK"

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, count: int, timeout: float = 30) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return [m.payload for m in self.received]


def publish(
    broker: Mosquitto, topic: str, payloads: list[bytes], protocol: int = mqtt.MQTTv5, **auth: str
) -> list[int]:
    """Publish at QoS 1, wait for every PUBACK, return their reason codes."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol)
    if auth:
        client.username_pw_set(auth["username"], auth["password"])
    acks: dict[int, int] = {}
    client.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason.value)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(30)
        return [acks[info.mid] for info in infos]
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def subscribers() -> Iterator[list[Subscriber]]:
    made: list[Subscriber] = []
    yield made
    for subscriber in made:
        subscriber.disconnect()


def test_mosquitto_starts_answers_and_stops(tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "mqtt", free_port(0)) as broker:
        pid = broker.process.pid
        # 16: accepted, though no one subscribes (MQTT v5 says so rather than 0).
        assert publish(broker, "keylink/v1/devices/t1/position", [b"{}"]) == [16]
    assert pid is not None and not alive(pid)


def test_broker_keeps_more_than_a_thousand_messages_for_an_offline_session(
    mqtt_broker: Mosquitto, subscribers: list[Subscriber]
) -> None:
    topic = "keylink/v1/devices/queue-test/position"
    ingester = Subscriber(mqtt_broker, "ingest-queue-test", persistent=True)
    subscribers.append(ingester)
    ingester.connect()
    ingester.subscribe(topic)
    ingester.disconnect()

    sent = [f"fix-{n}".encode() for n in range(1500)]
    assert publish(mqtt_broker, topic, sent) == [0] * len(sent)
    ingester.connect()

    assert sorted(ingester.wait_for(len(sent))) == sorted(sent)


def test_queued_messages_survive_a_broker_restart(
    tmp_path: Path, subscribers: list[Subscriber]
) -> None:
    port = free_port(0)
    topic = "keylink/v1/devices/restart-test/scan"
    sent = [f"scan-{n}".encode() for n in range(50)]
    with Mosquitto(tmp_path / "mqtt", port) as broker:
        ingester = Subscriber(broker, "ingest-restart-test", persistent=True)
        ingester.connect()
        ingester.subscribe(topic)
        ingester.disconnect()
        publish(broker, topic, sent)

    with Mosquitto(tmp_path / "mqtt", port) as broker:
        subscribers.append(ingester)
        ingester.connect()
        assert sorted(ingester.wait_for(len(sent))) == sorted(sent)


def test_oversized_payloads_are_refused_at_the_broker(
    mqtt_broker: Mosquitto, subscribers: list[Subscriber]
) -> None:
    topic = "keylink/v1/devices/size-test/position"
    watcher = Subscriber(mqtt_broker, "size-watcher")
    subscribers.append(watcher)
    watcher.connect()
    watcher.subscribe(topic)

    # An MQTT 3.1.1 device: Mosquitto 2.0's PUBACK to a v5 client for a dropped
    # publish carries a reason code that paho rejects as malformed.
    publish(mqtt_broker, topic, [b"x" * 300_000], protocol=mqtt.MQTTv311)
    publish(mqtt_broker, topic, [b"small"], protocol=mqtt.MQTTv311)

    assert watcher.wait_for(1) == [b"small"]
    time.sleep(0.2)
    assert [m.payload for m in watcher.received] == [b"small"]


def _settings(path: Path) -> dict[str, str]:
    pairs = (line.split(None, 1) for line in path.read_text().splitlines())
    return {p[0]: p[1].strip() for p in pairs if len(p) == 2 and not p[0].startswith("#")}


def test_production_and_dev_configs_deliver_alike() -> None:
    production, dev = _settings(PRODUCTION_CONFIG), _settings(MOSQUITTO_DEV_CONFIG)
    # Where it listens (TLS) and who may do what: tests/tracking/test_broker_production.py.
    access = {"allow_anonymous", "listener", "certfile", "keyfile", "tls_version",
              "persistence_location", "plugin", "plugin_opt_config_file"}

    assert {k: v for k, v in production.items() if k not in access} == {
        k: v for k, v in dev.items() if k not in access
    }
    assert production["allow_anonymous"] == "false" and dev["allow_anonymous"] == "true"


def test_amqtt_starts_answers_and_stops(tmp_path: Path) -> None:
    with Amqtt(tmp_path / "amqtt", free_port(0)) as broker:
        pid = broker.process.pid
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.connect(broker.host, broker.port)
        client.disconnect()
    assert pid is not None and not alive(pid)


def test_without_mosquitto_the_python_broker_is_used_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embedded, "mosquitto_binary", lambda: None)
    with caplog.at_level(logging.WARNING, logger="api.embedded"):
        broker = mqtt_broker(tmp_path, free_port(0))
    assert isinstance(broker, Amqtt)
    assert "does not persist" in caplog.text
