"""Live shipments over graphql-transport-ws against a real server and a real Redis: the
last known state first, then what the ingester publishes; refused, with a code, where
the viewer may not look; one Redis connection however many subscribe."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from api.context import Services
from api.livebus import GAP, LiveBus
from domain.db import Database
from domain.shipments.positions import latest_key, live_group
from resolvers.relay import to_global_id
from tests.api.test_subscriptions import _next, _open
from tests.support.api import CODEC, graphql_ws, token
from tests.support.factory import build
from tests.support.shipments import NOW, Tracking, build_tracking

POSITIONS = """subscription($id: ID!) { shipmentPositions(shipmentId: $id) {
    position { fixTime latitude longitude speedKmh } shipmentIds vehicle { code } late } }"""
EVENTS = """subscription($s: ID, $c: ID) { shipmentEvents(shipmentId: $s, contractId: $c) {
    kind occurredAt details leg { seq } shipment { number } } }"""
FLEET = "subscription { vehiclePositions { position { latitude } vehicle { code } } }"


@pytest.fixture
async def live(db: Database, redis_url: str) -> AsyncIterator[tuple[str, aioredis.Redis,
                                                                    Services]]:
    client = aioredis.from_url(redis_url)
    # Redis is shared by the session and every test's database numbers vehicles from 1:
    # start from an empty live state, whatever ran before.
    await client.flushdb()
    services = Services(db=db, codec=CODEC, redis=client)
    async with graphql_ws(services) as url:
        yield url, client, services
    await client.flushdb()
    await client.aclose()


async def _subscribe(url: str, bearer: str, query: str, variables: dict[str, Any]) -> Any:
    ws = await _open(url, bearer)
    await ws.send(json.dumps({"id": "1", "type": "subscribe",
                              "payload": {"query": query, "variables": variables}}))
    return ws


def _data(msg: dict[str, Any], field: str) -> dict[str, Any]:
    assert msg["type"] == "next" and "errors" not in msg["payload"], msg
    data: dict[str, Any] = msg["payload"]["data"][field]
    return data


def _error_code(msg: dict[str, Any]) -> str:
    errors = msg["payload"] if msg["type"] == "error" else msg["payload"]["errors"]
    code: str = errors[0]["extensions"]["code"]
    return code


def _position(t: Tracking, vehicle: str, shipments: list[str], lat: float,
              seconds: int) -> str:
    return json.dumps({
        "type": "position", "vehicle_id": t.vehicle[vehicle], "device_id": 1,
        "shipment_ids": [t.shipment[s] for s in shipments],
        "fix_time": (NOW + timedelta(seconds=seconds)).isoformat(), "lat": lat, "lon": 121.0,
        "speed_kmh": 50.0, "heading": 10.0, "accuracy_m": 5.0, "source": "native",
        "out_of_order": False, "latest": True})


async def _quiet(ws: Any, seconds: float = 0.5) -> bool:
    """Nothing but pings arrives for this long."""
    try:
        await asyncio.wait_for(_next(ws), seconds)
    except TimeoutError:
        return True
    return False


async def test_positions_start_from_live_state_then_follow_the_bus(
    live: tuple[str, aioredis.Redis, Services], db: Database
) -> None:
    url, redis, _ = live
    t = await build_tracking(db, await build(db))
    wagon = t.vehicle["WAG-1"]
    latest = _position(t, "WAG-1", ["faw"], 40.25, 0)
    await redis.hset(latest_key(live_group(wagon)), mapping={f"{wagon}:ms": 1, str(wagon): latest})
    gid = to_global_id("Shipment", t.shipment["faw"])
    ws = await _subscribe(url, token("FAW-VW"), POSITIONS, {"id": gid})
    first = _data(await _next(ws), "shipmentPositions")
    assert first["position"]["latitude"] == 40.25
    assert first["vehicle"] == {"code": "WAG-1"} and first["shipmentIds"] == [gid]

    await redis.publish(f"shipment:{t.shipment['faw']}", _position(t, "WAG-1", ["faw"], 40.5, 60))
    second = _data(await _next(ws), "shipmentPositions")
    assert second["position"] == {"fixTime": (NOW + timedelta(seconds=60)).isoformat(),
                                  "latitude": 40.5, "longitude": 121.0, "speedKmh": 50.0}
    assert second["late"] is False
    # An older fix (history) still comes, once, flagged late; events are another stream.
    older = _position(t, "WAG-1", ["faw"], 1.0, 30)
    await redis.publish(f"shipment:{t.shipment['faw']}", older)
    await redis.publish(f"shipment:{t.shipment['faw']}", json.dumps({
        "type": "event", "kind": "delayed", "shipment_id": t.shipment["faw"], "leg_id": None,
        "vehicle_id": wagon, "occurred_at": NOW.isoformat(), "details": {}}))
    late = _data(await _next(ws), "shipmentPositions")
    assert late["late"] is True and late["position"]["latitude"] == 1.0
    await redis.publish(f"shipment:{t.shipment['faw']}", older)  # the same fix again
    assert await _quiet(ws)
    await ws.close()


async def test_another_customers_shipment_is_refused_and_never_delivered(
    live: tuple[str, aioredis.Redis, Services], db: Database
) -> None:
    url, redis, _ = live
    t = await build_tracking(db, await build(db))
    faw_id = to_global_id("Shipment", t.shipment["faw"])
    stolen = await _subscribe(url, token("GALANZ"), POSITIONS, {"id": faw_id})
    assert _error_code(await _next(stolen)) == "NOT_FOUND"
    missing = await _subscribe(url, token("GALANZ"), POSITIONS,
                               {"id": to_global_id("Shipment", 10**9)})
    assert _error_code(await _next(missing)) == "NOT_FOUND"
    # GALANZ on its own shipment: FAW's positions never reach it.
    own = await _subscribe(url, token("GALANZ"), POSITIONS,
                           {"id": to_global_id("Shipment", t.shipment["galanz"])})
    assert _data(await _next(own), "shipmentPositions")["vehicle"]["code"] == "SHIP-1"
    await redis.publish(f"shipment:{t.shipment['faw']}", _position(t, "WAG-1", ["faw"], 41.0, 90))
    await redis.publish(f"org:{t.world.org['FAW-VW']}",
                        _position(t, "WAG-1", ["faw"], 41.0, 90))
    assert await _quiet(own)
    for ws in (stolen, missing, own):
        await ws.close()


async def test_unauthorized_subscriptions_are_refused(
    live: tuple[str, aioredis.Redis, Services], db: Database
) -> None:
    url, _, _ = live
    t = await build_tracking(db, await build(db))
    gid = to_global_id("Shipment", t.shipment["faw"])
    for bearer, query, variables, code in (
        (token("FAW-VW"), FLEET, {}, "FORBIDDEN"),
        (token("BAOSTEEL", "quality"), FLEET, {}, "FORBIDDEN"),
        (token("FAW-VW"), EVENTS, {"s": gid, "c": gid}, "BAD_USER_INPUT"),
        (token("GALANZ"), EVENTS, {"c": to_global_id("Contract", t.world.contract["FAW-VW"])},
         "NOT_FOUND"),
    ):
        ws = await _subscribe(url, bearer, query, variables)
        assert _error_code(await _next(ws)) == code, (query, code)
        await ws.close()


async def test_events_start_with_the_latest_from_the_database_then_follow_the_bus(
    live: tuple[str, aioredis.Redis, Services], db: Database
) -> None:
    url, redis, _ = live
    t = await build_tracking(db, await build(db))
    by_shipment = await _subscribe(url, token("FAW-VW"), EVENTS,
                                   {"s": to_global_id("Shipment", t.shipment["faw"])})
    by_contract = await _subscribe(url, token("FAW-VW"), EVENTS,
                                   {"c": to_global_id("Contract", t.world.contract["FAW-VW"])})
    for ws in (by_shipment, by_contract):
        kinds = [_data(await _next(ws), "shipmentEvents")["kind"] for _ in range(4)]
        assert kinds == ["departed", "arrived", "departed", "delayed"]
    event = {"type": "event", "kind": "arrived", "shipment_id": t.shipment["faw"],
             "leg_id": t.leg["faw-2"], "vehicle_id": t.vehicle["WAG-1"],
             "occurred_at": (NOW + timedelta(minutes=5)).isoformat(),
             "details": {"site": "WH-FAW-VW"}}
    await redis.publish(f"shipment:{t.shipment['faw']}", json.dumps(event))
    await redis.publish(f"org:{t.world.org['FAW-VW']}", json.dumps(event))
    for ws in (by_shipment, by_contract):
        got = _data(await _next(ws), "shipmentEvents")
        assert got == {"kind": "arrived", "occurredAt": event["occurred_at"],
                       "details": {"site": "WH-FAW-VW"}, "leg": {"seq": 2},
                       "shipment": {"number": "SH-FAW"}}
    # The same event again (a second publish) is not sent twice.
    await redis.publish(f"shipment:{t.shipment['faw']}", json.dumps(event))
    assert await _quiet(by_shipment)
    for ws in (by_shipment, by_contract):
        await ws.close()


async def test_logistics_staff_watch_the_fleet(
    live: tuple[str, aioredis.Redis, Services], db: Database
) -> None:
    url, redis, _ = live
    t = await build_tracking(db, await build(db))
    ws = await _subscribe(url, token("BAOSTEEL", "logistics"), FLEET, {})
    first = [_data(await _next(ws), "vehiclePositions") for _ in range(3)]
    assert sorted(f["vehicle"]["code"] for f in first) == ["SHIP-1", "TRK-1", "WAG-1"]
    await redis.publish("vehicles", _position(t, "TRK-2", ["shared"], 31.5, 120))
    assert _data(await _next(ws), "vehiclePositions") == {
        "position": {"latitude": 31.5}, "vehicle": {"code": "TRK-2"}}
    await ws.close()


async def test_many_subscribers_share_one_redis_subscription(
    live: tuple[str, aioredis.Redis, Services], db: Database
) -> None:
    url, redis, services = live
    t = await build_tracking(db, await build(db))
    gid = to_global_id("Shipment", t.shipment["faw"])
    sockets = []
    for _ in range(12):
        ws = await _subscribe(url, token("FAW-VW"), POSITIONS, {"id": gid})
        await _next(ws)  # the last known state (the database's newest wagon fix)
        sockets.append(ws)
    channel = f"shipment:{t.shipment['faw']}"
    assert dict(await redis.pubsub_numsub(channel)) == {channel.encode(): 1}
    assert services.live is not None and services.live.channels == [channel]
    await redis.publish(channel, _position(t, "WAG-1", ["faw"], 42.0, 300))
    for ws in sockets:
        assert _data(await _next(ws), "shipmentPositions")["position"]["latitude"] == 42.0
    for ws in sockets:
        await ws.close()
    for _ in range(100):  # the server notices the closed sockets in its own time
        if dict(await redis.pubsub_numsub(channel)) == {channel.encode(): 0}:
            break
        await asyncio.sleep(0.05)
    assert services.live.channels == []
    assert dict(await redis.pubsub_numsub(channel)) == {channel.encode(): 0}


async def test_a_subscription_ends_when_its_token_expires(
    live: tuple[str, aioredis.Redis, Services], db: Database
) -> None:
    url, _, _ = live
    t = await build_tracking(db, await build(db))
    short = CODEC.issue(org="FAW-VW", roles=["customer"], subject="brief", ttl_seconds=1)
    ws = await _subscribe(url, short, POSITIONS,
                          {"id": to_global_id("Shipment", t.shipment["faw"])})
    assert _data(await _next(ws), "shipmentPositions")
    msg = await _next(ws)
    assert msg["type"] == "next" and _error_code(msg) == "UNAUTHENTICATED"
    await ws.close()


async def test_the_bus_reconnects_and_reports_the_gap(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    bus = LiveBus(client)
    try:
        async with bus.subscribe("test:a") as feed, bus.subscribe("test:a", "test:b") as both:
            await client.publish("test:b", json.dumps({"n": 1}))
            assert await both.get(5) == {"n": 1, "channel": "test:b"}
            assert await feed.get(0.2) is None
            await client.client_kill_filter(_type="pubsub")
            assert await feed.get(10) is GAP
            for _ in range(100):  # until the bus has resubscribed
                if await client.publish("test:a", json.dumps({"n": 2})):
                    break
                await asyncio.sleep(0.05)
            got = [await feed.get(5)]
            while got[-1] is GAP:
                got.append(await feed.get(5))
            assert got[-1] == {"n": 2, "channel": "test:a"}
    finally:
        await bus.close()
        await client.aclose()
