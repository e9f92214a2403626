"""Live state in a real Redis: the latest marker, the GEO index, the channels, and what
happens while Redis is away."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from api.embedded import Redis, free_port
from domain.shipments.positions import geo_key, latest_key, live_group
from tracking.ingester import REGISTRY
from tracking.live import Live, LiveEvent, LivePosition, connect
from tracking.model import Fix, Source

NOW = datetime.now(UTC).replace(microsecond=0)


def at(t: datetime, lat: float = 31.4, lon: float = 121.5) -> Fix:
    return Fix("GPS-1", t, lat, lon, 50.0, 90.0, 5.0, Source.NATIVE)


def vehicle() -> int:
    return uuid.uuid4().int % 10**9  # keys of the shared test Redis never collide


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = connect(redis_url)
    yield c
    await c.aclose()


async def received(pubsub: Any, n: int) -> list[tuple[str, dict[str, Any]]]:
    got = []
    for _ in range(n * 4):
        m = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if m is not None:
            got.append((m["channel"].decode(), json.loads(m["data"])))
        if len(got) == n:
            break
    return got


async def test_positions_and_events_reach_their_channels(client: aioredis.Redis) -> None:
    v = vehicle()
    pubsub = client.pubsub()
    await pubsub.subscribe("vehicles", "shipment:77", "org:5")
    live = Live(client)
    position = LivePosition(v, 3, at(NOW), False, shipment_ids=(77,), org_ids=(5,))
    event = LiveEvent("arrived", 77, 9, v, NOW, {"site": "WH-1"}, org_ids=(5,))
    assert await live.publish([position], [event])
    got = await received(pubsub, 6)
    await pubsub.aclose()
    mine = [(c, m) for c, m in got if m.get("vehicle_id") == v]
    assert sorted(c for c, _ in mine) == sorted(["vehicles", "shipment:77", "org:5"] * 2)
    pos = next(m for _, m in mine if m["type"] == "position")
    assert pos == {"type": "position", "vehicle_id": v, "device_id": 3, "shipment_ids": [77],
                   "fix_time": NOW.isoformat(), "lat": 31.4, "lon": 121.5, "speed_kmh": 50.0,
                   "heading": 90.0, "accuracy_m": 5.0, "source": "native",
                   "out_of_order": False, "latest": True}
    ev = next(m for _, m in mine if m["type"] == "event")
    assert ev == {"type": "event", "kind": "arrived", "shipment_id": 77, "leg_id": 9,
                  "vehicle_id": v, "occurred_at": NOW.isoformat(), "details": {"site": "WH-1"}}


async def test_messages_arrive_whole_and_in_order(client: aioredis.Redis) -> None:
    """A batch goes to Redis as one text: details with newlines and spaces, and more
    messages than one call carries, arrive as sent, in the order sent."""
    v = vehicle()
    pubsub = client.pubsub()
    await pubsub.subscribe("shipment:78")
    live = Live(client)
    details = {"note": "line one\nline two  \t end", "empty": ""}
    events = [LiveEvent("delayed", 78, i, v, NOW, {**details, "n": i}) for i in range(2500)]
    assert await live.publish([], events)
    got = await received(pubsub, 2500)
    await pubsub.aclose()
    assert [m["details"] for _, m in got] == [{**details, "n": i} for i in range(2500)]


async def test_a_late_fix_never_moves_the_live_marker_back(client: aioredis.Redis) -> None:
    v = vehicle()
    live = Live(client)
    await live.publish([LivePosition(v, 1, at(NOW, 31.5), False)])
    pubsub = client.pubsub()
    await pubsub.subscribe("vehicles")
    await live.publish([LivePosition(v, 1, at(NOW - timedelta(minutes=5), 31.0), True)])
    [(_, late)] = await received(pubsub, 1)
    await pubsub.aclose()
    assert late["latest"] is False and late["out_of_order"] is True
    stored = json.loads(await client.hget(latest_key(live_group(v)), str(v)))
    assert stored["lat"] == 31.5
    [(lon, lat)] = await client.geopos(geo_key(live_group(v)), str(v))
    assert abs(lat - 31.5) < 1e-4 and abs(lon - 121.5) < 1e-4
    fixes = await live.latest_fixes([v, vehicle()])
    assert list(fixes) == [v] and fixes[v].fix_time == NOW


async def test_redis_away_is_counted_and_caught_up_when_it_returns(tmp_path: Path) -> None:
    port = free_port(0)
    server = Redis(tmp_path / "redis", port)
    server.start()
    client = connect(server.url)
    live = Live(client, retry_seconds=0)
    v = vehicle()
    errors = REGISTRY.get_sample_value("keylink_live_errors_total") or 0.0
    try:
        assert await live.publish([LivePosition(v, 1, at(NOW - timedelta(seconds=2)), False)])
        server.stop()
        assert not await live.publish([LivePosition(v, 1, at(NOW), False)])
        assert not await live.publish([], [LiveEvent("departed", 1, 1, v, NOW)])
        assert live.pending
        assert (REGISTRY.get_sample_value("keylink_live_errors_total") or 0) - errors == 2
        assert await live.latest_fixes([v]) == {}  # away: nothing, and no exception

        server = Redis(tmp_path / "redis", port)
        server.start()
        assert await live.publish()  # the kept update goes out on the next attempt
        assert not live.pending
        stored = json.loads(await client.hget(latest_key(live_group(v)), str(v)))
        assert stored["fix_time"] == NOW.isoformat()
    finally:
        await client.aclose()
        server.stop()


async def test_without_redis_publishing_is_a_no_op() -> None:
    live = Live(None)
    assert await live.publish([LivePosition(1, 1, at(NOW), False)])
    assert await live.latest_fixes([1]) == {}


def test_mill_only_events_stay_off_customer_channels() -> None:
    from datetime import UTC, datetime

    from tracking.live import ALL_CHANNEL, LiveEvent

    at = datetime(2026, 11, 25, tzinfo=UTC)
    anomaly = LiveEvent("scan_far_from_vehicle", 12, 31, 7, at, {}, org_ids=(2, 3))
    arrived = LiveEvent("arrived", 12, 31, 7, at, {}, org_ids=(2, 3))
    assert anomaly.channels() == [ALL_CHANNEL]
    assert arrived.channels() == [ALL_CHANNEL, "shipment:12", "org:2", "org:3"]
