"""The whole way round: a GPS unit publishes over MQTT, the ingester stores the fix and
publishes it on Redis, and a customer's GraphQL subscription on an API process (which
shares nothing with the ingester but Redis) receives it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import redis.asyncio as aioredis

from api.context import Services
from api.embedded import Mosquitto
from domain.db import Database
from resolvers.relay import to_global_id
from tests.api.test_subscriptions import _next
from tests.shipments.test_shipment_subscriptions import POSITIONS, _data, _subscribe, live  # noqa: F401
from tests.support.api import token
from tests.tracking.support import build_track
from tests.tracking.test_ingester import ingesting, settings_for, unique


async def test_a_published_fix_reaches_the_customers_subscription(
    live: tuple[str, aioredis.Redis, Services],  # noqa: F811
    db: Database, database_url: str, redis_url: str, mqtt_broker: Mosquitto,
) -> None:
    url, _, _ = live
    t = await build_track(db)
    await db.execute("UPDATE shipment_leg SET status = 'in_transit', actual_departure = now()"
                     " - interval '30 minutes' WHERE id = $1", t.leg)
    settings = settings_for(database_url, redis_url, mqtt_broker, group=unique("g"),
                            client=unique("c"))
    async with ingesting(settings, mqtt_broker):
        ws = await _subscribe(url, token("FAW-VW"), POSITIONS,
                              {"id": to_global_id("Shipment", t.shipment.id)})  # type: ignore[union-attr]
        fix = {"ts": datetime.now(UTC).isoformat(), "lat": 31.35, "lon": 121.55,
               "speed_kmh": 48.0, "heading": 120, "accuracy_m": 6}
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.connect(mqtt_broker.host, mqtt_broker.port)
        client.loop_start()
        client.publish("keylink/v1/devices/gps-t1/position", json.dumps(fix), qos=1
                       ).wait_for_publish(10)
        client.loop_stop()
        client.disconnect()
        got = _data(await _next(ws), "shipmentPositions")
        assert got["position"]["latitude"] == 31.35 and got["vehicle"]["code"] == "T1"
        assert got["shipmentIds"] == [to_global_id("Shipment", t.shipment.id)]  # type: ignore[union-attr]
        await ws.close()
    stored = await db.fetchval("SELECT count(*) FROM position WHERE vehicle_id = $1", t.truck)
    assert stored == 1
