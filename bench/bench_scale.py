"""Scaling out: the live benchmark with 1, 2 and 3 ingesters and 1 and 2 API workers.

    python -m bench.bench_scale [--seconds 10] [--rate 1000] [--subscribers 200]
    python -m bench.bench_scale --quick      # a smoke test: two configurations, 3 s each

Runs the real system in separate processes, as `bench/bench_live.py` does (embedded
PostgreSQL, Redis and Mosquitto with the project's broker config, 200 trucks each
carrying a shipment under way), but with several `keylink ingest` sharing the broker's
subscription group and `keylink serve --workers N`. For each configuration:

- every fix published is counted stored (rows in `position`): stored/published must
  be 1.0;
- each subscriber (one `shipmentPositions` subscription per shipment, opened on
  whichever worker the kernel hands the connection to) counts what it received of its
  truck's fixes: delivered/stored must be 1.0 for every one of them, each fix once and
  in fix-time order (the worst subscriber is printed);
- fix-to-subscriber latency p50/p99 at `--rate` fixes a second;
- throughput: fixes published as fast as the publisher can for `--seconds`, and the
  rate at which they were stored, so that what each ingester adds shows.

The baseline in the same run is the first configuration (one ingester, one worker):
every other prints its ratio to it. CPU time of the ingesters and the API per fix
stored and per delivery is printed too: it does not drift with the machine's load as
latency does. Results go to bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import websockets
from websockets.typing import Subprotocol

from api.auth import TokenCodec
from api.embedded import Postgres, Redis, free_port, mqtt_broker
from bench.bench_live import SUB, TRUCKS, Helper, _publisher_main, _setup, _wait_ready
from domain.db import Database
from resolvers.relay import to_global_id
from settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"
CONFIGURATIONS = ((1, 1), (2, 1), (3, 1), (1, 2), (3, 2))


@dataclass
class Received:
    """What one subscriber got of its truck's fixes after the round began."""

    fixes: list[datetime] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


async def _subscriber(url: str, token: str, shipment: str, since: list[datetime],
                      got: Received, ready: asyncio.Event, opened: list[int],
                      goal: int) -> None:
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")],
                                  max_queue=None, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUB, "variables": {"id": shipment}}}))
        first = True
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") != "next" or "data" not in msg["payload"]:
                continue
            if first:  # the last known state: the subscription is under way
                first = False
                opened[0] += 1
                if opened[0] >= goal:
                    ready.set()
                continue
            fix = datetime.fromisoformat(
                msg["payload"]["data"]["shipmentPositions"]["position"]["fixTime"])
            if fix >= since[0]:
                got.fixes.append(fix)
                got.latencies.append((datetime.now(UTC) - fix).total_seconds())


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of processes and their children that have exited (Linux)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def _family(pid: int) -> list[int]:
    """A process and its children (uvicorn's workers)."""
    out = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out += _family(int(child))
    return out


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    ordered = sorted(values)
    return {"p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]}


async def _stored(db: Database, since: datetime) -> dict[int, int]:
    rows = await db.fetch("SELECT v.code, count(*) AS n FROM position p JOIN vehicle v"
                          " ON v.id = p.vehicle_id WHERE p.fix_time >= $1"
                          " AND v.code LIKE 'bench-truck-%' GROUP BY v.code", since)
    return {int(r["code"].rsplit("-", 1)[1]): r["n"] for r in rows}


async def _settle(db: Database, since: datetime, published: int, *, wait: float = 60.0,
                  ) -> tuple[dict[int, int], float]:
    """Waits until every published fix is stored (or nothing more arrives for a few
    seconds); returns what is stored per truck and when the last one was."""
    started = time.perf_counter()
    last_total, last_change = -1, time.perf_counter()
    while True:
        stored = await _stored(db, since)
        total = sum(stored.values())
        now = time.perf_counter()
        if total != last_total:
            last_total, last_change = total, now
        if total >= published or now - last_change > 5 or now - started > wait:
            return stored, last_change
        await asyncio.sleep(0.1)


class System:
    """PostgreSQL, Redis and Mosquitto, with ``ingesters`` ingesters and an API of
    ``workers`` workers started and stopped around each configuration."""

    def __init__(self, root: Path) -> None:
        self.pg = Postgres(root / "pg")
        self.redis = Redis(root / "redis", free_port(6379))
        self.broker = mqtt_broker(root / "mqtt", free_port(1883))
        self.secret = secrets.token_hex(32)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = 0

    def start_servers(self) -> None:
        for server in (self.pg, self.redis, self.broker):
            server.start()

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url,
                "MQTT_URL": self.broker.url, "KEYLINK_JWT_SECRET": self.secret,
                "KEYLINK_PORT": str(self.port), "KEYLINK_LOG_LEVEL": "WARNING",
                "KEYLINK_INGEST_METRICS_PORT": "0", "KEYLINK_RATE_LIMIT_PER_MINUTE": "0",
                "KEYLINK_SOCKET_RATE_PER_MINUTE": "0", "KEYLINK_WS_MAX_PER_ADDRESS": "0"}

    async def start(self, ingesters: int, workers: int) -> tuple[list[int], int]:
        self.port = free_port(8000)
        keylink = str(Path(sys.executable).parent / "keylink")
        serve = subprocess.Popen([keylink, "serve", "--workers", str(workers)],  # noqa: ASYNC220
                                 env=self.env(), cwd=PROJECT_ROOT)
        ingest = [subprocess.Popen([keylink, "ingest"], cwd=PROJECT_ROOT,  # noqa: ASYNC220
                                   env={**self.env(), "KEYLINK_INGEST_INSTANCE": str(n)})
                  for n in range(ingesters)]
        # Stopped in reverse: the others leave the group and drain, and the first, which
        # every configuration runs, stops last and keeps the group's session.
        self.procs = [*reversed(ingest), serve]
        await _wait_ready(f"http://127.0.0.1:{self.port}")
        await asyncio.sleep(2)  # the ingesters have joined the group
        return [p.pid for p in ingest], serve.pid

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []

    def close(self) -> None:
        self.stop()
        for server in (self.broker, self.redis, self.pg):
            server.stop()


async def _configuration(system: System, db: Database, shipments: list[str],
                         ingesters: int, workers: int, args: argparse.Namespace,
                         ) -> dict[str, Any]:
    ingest_pids, serve_pid = await system.start(ingesters, workers)
    publisher = Helper(_publisher_main, system.broker.host, system.broker.port)
    tasks: list[asyncio.Task[None]] = []
    try:
        token = TokenCodec.from_settings(Settings(jwt_secret=system.secret)).issue(
            org="BAOSTEEL", roles=["logistics"], subject="bench", ttl_seconds=3600)
        await publisher.ask((TRUCKS, 1.0))  # a last known state for every shipment
        await asyncio.sleep(2)
        since = [datetime.now(UTC) + timedelta(days=1)]
        got = [Received() for _ in shipments]
        ready, opened = asyncio.Event(), [0]
        ws_url = f"ws://127.0.0.1:{system.port}/graphql"
        tasks = [asyncio.create_task(_subscriber(ws_url, token, s, since, got[n], ready,
                                                 opened, len(shipments)))
                 for n, s in enumerate(shipments)]
        await asyncio.wait_for(ready.wait(), 120)
        await asyncio.sleep(1)
        # Delivery at a steady rate.
        since[0] = datetime.now(UTC)
        family = _family(serve_pid)
        cpu_api, cpu_ingest = _cpu_seconds(family), _cpu_seconds(ingest_pids)
        published = await publisher.ask((args.rate, args.seconds))
        stored, _ = await _settle(db, since[0], published)
        await asyncio.sleep(2)  # the last deliveries land
        cpu_api, cpu_ingest = (_cpu_seconds(family) - cpu_api,
                               _cpu_seconds(ingest_pids) - cpu_ingest)
        total = sum(stored.values())
        ratios, disorder, repeats = [], 0, 0
        latencies: list[float] = []
        for n, g in enumerate(got):
            truck = n % TRUCKS
            ratios.append(len(g.fixes) / stored[truck] if stored.get(truck) else 0.0)
            disorder += sum(1 for a, b in zip(g.fixes, g.fixes[1:], strict=False) if b < a)
            repeats += len(g.fixes) - len(set(g.fixes))
            latencies += g.latencies
        # Throughput: as fast as the publisher goes.
        flood_since = datetime.now(UTC)
        began = time.perf_counter()
        flooded = await publisher.ask((args.flood_rate, args.seconds))
        flood_stored, last = await _settle(db, flood_since, flooded, wait=120)
        flood_total = sum(flood_stored.values())
        return {
            "ingesters": ingesters, "workers": workers, "published": published,
            "stored": total, "stored_ratio": total / published if published else 0.0,
            "delivered_ratio_min": min(ratios), "delivered_ratio_max": max(ratios),
            "out_of_order": disorder, "repeated": repeats,
            "deliveries": len(latencies), **_percentiles(latencies),
            "cpu_ms_per_fix_ingest": 1000 * cpu_ingest / max(total, 1),
            "cpu_ms_per_delivery_api": 1000 * cpu_api / max(len(latencies), 1),
            "flood_published": flooded, "flood_stored": flood_total,
            "stored_per_s": flood_total / max(last - began, 1e-9),
        }
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        publisher.close()
        system.stop()


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="keylink-bench-scale-") as tmp:
        system = System(Path(tmp))
        system.start_servers()
        try:
            shipments = [str(to_global_id("Shipment", s)) for s in await _setup(system.pg.url)]
            shipments = shipments[:args.subscribers]
            db = await Database.connect(system.pg.url, min_size=1, max_size=2)
            try:
                out = []
                for ingesters, workers in args.configurations:
                    r = await _configuration(system, db, shipments, ingesters, workers, args)
                    out.append(r)
                    _print(r, out[0])
                return out
            finally:
                await db.close()
        finally:
            system.close()


def _print(r: dict[str, Any], base: dict[str, Any]) -> None:
    ratio = r["stored_per_s"] / base["stored_per_s"] if base["stored_per_s"] else float("nan")
    print(f"{r['ingesters']} ingester(s), {r['workers']} worker(s): stored/published "
          f"{r['stored']}/{r['published']} = {r['stored_ratio']:.3f}; delivered/stored per "
          f"subscriber {r['delivered_ratio_min']:.3f}..{r['delivered_ratio_max']:.3f} "
          f"(out of order {r['out_of_order']}, repeated {r['repeated']}); fix to subscriber "
          f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; flood: "
          f"{r['flood_stored']}/{r['flood_published']} stored at {r['stored_per_s']:,.0f}/s "
          f"({ratio:.2f}x one ingester, one worker); CPU "
          f"{r['cpu_ms_per_fix_ingest']:.2f} ms a fix (ingesters), "
          f"{r['cpu_ms_per_delivery_api']:.2f} ms a delivery (API)", flush=True)


def _configuration_arg(text: str) -> tuple[int, int]:
    ingesters, _, workers = text.partition("x")
    return int(ingesters), int(workers or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="fixes a second for the delivery figures")
    parser.add_argument("--flood-rate", type=float, default=20_000.0,
                        help="fixes a second asked of the publisher for the throughput")
    parser.add_argument("--subscribers", type=int, default=TRUCKS)
    parser.add_argument("--configurations", type=_configuration_arg, nargs="+",
                        default=list(CONFIGURATIONS),
                        help="INGESTERSxWORKERS, e.g. 1x1 2x1 3x2")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.configurations = 3.0, [(1, 1), (2, 2)]
    figures = asyncio.run(_run(args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
