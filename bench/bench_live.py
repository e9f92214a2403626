"""Live delivery: publish-to-subscriber latency, and how many subscriptions one API holds.

    python -m bench.bench_live [--seconds 10] [--rate 2000] [--subscribers 200]

Runs the real system in separate processes: embedded PostgreSQL, Redis and Mosquitto,
one `keylink ingest` and one `keylink serve`. Sets up 200 trucks, each carrying one
shipment under way; a publishing process sends their GPS fixes over MQTT (each fix time
is its publish time) while this process holds GraphQL `shipmentPositions` subscriptions
over graphql-transport-ws, one WebSocket each, measuring fix time to delivery.

Each round opens its subscriptions and waits until every one has sent its first answer
(the last known state) before publishing, so the figures are of delivery, not set-up.

1. latency: `--subscribers` subscriptions (one per shipment), fixes at `--rate` per
   second: p50 / p99 (aim: p99 under 250 ms);
2. capacity: more and more subscriptions spread over the shipments, fixes at one per
   truck per second: the most that one API process holds with p99 delivery under one
   second (aim: 2,000 or more).

The baseline beside each figure is the broker alone: the same fixes delivered to an
idle MQTT subscriber (a process of its own), measured in the same run. The CPU time the
API and the ingester spend per delivery and per fix is reported too: unlike latency, it
does not drift with whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import websockets

import demo
from api.auth import TokenCodec
from api.embedded import Postgres, Redis, free_port, mqtt_broker
from domain.db import Database
from domain.migrate import migrate
from domain.shipments.manifest import LegInput, create_shipment
from resolvers.relay import to_global_id
from settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"
TRUCKS = 200
SUB = """subscription($id: ID!) { shipmentPositions(shipmentId: $id) {
    position { fixTime latitude longitude } } }"""


async def _setup(url: str) -> list[int]:
    """200 trucks with GPS units, each carrying one shipment of an FAW-VW coil, under way."""
    await migrate(url, PROJECT_ROOT / "domain" / "migrations")
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        if not await demo.is_seeded(db):
            await demo.seed(db, contracts=20)
        org = await db.fetchval("SELECT id FROM organization WHERE code = 'FAW-VW'")
        line = await db.fetchval("SELECT id FROM contract_line WHERE customer_org_id = $1"
                                 " ORDER BY id LIMIT 1", org)
        heat = await db.fetchval("SELECT id FROM heat ORDER BY id LIMIT 1")
        origin, destination = [r["id"] for r in await db.fetch(
            "SELECT id FROM site WHERE kind IN ('plant', 'rail_station') ORDER BY kind, id"
            " LIMIT 2")]
        now = datetime.now(UTC)
        shipments = []
        async with db.transaction() as tx:
            for t in range(TRUCKS):
                vehicle = await tx.fetchval(
                    "INSERT INTO vehicle (code, kind, name) VALUES ($1, 'truck', $1) RETURNING id",
                    f"bench-truck-{t:03d}")
                await tx.execute("INSERT INTO device (code, kind, vehicle_id)"
                                 " VALUES ($1, 'gps_unit', $2)", f"bench-gps-{t:03d}", vehicle)
                coil = await tx.fetchval(
                    "INSERT INTO coil (coil_no, kind, heat_id, line_id, customer_org_id,"
                    " thickness_mm, width_mm, weight_kg, produced_at) VALUES ($1, 'cold_rolled',"
                    " $2, $3, $4, 0.8, 1250, 12000, $5) RETURNING id",
                    f"BENCH{t:06d}", heat, line, org, now - timedelta(days=3))
                created = await create_shipment(tx, f"BENCH-SH-{t:03d}", [LegInput(
                    "road", origin, destination, now - timedelta(hours=1),
                    now + timedelta(hours=6), vehicle_id=vehicle, coil_ids=[coil])])
                await tx.execute("UPDATE shipment_leg SET status = 'in_transit',"
                                 " actual_departure = $2 WHERE id = $1",
                                 created.leg_ids[0], now - timedelta(hours=1))
                await tx.execute("UPDATE shipment SET status = 'in_transit' WHERE id = $1",
                                 created.id)
                shipments.append(created.id)
        return shipments
    finally:
        await db.close()


class Publisher:
    """Publishes each truck's fixes along a straight road at a steady total rate; each
    fix's time is the moment it is published."""

    def __init__(self, host: str, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"bench-live-pub-{os.getpid()}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(2000)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port)
        self.client.loop_start()
        self.step = [0] * TRUCKS

    def run(self, rate: float, seconds: float) -> int:
        """Publishes ``rate * seconds`` fixes over ``seconds``; returns how many."""
        sent, started, total = 0, time.perf_counter(), round(rate * seconds)
        while sent < total:
            elapsed = time.perf_counter() - started
            due = min(int(elapsed * rate), total)
            while sent < due:
                truck = sent % TRUCKS
                self.step[truck] += 1
                fix = {"ts": datetime.now(UTC).isoformat(), "lat": 32.0 + truck * 0.01,
                       "lon": 119.0 + self.step[truck] * 0.00002, "speed_kmh": 60.0,
                       "heading": 90.0, "accuracy_m": 5.0}
                self.client.publish(f"keylink/v1/devices/bench-gps-{truck:03d}/position",
                                    json.dumps(fix), qos=1)
                sent += 1
            time.sleep(0.002)
        return sent

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class BrokerBaseline:
    """An idle MQTT subscriber in this process: the broker's own delivery latency."""

    def __init__(self, host: str, port: int) -> None:
        self.latencies: list[float] = []
        self.measuring = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.subscribe("keylink/v1/devices/+/position", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.measuring:
            sent = datetime.fromisoformat(json.loads(msg.payload)["ts"])
            self.latencies.append((datetime.now(UTC) - sent).total_seconds())

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _publisher_main(host: str, port: int, conn: Connection) -> None:
    """A process of its own: runs (rate, seconds) publishing rounds until told None."""
    publisher = Publisher(host, port)
    try:
        while (job := conn.recv()) is not None:
            conn.send(publisher.run(*job))
    finally:
        publisher.close()


def _baseline_main(host: str, port: int, conn: Connection) -> None:
    """A process of its own: measures between "start" and "stop", sends the latencies."""
    baseline = BrokerBaseline(host, port)
    try:
        while (command := conn.recv()) is not None:
            if command == "start":
                baseline.latencies.clear()
                baseline.measuring = True
            else:
                baseline.measuring = False
                conn.send(baseline.latencies)
    finally:
        baseline.close()


class Helper:
    """A load-generating process, so that neither publishing nor the broker's baseline
    competes for this process's interpreter with the subscribers it measures."""

    def __init__(self, target: Any, host: str, port: int) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=target, args=(host, port, child), daemon=True)
        self._process.start()

    def send(self, message: Any) -> None:
        self._conn.send(message)

    async def ask(self, message: Any) -> Any:
        self._conn.send(message)
        return await asyncio.to_thread(self._conn.recv)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


async def _subscriber(url: str, token: str, shipment: str, since: list[datetime],
                      latencies: list[float], ready: asyncio.Event, opened: list[int],
                      goal: int, opening: asyncio.Semaphore) -> None:
    # A few hundred set-ups at a time: thousands of handshakes at once overflow the
    # listen backlog, and the refused ones wait out TCP's retry back-off (live pages
    # reconnect with back-off and jitter too).
    await opening.acquire()
    setting_up = True
    try:
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"],
                                      max_queue=None, open_timeout=60) as ws:
            await ws.send(json.dumps({"type": "connection_init",
                                      "payload": {"Authorization": f"Bearer {token}"}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                "query": SUB, "variables": {"id": shipment}}}))
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") != "next" or "data" not in msg["payload"]:
                    continue
                if setting_up:  # the last known state: the subscription is under way
                    setting_up = False
                    opening.release()
                    opened[0] += 1
                    if opened[0] >= goal:
                        ready.set()
                fix = datetime.fromisoformat(
                    msg["payload"]["data"]["shipmentPositions"]["position"]["fixTime"])
                if fix >= since[0]:
                    latencies.append((datetime.now(UTC) - fix).total_seconds())
    finally:
        if setting_up:
            opening.release()


async def _redis_listener(url: str, since: list[datetime], latencies: list[float]) -> None:
    """Fix time to the ingester's publish on Redis: the ingester's share of the latency."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.subscribe("vehicles")
    try:
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is None:
                continue
            body = json.loads(msg["data"])
            if body.get("type") == "position":
                fix = datetime.fromisoformat(body["fix_time"])
                if fix >= since[0]:
                    latencies.append((datetime.now(UTC) - fix).total_seconds())
    finally:
        await pubsub.aclose()
        await client.aclose()


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"deliveries": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    ordered = sorted(latencies)
    return {"deliveries": len(ordered), "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]}


async def _round(ws_url: str, redis_url: str, token: str, shipments: list[str], count: int,
                 publisher: Helper, baseline: Helper, rate: float,
                 seconds: float, pids: dict[str, int]) -> dict[str, Any]:
    since = [datetime.now(UTC) + timedelta(days=1)]
    latencies: list[float] = []
    stored: list[float] = []
    ready, opened = asyncio.Event(), [0]
    opening = asyncio.Semaphore(256)
    tasks = [asyncio.create_task(_subscriber(ws_url, token, shipments[i % len(shipments)],
                                             since, latencies, ready, opened, count, opening))
             for i in range(count)]
    tasks.append(asyncio.create_task(_redis_listener(redis_url, since, stored)))
    try:
        try:
            await asyncio.wait_for(ready.wait(), 120)
        except TimeoutError:
            # Not even set up in two minutes: this process holds no more than that.
            return {"subscribers": count, "started": opened[0], "published": 0,
                    **_percentiles([]), "broker": _percentiles([]),
                    "ingested": _percentiles([]), "cpu_s": {}}
        await asyncio.sleep(1)
        since[0] = datetime.now(UTC)
        baseline.send("start")
        cpu = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        sent = await publisher.ask((rate, seconds))
        await asyncio.sleep(2)  # let the last deliveries land
        broker = await baseline.ask("stop")
        cpu = {name: _cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
        return {"subscribers": count, "published": sent, **_percentiles(latencies),
                "broker": _percentiles(broker), "ingested": _percentiles(stored),
                "cpu_s": cpu}
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not become ready")


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="keylink-bench-live-") as tmp:
        root = Path(tmp)
        pg, redis = Postgres(root / "pg"), Redis(root / "redis", free_port(6379))
        broker = mqtt_broker(root / "mqtt", free_port(1883))
        for server in (pg, redis, broker):
            server.start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            shipments = [to_global_id("Shipment", s) for s in await _setup(pg.url)]
            secret, port = secrets.token_hex(32), free_port(8000)
            # Thousands of sockets from one address and one token, by design: no caps.
            env = {**os.environ, "DATABASE_URL": pg.url, "REDIS_URL": redis.url,
                   "MQTT_URL": broker.url, "KEYLINK_JWT_SECRET": secret,
                   "KEYLINK_PORT": str(port), "KEYLINK_LOG_LEVEL": "WARNING",
                   "KEYLINK_INGEST_METRICS_PORT": "0", "KEYLINK_RATE_LIMIT_PER_MINUTE": "0",
                   "KEYLINK_SOCKET_RATE_PER_MINUTE": "0", "KEYLINK_WS_MAX_PER_ADDRESS": "0"}
            keylink = str(Path(sys.executable).parent / "keylink")
            procs = [subprocess.Popen([keylink, cmd], env=env, cwd=PROJECT_ROOT)  # noqa: ASYNC220
                     for cmd in ("serve", "ingest")]
            await _wait_ready(f"http://127.0.0.1:{port}")
            token = TokenCodec.from_settings(Settings(jwt_secret=secret)).issue(
                org="BAOSTEEL", roles=["logistics"], subject="bench", ttl_seconds=3600)
            ws_url = f"ws://127.0.0.1:{port}/graphql"
            publisher = Helper(_publisher_main, broker.host, broker.port)
            baseline = Helper(_baseline_main, broker.host, broker.port)
            await asyncio.sleep(2)  # the ingester has subscribed
            # One fix per truck first: each subscription then starts with a last known
            # state, and is counted as under way once that has arrived.
            await publisher.ask((TRUCKS, 1.0))
            await asyncio.sleep(2)
            try:
                pids = {"serve": procs[0].pid, "ingest": procs[1].pid}
                latency = await _round(ws_url, redis.url, token, shipments, args.subscribers,
                                       publisher, baseline, args.rate, args.seconds, pids)
                capacity = []
                for count in args.capacity:
                    capacity.append(await _round(ws_url, redis.url, token, shipments, count,
                                                 publisher, baseline, TRUCKS, args.seconds,
                                                 pids))
                    if not capacity[-1]["p99_ms"] < 1000:  # NaN when none were delivered
                        break
            finally:
                publisher.close()
                baseline.close()
            return {"latency": latency, "capacity": capacity}
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)
            for server in (broker, redis, pg):
                server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--capacity", type=int, nargs="+",
                        default=[500, 1000, 2000, 3000, 4000, 5000, 6000])
    args = parser.parse_args()
    figures = asyncio.run(_run(args))
    lat = figures["latency"]
    print(f"\nlatency: {lat['subscribers']} subscriptions, {lat['published']} fixes at"
          f" {args.rate:.0f}/s, {lat['deliveries']} deliveries")
    print(f"  GraphQL subscription  p50 {lat['p50_ms']:7.1f} ms   p99 {lat['p99_ms']:7.1f} ms"
          "   (aim: p99 under 250 ms)")
    for name, key in (("broker alone", "broker"), ("stored, on Redis", "ingested")):
        print(f"  {name:21} p50 {lat[key]['p50_ms']:7.1f} ms   p99 {lat[key]['p99_ms']:7.1f} ms")
    # CPU per message does not drift with the machine's load as latency does.
    done = {"serve": lat["deliveries"], "ingest": lat["ingested"]["deliveries"]}
    per = {k: 1000 * v / max(done[k], 1) for k, v in lat["cpu_s"].items()}
    print(f"  CPU: API {per['serve']:.2f} ms a delivery, ingester {per['ingest']:.2f} ms a fix"
          f" ({lat['cpu_s']['serve']:.1f} s and {lat['cpu_s']['ingest']:.1f} s of"
          f" {args.seconds:.0f} s; this machine has {os.cpu_count()} cores)")
    print(f"capacity: fixes at {TRUCKS}/s spread over {TRUCKS} shipments")
    held = 0
    for r in figures["capacity"]:
        if "started" in r:
            print(f"  {r['subscribers']:5d} subscriptions  only {r['started']} set up"
                  " within two minutes")
            continue
        print(f"  {r['subscribers']:5d} subscriptions  p50 {r['p50_ms']:7.1f} ms"
              f"   p99 {r['p99_ms']:7.1f} ms   ({r['deliveries']} deliveries)")
        if r["p99_ms"] < 1000 and r["deliveries"]:
            held = r["subscribers"]
    print(f"  held with p99 under one second: {held}  (aim: 2,000 or more)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "live.json").write_text(json.dumps({**figures, "held": held}, indent=2))


if __name__ == "__main__":
    main()
