"""Ingesters stopped, killed, removed for good and replaced mid-stream, three at a time,
through the real broker (the project's Mosquitto config): every published fix is stored
once, following the operating procedure of the README (``keylink ingest --drain`` for a
crashed instance that is not coming back, the same client id for its replacement)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from api.embedded import Mosquitto
from domain.db import Database
from tests.tracking.test_faults import IngestProcess, expected, stored, stored_count
from tests.tracking.test_ingester import (
    eventually,
    make_fleet,
    purge_session,
    track,
    unique,
)
from tracking import members

pytestmark = pytest.mark.slow

DEVICES = 6
PER_DEVICE = 150
RATE = 60.0  # messages a second, all devices together


class SteadyPublisher:
    """Publishes at QoS 1 at a steady rate from a thread, one fix of each device in turn,
    and waits for every PUBACK."""

    def __init__(self, broker: Mosquitto, messages: list[tuple[str, bytes]]) -> None:
        self.messages = messages
        self.sent = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        infos = []
        for i, (topic, payload) in enumerate(self.messages):
            delay = started + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            infos.append(self.client.publish(topic, payload, qos=1))
            self.sent = i + 1
        for info in infos:
            info.wait_for_publish(60)
            assert info.is_published(), "no PUBACK"

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive()
        self.client.disconnect()
        self.client.loop_stop()

    def wait_sent(self, n: int) -> None:
        while self.sent < n:
            time.sleep(0.02)


@pytest.fixture
def children() -> Iterator[list[IngestProcess]]:
    started: list[IngestProcess] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


def _interleaved() -> list[tuple[str, bytes]]:
    tracks = [track(device, PER_DEVICE) for device in range(DEVICES)]
    return [tracks[d][i] for i in range(PER_DEVICE) for d in range(DEVICES)]


async def test_ingesters_killed_stopped_drained_and_replaced_lose_nothing(
    db: Database, database_url: str, mqtt_broker: Mosquitto, tmp_path: Path,
    children: list[IngestProcess],
) -> None:
    await make_fleet(db, trucks=DEVICES)
    sent = _interleaved()
    group = unique("g")
    ids = {name: unique(f"ing-{name}") for name in "abc"}
    base = {**os.environ, "DATABASE_URL": database_url, "MQTT_URL": mqtt_broker.url,
            "KEYLINK_INGEST_GROUP": group, "KEYLINK_INGEST_METRICS_PORT": "0",
            "KEYLINK_LOG_FORMAT": "text", "KEYLINK_INGEST_BATCH_MS": "50"}
    base.pop("REDIS_URL", None)
    env = {name: {**base, "KEYLINK_INGEST_CLIENT_ID": cid} for name, cid in ids.items()}

    def start(name: str) -> IngestProcess:
        child = IngestProcess(env[name], tmp_path / f"ingest-{name}.log")
        children.append(child)
        return child

    a, b, c = start("a"), start("b"), start("c")
    for child in (a, b, c):
        await asyncio.to_thread(child.wait_subscribed)
    publishing = SteadyPublisher(mqtt_broker, sent)

    # A crashes for good, a fifth of the way in: its share queues in its session.
    await asyncio.to_thread(publishing.wait_sent, len(sent) // 5)
    a.process.kill()
    a.process.wait()
    # B is stopped cleanly (scaled in): it leaves the group and ends its session.
    await asyncio.to_thread(publishing.wait_sent, 2 * len(sent) // 5)
    assert await asyncio.to_thread(b.stop, signal.SIGINT) == 0, b.log.read_text()
    assert "left group" in b.log.read_text()
    # C crashes too, and is replaced under the same client id, which resumes its session.
    await asyncio.to_thread(publishing.wait_sent, 3 * len(sent) // 5)
    c.process.kill()
    c.process.wait()
    await asyncio.sleep(1.0)  # nothing runs for a while: both sessions queue
    replacement = start("c")
    await asyncio.to_thread(replacement.wait_subscribed)
    await asyncio.to_thread(publishing.join)

    # A is not coming back: its session is drained by the documented command. Until
    # then its share waits at the broker.
    await asyncio.sleep(2.0)
    await eventually(lambda: _gone(db, ids["a"]), within=20)  # as --members shows it
    before_drain = await stored_count(database_url)
    assert before_drain < len(sent)
    drain = await asyncio.to_thread(_drain, env["c"], ids["a"])
    assert drain.returncode == 0, drain.stdout + drain.stderr

    await eventually(lambda: _reached(database_url, len(sent)), within=60)
    await asyncio.sleep(1.0)  # a fix stored twice would be a second row attempt by now
    got = await stored(database_url)
    count = await stored_count(database_url)
    print(f"\npublished {len(sent)}, stored {count} ({len(got)} distinct), of which "
          f"{count - before_drain} drained from the crashed ingester's session")
    assert count == len(sent)
    assert got == expected(sent)

    # Only the replacement's session is left, and B's and A's are ended at the broker.
    assert [m.client_id for m in await members.members(db, group)] == [ids["c"]]
    for gone in (ids["a"], ids["b"]):
        assert await asyncio.to_thread(_queued, mqtt_broker, gone) == 0
    # The last member keeps its session when it stops: the group never goes empty.
    assert await asyncio.to_thread(replacement.stop, signal.SIGTERM) == 0
    assert [m.client_id for m in await members.members(db, group)] == [ids["c"]]
    purge_session(mqtt_broker, ids["c"])


async def test_the_last_session_of_a_group_is_not_drained(
    db: Database, database_url: str, mqtt_broker: Mosquitto, tmp_path: Path,
    children: list[IngestProcess],
) -> None:
    """Draining the only session would leave the group with no subscriber, and the broker
    would drop what devices publish: the command refuses."""
    client = unique("ing-only")
    env = {**os.environ, "DATABASE_URL": database_url, "MQTT_URL": mqtt_broker.url,
           "KEYLINK_INGEST_GROUP": unique("g"), "KEYLINK_INGEST_METRICS_PORT": "0",
           "KEYLINK_LOG_FORMAT": "text", "KEYLINK_INGEST_CLIENT_ID": client}
    env.pop("REDIS_URL", None)
    only = IngestProcess(env, tmp_path / "ingest.log")
    children.append(only)
    await asyncio.to_thread(only.wait_subscribed)
    # Running: draining it would take its session from under it.
    drain = await asyncio.to_thread(_drain, env, client)
    assert drain.returncode == 1 and "stop it instead" in drain.stderr, drain.stderr
    # Stopped as the group's last member: its session queues for the next run.
    assert await asyncio.to_thread(only.stop, signal.SIGTERM) == 0
    assert "keeps its session" in only.log.read_text()
    drain = await asyncio.to_thread(_drain, env, client)
    assert drain.returncode == 1 and "only session" in drain.stderr, drain.stderr
    listed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "api.cli", "ingest", "--members"],
        env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and client in listed.stdout, listed.stderr
    purge_session(mqtt_broker, client)


def _drain(env: dict[str, str], client: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", "ingest", "--drain", client],
                          env=env, capture_output=True, text=True, timeout=120)


def _queued(broker: Mosquitto, client_id: str, seconds: float = 1.0) -> int:
    """How many messages the broker hands the session ``client_id`` on resuming it: 0
    for a session that was ended (a new, empty one is made, and ended again)."""
    got: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    client.connect(broker.host, broker.port, clean_start=False)
    client.loop_start()
    time.sleep(seconds)
    client.disconnect()
    client.loop_stop()
    return len(got)


async def _gone(db: Database, client: str) -> bool:
    return not await members.running(db, client)


async def _reached(url: str, n: int) -> bool:
    return await stored_count(url) >= n
