"""The ingester under faults: killed mid-stream, PostgreSQL restarted, Redis away.

Each publishes a stream of distinct fixes through the real broker and, after the fault,
compares what is stored with what was published: nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from api.embedded import Mosquitto, Postgres, Redis, free_port
from domain.db import Database
from domain.migrate import migrate
from domain.shipments.positions import latest_key, live_group
from tests.tracking.test_ingester import (
    eventually,
    ingesting,
    make_fleet,
    position,
    publisher,
    purge_session,
    settings_for,
    track,
    unique,
)
from tracking.ingester import REGISTRY

pytestmark = pytest.mark.slow

MIGRATIONS = Path(__file__).resolve().parents[2] / "domain" / "migrations"


def expected(messages: list[tuple[str, bytes]]) -> set[tuple[str, datetime]]:
    return {(topic.split("/")[3], datetime.fromisoformat(json.loads(body)["ts"]))
            for topic, body in messages}


async def stored(url: str) -> set[tuple[str, datetime]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT d.code, p.fix_time FROM position p JOIN device d ON d.id = p.device_id")
    finally:
        await conn.close()
    return {(r["code"], r["fix_time"]) for r in rows}


async def stored_count(url: str) -> int:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (OSError, asyncpg.PostgresError):
        return -1  # the server is down for the moment
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM position")
        return n
    finally:
        await conn.close()


def publish_in_background(broker: Mosquitto, messages: list[tuple[str, bytes]]) -> threading.Thread:
    def run() -> None:
        with publisher(broker) as p:
            p.publish(messages, timeout=300)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class IngestProcess:
    """`keylink ingest` as a child process, with its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "ingest"], env=env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_subscribed(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while "subscribed to" not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        return self.process.wait(60)


@pytest.fixture
def children() -> Iterator[list[IngestProcess]]:
    started: list[IngestProcess] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


async def test_an_ingester_killed_mid_stream_loses_and_repeats_nothing(
    db: Database, database_url: str, mqtt_broker: Mosquitto, tmp_path: Path,
    children: list[IngestProcess],
) -> None:
    await make_fleet(db, trucks=20)
    sent = [m for device in range(20) for m in track(device, 1000)]
    client = unique("ing-kill")
    env = {**os.environ, "DATABASE_URL": database_url, "MQTT_URL": mqtt_broker.url,
           "KEYLINK_INGEST_GROUP": unique("g"), "KEYLINK_INGEST_CLIENT_ID": client,
           "KEYLINK_INGEST_METRICS_PORT": "0", "KEYLINK_LOG_FORMAT": "text"}
    env.pop("REDIS_URL", None)
    log = tmp_path / "ingest.log"
    children.append(IngestProcess(env, log))
    children[-1].wait_subscribed()
    started = time.monotonic()
    publishing = publish_in_background(mqtt_broker, sent)
    await eventually(lambda: _reached(database_url, 4000), within=120)
    children[-1].process.kill()  # SIGKILL: no goodbye, batches in flight unacknowledged
    children[-1].process.wait()
    killed_at = await stored_count(database_url)

    children.append(IngestProcess(env, log))
    await eventually(lambda: _reached(database_url, len(sent)), within=180)
    elapsed = time.monotonic() - started
    await asyncio.to_thread(publishing.join, 60)
    await asyncio.sleep(1)  # a repeat would be a second row attempt; let it happen if any
    got = await stored(database_url)
    assert len(got) == len(sent) and got == expected(sent)
    assert await stored_count(database_url) == len(sent)
    assert children[-1].stop(signal.SIGTERM) == 0, log.read_text()
    purge_session(mqtt_broker, client)
    print(f"\n{len(sent)} messages stored in {elapsed:.1f}s ({len(sent) / elapsed:.0f}/s), "
          f"killed after {killed_at}")


async def test_a_stopped_ingester_acknowledges_all_it_stored(
    db: Database, database_url: str, mqtt_broker: Mosquitto, tmp_path: Path,
    children: list[IngestProcess],
) -> None:
    """SIGTERM: the batch under way is committed and acknowledged, the process exits 0,
    and the next run (same client id) stores the rest: every message exactly once."""
    await make_fleet(db, trucks=5)
    sent = [m for device in range(5) for m in track(device, 1000)]
    # What is published after the stop waits in the session for the next run, however
    # quickly the first one kept up with the stream.
    during, after = sent[:4000], sent[4000:]
    client = unique("ing-term")
    env = {**os.environ, "DATABASE_URL": database_url, "MQTT_URL": mqtt_broker.url,
           "KEYLINK_INGEST_GROUP": unique("g"), "KEYLINK_INGEST_CLIENT_ID": client,
           "KEYLINK_LOG_FORMAT": "text", "KEYLINK_INGEST_METRICS_PORT": "0"}
    env.pop("REDIS_URL", None)
    log = tmp_path / "ingest.log"
    children.append(IngestProcess(env, log))
    children[-1].wait_subscribed()
    publishing = publish_in_background(mqtt_broker, during)
    await eventually(lambda: _reached(database_url, 1000), within=60)
    assert await asyncio.to_thread(children[-1].stop, signal.SIGTERM) == 0, log.read_text()
    await asyncio.to_thread(publishing.join, 60)
    with publisher(mqtt_broker) as p:
        await asyncio.to_thread(p.publish, after)

    port = free_port(0)
    children.append(IngestProcess({**env, "KEYLINK_INGEST_METRICS_PORT": str(port)}, log))
    await eventually(lambda: _reached(database_url, len(sent)), within=120)
    assert await stored(database_url) == expected(sent)
    metrics = await asyncio.to_thread(_scrape, port)
    assert 'keylink_ingest_messages_total{outcome="stored",reason=""}' in metrics
    assert await asyncio.to_thread(children[-1].stop, signal.SIGTERM) == 0
    purge_session(mqtt_broker, client)


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text: str = r.read().decode()
        return text


async def _reached(url: str, n: int) -> bool:
    return await stored_count(url) >= n


async def test_postgres_restarted_mid_stream_loses_nothing(
    state_dir: Path, mqtt_broker: Mosquitto,
) -> None:
    server = Postgres(state_dir / "pg")
    await asyncio.to_thread(server.start)
    try:
        url = server.url
        await migrate(url, MIGRATIONS)
        db = await Database.connect(url, min_size=1, max_size=2)
        try:
            await make_fleet(db, trucks=5)
        finally:
            await db.close()
        sent = [m for device in range(5) for m in track(device, 1000)]
        settings = settings_for(url, None, mqtt_broker, group=unique("g"),
                                client=unique("ing-pg"), ingest_batch_size=100)
        async with ingesting(settings, mqtt_broker):
            publishing = publish_in_background(mqtt_broker, sent)
            await eventually(lambda: _reached(url, 1000), within=60)
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(3)  # batches keep arriving; none may be acknowledged
            server = Postgres(state_dir / "pg")
            await asyncio.to_thread(server.start)
            await eventually(lambda: _reached(url, len(sent)), within=120)
            await asyncio.to_thread(publishing.join, 60)
        assert await stored(url) == expected(sent)
        retries = REGISTRY.get_sample_value("keylink_ingest_retries_total")
        assert retries is not None and retries > 0
    finally:
        await asyncio.to_thread(server.stop)


async def test_redis_away_does_not_stop_storage_and_live_updates_resume(
    db: Database, database_url: str, mqtt_broker: Mosquitto, tmp_path: Path,
) -> None:
    fleet = await make_fleet(db, trucks=2)
    port = free_port(0)
    server = Redis(tmp_path / "redis", port)
    await asyncio.to_thread(server.start)
    whole = track(0, 1800)
    # Some are published only once Redis is away: however fast the ingester is, it
    # then has live updates to fail.
    first, during = whole[:1500], whole[1500:]
    resume = datetime.fromisoformat(json.loads(whole[-1][1])["ts"]) + timedelta(seconds=1)
    later = [("keylink/v1/devices/GPS-0/position",  # where the track goes on
              position(resume + timedelta(seconds=i), 20.18 + i * 0.0001, 20.0))
             for i in range(10)]
    errors = REGISTRY.get_sample_value("keylink_live_errors_total") or 0.0
    settings = settings_for(database_url, server.url, mqtt_broker, group=unique("g"),
                            client=unique("ing-redis"), ingest_batch_size=100)
    redis = aioredis.Redis.from_url(server.url)
    try:
        async with ingesting(settings, mqtt_broker):
            publishing = publish_in_background(mqtt_broker, first)
            await eventually(lambda: _reached(database_url, 300), within=60)
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(publishing.join, 60)
            with publisher(mqtt_broker) as p:
                await asyncio.to_thread(p.publish, during)
            await eventually(lambda: _reached(database_url, len(whole)), within=60)
            assert (REGISTRY.get_sample_value("keylink_live_errors_total") or 0) > errors

            server = Redis(tmp_path / "redis", port)
            await asyncio.to_thread(server.start)
            await asyncio.sleep(2.5)  # past the live state's back-off
            with publisher(mqtt_broker) as p:
                await asyncio.to_thread(p.publish, later)
            newest = json.loads(later[-1][1])["ts"]
            await eventually(lambda: _live_at(redis, fleet.trucks[0], newest), within=30)
        assert await stored(database_url) == expected(whole + later)
    finally:
        await redis.aclose()
        await asyncio.to_thread(server.stop)


async def _live_at(redis: aioredis.Redis, vehicle_id: int, fix_time: str) -> bool:
    raw = await redis.hget(latest_key(live_group(vehicle_id)), str(vehicle_id))
    return raw is not None and datetime.fromisoformat(json.loads(raw)["fix_time"]) == \
        datetime.fromisoformat(fix_time)


def test_a_connection_left_mid_operation_is_retried_not_fatal() -> None:
    import asyncpg

    from tracking.pipeline import is_transient

    assert is_transient(asyncpg.exceptions.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"))
    assert not is_transient(ValueError("a bug"))
