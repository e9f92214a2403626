"""A plant connected on day one, through the public interfaces only: from an empty
database, the mill's parties by `keylink import`, then its sites, specs, vehicles,
devices, heats, coils, a contract and a shipment over the bulk path; the new device's
fixes over MQTT move the new shipment, and its events reach the customer's
subscription. A replay changes nothing; a batch with one bad record writes nothing and
names it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import redis.asyncio as aioredis

from api.context import Services
from api.embedded import Mosquitto
from domain.db import Database
from settings import PROJECT_ROOT, Settings
from tests.api.test_subscriptions import _next
from tests.shipments.test_shipment_subscriptions import (  # noqa: F401 - a fixture
    EVENTS,
    POSITIONS,
    _data,
    _subscribe,
    live,
)
from tests.support.api import CODEC, TEST_TOKEN_SECONDS, token
from tests.tracking.test_ingester import ingesting, settings_for, unique

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "plant.ndjson"
SETTING_VARS = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
# The example's plant, its fence a circle of 1.5 km.
PLANT = (31.9386, 118.7553)
SHIPMENTS = "{ shipments(first: 5) { edges { node { id number status } } } }"


def lines(kind: str | None = None, *, but: str | None = None) -> bytes:
    picked = [line for line in EXAMPLE.read_bytes().splitlines(keepends=True)
              if (kind is None or json.loads(line)["kind"] == kind)
              and (but is None or json.loads(line)["kind"] != but)]
    return b"".join(picked)


def keylink_import(path: Path, database_url: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in SETTING_VARS}
    return subprocess.run([sys.executable, "-m", "api.cli", "import", str(path),
                           "--database-url", database_url], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, timeout=120, check=False)


async def graphql(client: httpx.AsyncClient, bearer: str, query: str) -> Any:
    r = await client.post("/graphql", json={"query": query},
                          headers={"authorization": f"Bearer {bearer}"})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    return r.json()["data"]


def publish(broker: Mosquitto, device: str, fixes: list[dict[str, Any]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device,
                         protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    for fix in fixes:
        client.publish(f"keylink/v1/devices/{device}/position", json.dumps(fix), qos=1
                       ).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


async def test_a_plant_connects_on_day_one(
    live: tuple[str, aioredis.Redis, Services],  # noqa: F811 - the fixture
    db: Database, database_url: str, redis_url: str, mqtt_broker: Mosquitto, tmp_path: Path,
) -> None:
    ws_url, _, _ = live
    http = ws_url.replace("ws://", "http://").removesuffix("/graphql")
    parties = tmp_path / "parties.ndjson"
    parties.write_bytes(lines("organization"))
    imported = await asyncio.to_thread(keylink_import, parties, database_url)
    assert imported.returncode == 0, imported.stderr.decode()

    plant = CODEC.issue(org="BSTEEL", roles=["integration"], subject="tms",
                        ttl_seconds=TEST_TOKEN_SECONDS, kinds=["*"])
    async with httpx.AsyncClient(base_url=http, timeout=60) as client:
        sent = await client.post("/feeds/records", content=lines(but="organization"),
                                 headers={"content-type": "application/x-ndjson",
                                          "authorization": f"Bearer {plant}"})
        assert sent.status_code == 200, sent.text
        assert (sent.json()["status"], sent.json()["applied"]) == ("committed", 15)

        customer = token("CHERY")
        [edge] = (await graphql(client, customer, SHIPMENTS))["shipments"]["edges"]
        assert (edge["node"]["number"], edge["node"]["status"]) == ("SH-2026-12-0042",
                                                                    "PLANNED")
        shipment_id = edge["node"]["id"]
        positions = await _subscribe(ws_url, customer, POSITIONS, {"id": shipment_id})
        events = await _subscribe(ws_url, customer, EVENTS, {"s": shipment_id, "c": None})

        # The truck stands in the plant past its dwell, then drives off towards Wuhu.
        now = datetime.now(UTC)
        fixes = [{"ts": (now - timedelta(minutes=m)).isoformat(), "lat": lat, "lon": lon,
                  "speed_kmh": speed, "heading": 200, "accuracy_m": 5}
                 for m, lat, lon, speed in ((40, *PLANT, 0.0), (25, *PLANT, 0.0),
                                            (12, PLANT[0] + 0.001, PLANT[1], 3.0),
                                            (4, 31.80, 118.68, 60.0),
                                            (1, 31.76, 118.64, 62.0))]
        settings = settings_for(database_url, redis_url, mqtt_broker, group=unique("g"),
                                client=unique("c"))
        async with ingesting(settings, mqtt_broker):
            await asyncio.to_thread(publish, mqtt_broker, "gps-m1234", fixes)
            seen = []
            while not seen or seen[-1]["position"]["latitude"] != 31.76:
                seen.append(_data(await _next(positions), "shipmentPositions"))
            assert {s["vehicle"]["code"] for s in seen} == {"TRK-AH-M1234"}
            kinds = []
            while "departed" not in kinds:
                kinds.append(_data(await _next(events), "shipmentEvents")["kind"])
        await positions.close()
        await events.close()
        [edge] = (await graphql(client, customer, SHIPMENTS))["shipments"]["edges"]
        assert edge["node"]["status"] in ("DEPARTED", "IN_TRANSIT")

        # The same file again: nothing changes, nothing is announced.
        before = await db.fetchval("SELECT max(seq) FROM domain_event")
        again = await client.post("/feeds/records", content=lines(but="organization"),
                                  headers={"content-type": "application/x-ndjson",
                                           "authorization": f"Bearer {plant}"})
        assert (again.json()["applied"], again.json()["unchanged"]) == (0, 15)
        assert await db.fetchval("SELECT max(seq) FROM domain_event") == before

        # A batch with one bad record: nothing of it is written, the record is named.
        bad = (b'{"kind":"vehicle","key":"TRK-NEW-1","version":1,"data":{"kind":"truck",'
               b'"name":"New truck","carrier":"SINOTRANS"}}\n'
               b'{"kind":"device","key":"gps-new-1","version":1,"data":{"kind":"gps_unit",'
               b'"vehicle":"TRK-NEW-2"}}\n')
        refused = await client.post("/feeds/records", content=bad,
                                    headers={"content-type": "application/x-ndjson",
                                             "authorization": f"Bearer {plant}"})
        assert refused.status_code == 422
        [named] = refused.json()["rejections"]
        assert (named["line"], named["key"], named["field"], named["code"]) == (
            2, "gps-new-1", "data.vehicle", "NOT_FOUND")
        assert await db.fetchval("SELECT count(*) FROM vehicle WHERE code = 'TRK-NEW-1'") == 0
        assert await db.fetchval("SELECT max(seq) FROM domain_event") == before
