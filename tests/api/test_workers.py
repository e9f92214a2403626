"""`keylink serve --workers 2`, run as an operator runs it: one port, two processes, each
serving subscriptions fed by the live bus (Redis) and by the outbox (LISTEN), metrics
that add up both, and SIGTERM or Ctrl-C stopping them all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.typing import Subprotocol

from api.embedded import free_port
from domain import events
from domain.db import Database
from settings import PROJECT_ROOT, Settings
from tests.support.api import MILL_ROLES, SECRET, token
from tests.support.factory import build
from tests.support.shipments import NOW, build_tracking
from tracking.live import Live, LivePosition
from tracking.model import Fix, Source

SETTING_VARS = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
EVENTS = "subscription($after: Int) { events(after: $after) { seq eventType } }"
FLEET = "subscription { vehiclePositions { position { latitude } vehicle { code } } }"


@dataclass
class Serving:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://") + "/graphql"


def spawn(folder: Path, database_url: str, redis_url: str | None, *, workers: int = 2,
          **settings: str) -> Serving:
    """Starts `keylink serve --workers N` in a session of its own (as a terminal would:
    Ctrl-C reaches the whole group), with ``settings`` added to its environment."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_VARS}
    port = free_port(0)
    env.update(DATABASE_URL=database_url, KEYLINK_JWT_SECRET=SECRET,
               KEYLINK_HOST="127.0.0.1", KEYLINK_PORT=str(port),
               KEYLINK_LOG_FORMAT="text", KEYLINK_STATE_DIR=str(folder / "state"),
               KEYLINK_RATE_LIMIT_PER_MINUTE="0", KEYLINK_SOCKET_RATE_PER_MINUTE="0",
               **({"REDIS_URL": redis_url} if redis_url else {}), **settings)
    log = folder / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers)],
            env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    return Serving(process, f"http://127.0.0.1:{port}", log)


def stop_all(started: list[Serving]) -> None:
    for s in started:
        if s.process.poll() is None:
            os.killpg(s.process.pid, signal.SIGKILL)
            s.process.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """:func:`spawn` for the test; what is still running is killed on the way out."""
    started: list[Serving] = []

    def start(database_url: str, redis_url: str | None, workers: int = 2,
              **settings: str) -> Serving:
        started.append(spawn(tmp_path, database_url, redis_url, workers=workers, **settings))
        return started[-1]

    yield start
    stop_all(started)


async def _get(url: str) -> httpx.Response:
    """A request on a connection of its own, so that the kernel may hand it to any worker."""
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url, headers={"connection": "close"})


async def workers_of(s: Serving, want: int = 2, seconds: float = 60) -> set[int]:
    """The pids of the workers seen answering `/readyz` (ready), once ``want`` differ."""
    seen: set[int] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        assert s.process.poll() is None, s.output()
        with contextlib.suppress(httpx.TransportError):
            r = await _get(f"{s.base}/readyz")
            if r.status_code == 200:
                body = r.json()
                assert body["ready"] and body["database"] == "ok", body
                seen.add(body["worker"])
                if len(seen) >= want:
                    return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"saw workers {seen} only:\n{s.output()}")


async def _next(ws: Any) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg["type"] != "ping":
            return msg  # type: ignore[no-any-return]


async def _socket_on_each(s: Serving, workers: set[int], bearer: str) -> dict[int, Any]:
    """A signed-in WebSocket held by each worker: connect until each has answered one."""
    held: dict[int, Any] = {}
    for _ in range(200):
        ws = await websockets.connect(s.ws, subprotocols=[Subprotocol("graphql-transport-ws")])
        assert ws.response is not None
        pid = int(ws.response.headers["x-keylink-worker"])
        assert pid in workers
        if pid in held:
            await ws.close()
            continue
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {bearer}"}}))
        assert (await _next(ws))["type"] == "connection_ack"
        held[pid] = ws
        if len(held) == len(workers):
            return held
    raise AssertionError(f"the kernel handed 200 connections to workers {set(held)} only")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    await client.flushdb()  # every test's database numbers vehicles from 1
    yield client
    await client.flushdb()
    await client.aclose()


async def test_each_worker_serves_subscriptions_from_the_live_bus_and_the_outbox(
    serve: Any, db: Database, database_url: str, redis_url: str, redis: aioredis.Redis,
) -> None:
    t = await build_tracking(db, await build(db))
    after = await events.last_seq(db)
    s = serve(database_url, redis_url)
    workers = await workers_of(s)
    held = await _socket_on_each(s, workers, token("BAOSTEEL", *MILL_ROLES, subject="staff"))
    for ws in held.values():
        await ws.send(json.dumps({"id": "events", "type": "subscribe", "payload": {
            "query": EVENTS, "variables": {"after": after}}}))
        await ws.send(json.dumps({"id": "fleet", "type": "subscribe",
                                  "payload": {"query": FLEET}}))
        # The fleet's state first (three vehicles have fixes), once its channel is heard.
        first = [await _next(ws) for _ in range(3)]
        assert {m["id"] for m in first} == {"fleet"}, first

    # One domain event committed (the outbox's NOTIFY), one fix published on Redis.
    async with db.transaction() as tx:
        seq = await events.append(tx, "test.everywhere", org_id=None, aggregate_type="test",
                                  aggregate_id=1, payload={}, actor="test")
    fix = Fix("GPS-TRK-2", NOW + timedelta(minutes=5), 31.5, 121.0, 50.0, 10.0, 5.0,
              Source.NATIVE)
    assert await Live(redis).publish(positions=[
        LivePosition(t.vehicle["TRK-2"], 1, fix, out_of_order=False)])

    for pid, ws in held.items():
        got: dict[str, Any] = {}
        while len(got) < 2:
            msg = await _next(ws)
            assert msg["type"] == "next", (pid, msg)
            got[msg["id"]] = msg["payload"]["data"]
        assert got["events"] == {"events": {"seq": seq, "eventType": "test.everywhere"}}, pid
        assert got["fleet"] == {"vehiclePositions": {"position": {"latitude": 31.5},
                                                     "vehicle": {"code": "TRK-2"}}}, pid

    # Whichever worker answers a scrape counts the requests of both.
    for _ in range(12):
        assert (await _get(f"{s.base}/healthz")).status_code == 200
    for _ in range(3):
        text = (await _get(f"{s.base}/metrics")).text
        found = re.search(r'^keylink_http_requests_total\{method="GET",route="/healthz",'
                          r'status="200"\} (\S+)$', text, re.MULTILINE)
        assert found is not None and float(found[1]) == 12, text[:2000]

    # SIGTERM stops every worker, the open sockets with them, then the server itself.
    s.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(s.process.wait, 30) == 0, s.output()
    assert all(_gone(pid) for pid in workers), s.output()
    for ws in held.values():
        with pytest.raises(websockets.ConnectionClosed):
            await _next(ws)


async def test_ctrl_c_stops_every_worker(
    serve: Any, database_url: str, redis_url: str,
) -> None:
    s = serve(database_url, redis_url)
    workers = await workers_of(s)

    os.killpg(s.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends

    assert await asyncio.to_thread(s.process.wait, 30) == 0, s.output()
    assert all(_gone(pid) for pid in workers), s.output()
    assert "Traceback" not in s.output()


async def test_a_worker_that_dies_is_replaced(
    serve: Any, database_url: str, redis_url: str,
) -> None:
    s = serve(database_url, redis_url)
    workers = await workers_of(s)
    dead = min(workers)

    os.kill(dead, signal.SIGKILL)

    # Two workers answer again, neither of them the dead one.
    now = await workers_of(s)
    assert dead not in now and s.process.poll() is None, s.output()
