"""Ingest throughput: positions stored per second against the broker's raw rate.

    python -m bench.bench_ingest [--messages 20000] [--devices 100]

Starts an embedded PostgreSQL and Mosquitto with the project's config (or uses
DATABASE_URL / MQTT_URL), registers the devices, then measures in the same run:

- raw: the same broker delivering the same QoS 1 messages to a subscriber that does
  nothing (`mosquitto_sub`, in its own process), first publish to last delivery;
- stored: one `keylink ingest` process, first publish to the moment the last position
  is committed (rows counted in the database).

Prints both rates and their ratio (aim: the ingester at 0.8 of the raw rate or better).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from api.embedded import Postgres, free_port, mqtt_broker
from domain.db import Database
from domain.migrate import migrate
from settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"
TOPIC = "keylink/v1/devices/{code}/position"


def _payloads(devices: int, messages: int, hours_back: int) -> list[tuple[str, bytes]]:
    """Believable fixes: each device drives east at ~54 km/h, one fix a second, ending
    ``hours_back`` hours ago (distinct runs, so that none is a duplicate)."""
    per_device = messages // devices
    start = datetime.now(UTC) - timedelta(hours=hours_back, seconds=per_device + 60)
    out = []
    for i in range(per_device):
        ts = (start + timedelta(seconds=i)).isoformat()
        for d in range(devices):
            lat, lon = 31.0 + d * 0.01, 121.0 + i * 0.00016
            body = {"ts": ts, "lat": lat, "lon": lon, "speed_kmh": 54.0, "heading": 90,
                    "accuracy_m": 8}
            out.append((TOPIC.format(code=f"bench-{d:04d}"), json.dumps(body).encode()))
    return out


async def _register(url: str, devices: int) -> None:
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        await db.execute("DELETE FROM device WHERE code LIKE 'bench-%'")
        for d in range(devices):
            vehicle = await db.fetchval(
                "INSERT INTO vehicle (code, kind, name) VALUES ($1, 'truck', $1)"
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id",
                f"bench-truck-{d:04d}")
            await db.execute(
                "INSERT INTO device (code, kind, vehicle_id) VALUES ($1, 'gps_unit', $2)",
                f"bench-{d:04d}", vehicle)
    finally:
        await db.close()


def _client(name: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name,
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def _publish(host: str, port: int, payloads: list[tuple[str, bytes]]) -> float:
    """Publish every payload at QoS 1 as fast as the broker takes them; return the
    start time."""
    client = _client(f"bench-pub-{os.getpid()}")
    client.connect(host, port)
    client.loop_start()
    started = time.perf_counter()
    infos = [client.publish(topic, body, qos=1) for topic, body in payloads]
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()
    return started


def _raw_rate(host: str, port: int, payloads: list[tuple[str, bytes]]) -> float:
    """The broker's own rate: mosquitto_sub, a subscriber that does nothing but count,
    in a process of its own like the ingester."""
    binary = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
    sub = subprocess.Popen(
        [binary, "-h", host, "-p", str(port), "-q", "1", "-V", "mqttv5", "-C",
         str(len(payloads)), "-t", "keylink/v1/devices/+/position"],
        stdout=subprocess.DEVNULL)
    time.sleep(1)  # subscribed before the first publish
    started = _publish(host, port, payloads)
    try:
        sub.wait(300)
    except subprocess.TimeoutExpired:
        sub.kill()
        raise RuntimeError("the raw subscriber did not receive every message") from None
    return len(payloads) / (time.perf_counter() - started)


async def _stored_rate(url: str, host: str, port: int,
                       payloads: list[tuple[str, bytes]]) -> float:
    # Started once, before anything is timed.
    proc = _start_ingester(_ingest_env(url, host, port, "bench-ingest"))
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        await asyncio.sleep(3)  # subscribe before publishing: the session then queues
        before = await db.fetchval("SELECT count(*) FROM position")
        started = await asyncio.to_thread(_publish, host, port, payloads)
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            stored = await db.fetchval("SELECT count(*) FROM position") - before
            if stored >= len(payloads):
                return len(payloads) / (time.perf_counter() - started)
            if proc.poll() is not None:
                raise RuntimeError("the ingester exited")
            await asyncio.sleep(0.05)
        raise RuntimeError(f"only {stored} of {len(payloads)} positions were stored")
    finally:
        await db.close()
        proc.terminate()
        proc.wait(30)


def _raw_drain(host: str, port: int, payloads: list[tuple[str, bytes]]) -> float:
    """The broker draining a queued backlog to mosquitto_sub, timed by its own receipt
    stamps from the first message to the last."""
    binary = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
    session = [binary, "-h", host, "-p", str(port), "-q", "1", "-V", "mqttv5", "-c",
               "-x", "3600", "-i", "bench-raw-drain", "-t", "keylink/v1/devices/+/position"]
    subprocess.run([*session, "-E"], check=True, timeout=30)
    _publish(host, port, payloads)
    out = subprocess.run([*session, "-C", str(len(payloads)), "-F", "%U"], check=True,
                         capture_output=True, text=True, timeout=600).stdout.split()
    return (len(out) - 1) / (float(out[-1]) - float(out[0]))


async def _stored_drain(url: str, host: str, port: int,
                        payloads: list[tuple[str, bytes]]) -> float:
    """The ingester draining the same backlog: from its first commit to its last."""
    # The same client id as the live phase: a second session in the shared group would
    # be handed half of the backlog and keep it queued while it is offline.
    env = _ingest_env(url, host, port, "bench-ingest")
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        first = _start_ingester(env)
        await asyncio.sleep(3)  # the session and its subscriptions now exist
        first.terminate()
        await asyncio.to_thread(first.wait, 30)
        before = await db.fetchval("SELECT count(*) FROM position")
        await asyncio.to_thread(_publish, host, port, payloads)
        proc = _start_ingester(env)
        try:
            began: float | None = None
            deadline = time.perf_counter() + 120
            while time.perf_counter() < deadline:
                stored = await db.fetchval("SELECT count(*) FROM position") - before
                now = time.perf_counter()
                if stored and began is None:
                    began, at_start = now, stored
                if stored >= len(payloads) and began is not None:
                    return (stored - at_start) / max(now - began, 1e-3)
                await asyncio.sleep(0.02)
            reasons = await db.fetch(
                "SELECT reason, count(*) FROM rejected_message GROUP BY reason")
            raise RuntimeError(f"the ingester did not drain the backlog: {stored} stored,"
                               f" rejected {[tuple(r) for r in reasons]}")
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 30)
    finally:
        await db.close()


def _ingest_env(url: str, host: str, port: int, client_id: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "MQTT_URL": f"mqtt://{host}:{port}",
           "KEYLINK_LOG_LEVEL": "WARNING", "KEYLINK_INGEST_CLIENT_ID": client_id}
    env.pop("REDIS_URL", None)
    return env


def _start_ingester(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(Path(sys.executable).parent / "keylink"), "ingest"],
                            env=env, cwd=PROJECT_ROOT)


async def _run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="keylink-bench-ingest-") as tmp:
        root = Path(tmp)
        pg = None
        url = os.environ.get("DATABASE_URL")
        if not url:
            pg = Postgres(root / "pg")
            pg.start()
            url = pg.url
        broker = mqtt_broker(root / "mqtt", free_port(1883))
        broker.start()
        try:
            await migrate(url, PROJECT_ROOT / "domain" / "migrations")
            await _register(url, args.devices)
            payloads = _payloads(args.devices, args.messages, hours_back=2)
            raw = await asyncio.to_thread(_raw_rate, broker.host, broker.port, payloads)
            fresh = _payloads(args.devices, args.messages, hours_back=0)
            stored = await _stored_rate(url, broker.host, broker.port, fresh)
            raw_drain = await asyncio.to_thread(
                _raw_drain, broker.host, broker.port, _payloads(args.devices, args.messages, 4))
            stored_drain = await _stored_drain(
                url, broker.host, broker.port, _payloads(args.devices, args.messages, 6))
            return {"raw_per_s": raw, "stored_per_s": stored, "messages": len(payloads),
                    "raw_drain_per_s": raw_drain, "stored_drain_per_s": stored_drain}
        finally:
            broker.stop()
            if pg is not None:
                pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--devices", type=int, default=100)
    args = parser.parse_args()
    figures = asyncio.run(_run(args))
    ratio = figures["stored_per_s"] / figures["raw_per_s"]
    drain = figures["stored_drain_per_s"] / figures["raw_drain_per_s"]
    print(f"\n{figures['messages']:.0f} QoS 1 position messages from {args.devices} devices")
    print("live stream (paced by one publisher):")
    print(f"  raw broker -> idle subscriber : {figures['raw_per_s']:9.0f} msg/s")
    print(f"  published -> committed        : {figures['stored_per_s']:9.0f} msg/s")
    print(f"  ratio stored/raw: {ratio:.2f}  (aim: 0.80 or better)")
    print("queued backlog (the consumer's own pace):")
    print(f"  broker -> idle subscriber     : {figures['raw_drain_per_s']:9.0f} msg/s")
    print(f"  broker -> ingester, committed : {figures['stored_drain_per_s']:9.0f} msg/s")
    print(f"  ratio: {drain:.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(
        json.dumps({**figures, "ratio": ratio, "drain_ratio": drain}, indent=2))


if __name__ == "__main__":
    main()
