"""The ingester end to end: a real Mosquitto (the project's config), PostgreSQL and Redis.

Helpers here (fleet, publisher, a running ingester) are shared with ``test_faults``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import redis.asyncio as aioredis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from api import cli
from api.embedded import Mosquitto, free_port
from domain.db import Database
from domain.shipments.devices import hash_password, verify_password
from domain.shipments.positions import geo_key, latest_key, live_group
from settings import Settings
from tests.tracking.test_decoders import with_seq
from tests.tracking.test_fragments import EVER, GOLDEN
from tracking.ingester import REGISTRY, run_ingester
from tracking.model import Reason

NOW = datetime.now(UTC).replace(microsecond=0)
SHIP_MMSI = 367380120
AIS_KNOWN = b"!AIVDM,1,1,,B,15NG6V0P01G?cFhE`R2IU?wn28R>,0*05"  # MMSI 367380120
AIS_UNKNOWN = b"!AIVDM,1,1,,A,15NJQiPOl=G?m:bE`Gpt<aun00S8,0*56"  # MMSI 367436230


@dataclass
class Fleet:
    trucks: list[int] = field(default_factory=list)  # vehicle ids; GPS-{i} is on trucks[i]
    ship: int = 0
    site: int = 0
    shipment: int = 0
    customer: int = 0


async def make_fleet(db: Database, trucks: int = 1) -> Fleet:
    """Trucks with GPS units (GPS-0 ...), the first carrying shipment S-1 for customer
    CUST; a ship with an AIS gateway; a scanner at DOCK-3; an unbound and a disabled unit."""
    f = Fleet()
    async with db.transaction() as tx:
        mill = await tx.fetchval("INSERT INTO organization (code, name, kind)"
                                 " VALUES ('MILL', 'Mill', 'mill') RETURNING id")
        f.customer = await tx.fetchval("INSERT INTO organization (code, name, kind)"
                                       " VALUES ('CUST', 'Customer', 'customer') RETURNING id")
        f.site = await tx.fetchval(
            "INSERT INTO site (code, name, kind, org_id, latitude, longitude, geofence_radius_m)"
            " VALUES ('DOCK-3', 'Dock 3', 'port', $1, 10.0, 10.0, 500) RETURNING id", mill)
        far = await tx.fetchval(
            "INSERT INTO site (code, name, kind, org_id, latitude, longitude, geofence_radius_m)"
            " VALUES ('WH-1', 'Warehouse', 'customer_warehouse', $1, 12.0, 12.0, 500)"
            " RETURNING id", f.customer)
        for i in range(trucks):
            vehicle = await tx.fetchval(
                "INSERT INTO vehicle (code, kind, name) VALUES ($1, 'truck', $1) RETURNING id",
                f"TRUCK-{i}")
            await tx.execute("INSERT INTO device (code, kind, vehicle_id) VALUES"
                             " ($1, 'gps_unit', $2)", f"GPS-{i}", vehicle)
            f.trucks.append(vehicle)
        f.ship = await tx.fetchval("INSERT INTO vehicle (code, kind, name, mmsi) VALUES"
                                   " ('SHIP-1', 'ship', 'S1', $1) RETURNING id", SHIP_MMSI)
        await tx.execute(
            "INSERT INTO device (code, kind, vehicle_id, site_id, enabled) VALUES"
            " ('AIS-1', 'ais_gateway', NULL, NULL, true),"
            " ('SCAN-1', 'scanner', NULL, $1, true),"
            " ('UNBOUND-1', 'gps_unit', NULL, NULL, true),"
            " ('OFF-1', 'gps_unit', $2, NULL, false)", f.site, f.trucks[0])
        f.shipment = await tx.fetchval(
            "INSERT INTO shipment (number, status) VALUES ('S-1', 'in_transit') RETURNING id")
        await tx.execute("INSERT INTO shipment_customer VALUES ($1, $2)", f.shipment, f.customer)
        await tx.execute(
            "INSERT INTO shipment_leg (shipment_id, seq, mode, vehicle_id, origin_site_id,"
            " destination_site_id, planned_departure, planned_arrival, status)"
            " VALUES ($1, 1, 'road', $2, $3, $4, $5, $6, 'in_transit')",
            f.shipment, f.trucks[0], f.site, far, NOW - timedelta(hours=2),
            NOW + timedelta(hours=20))
    return f


def position(t: datetime, lat: float = 20.0, lon: float = 20.0, **extra: Any) -> bytes:
    return json.dumps({"ts": t.isoformat(), "lat": lat, "lon": lon, "speed_kmh": 40.0,
                       "heading": 90, "accuracy_m": 8, **extra}).encode()


def track(device: int, count: int, start: datetime | None = None) -> list[tuple[str, bytes]]:
    """``count`` fixes of GPS-{device}, a second and about 11 m apart."""
    start = start or NOW - timedelta(hours=1)
    return [(f"keylink/v1/devices/GPS-{device}/position",
             position(start + timedelta(seconds=i), 20.0 + i * 0.0001, 20.0 + device * 0.01))
            for i in range(count)]


def settings_for(database_url: str, redis_url: str | None, broker: Mosquitto, *,
                 group: str, client: str, **changes: Any) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url, mqtt_url=broker.url,
                    ingest_group=group, ingest_client_id=client, ingest_batch_ms=50,
                    ingest_metrics_port=0, **changes)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


class Publisher:
    """A device-side client publishing at QoS 1 and waiting for every PUBACK."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, messages: list[tuple[str, bytes]], timeout: float = 120) -> None:
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "no PUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def publisher(broker: Mosquitto) -> Iterator[Publisher]:
    p = Publisher(broker)
    try:
        yield p
    finally:
        p.close()


def purge_session(broker: Mosquitto, client_id: str) -> None:
    """End a persistent session, so that the shared broker queues nothing more for it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    client.connect(broker.host, broker.port, clean_start=True, properties=props)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


@contextlib.asynccontextmanager
async def ingesting(settings: Settings, broker: Mosquitto) -> AsyncIterator[asyncio.Event]:
    """An ingester running in this loop, subscribed; stopped (and its session purged)
    on the way out."""
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_ingester(settings, stop=stop, ready=ready))
    try:
        await asyncio.wait({task, asyncio.ensure_future(ready.wait())}, timeout=15,
                           return_when=asyncio.FIRST_COMPLETED)
        assert ready.is_set(), task.exception() if task.done() else "not subscribed in 15s"
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def count(db: Database, sql: str, *args: Any) -> int:
    n: int = await db.fetchval(sql, *args)
    return n


def outcomes() -> dict[tuple[str, str], float]:
    values: dict[tuple[str, str], float] = {}
    for metric in REGISTRY.collect():
        for s in metric.samples:
            if s.name == "keylink_ingest_messages_total":
                values[(s.labels["outcome"], s.labels["reason"])] = s.value
    return values


def delta(before: dict[tuple[str, str], float], outcome: str, reason: str = "") -> float:
    return outcomes().get((outcome, reason), 0.0) - before.get((outcome, reason), 0.0)


# --- tests --------------------------------------------------------------------------


async def test_published_fixes_are_stored_and_acknowledged(
    db: Database, database_url: str, redis_url: str, mqtt_broker: Mosquitto,
) -> None:
    await make_fleet(db)
    client = unique("ing")
    settings = settings_for(database_url, redis_url, mqtt_broker, group=unique("g"),
                            client=client)
    async with ingesting(settings, mqtt_broker):
        with publisher(mqtt_broker) as p:
            await asyncio.to_thread(p.publish, track(0, 20))
        await eventually(lambda: _equals(count(db, "SELECT count(*) FROM position"), 20))
    # Acknowledged: the session, resumed, has nothing to deliver again.
    redelivered = await asyncio.to_thread(_resume_and_listen, mqtt_broker, client, 1.5)
    assert redelivered == []
    purge_session(mqtt_broker, client)


async def test_the_ingester_says_when_it_has_stopped(
    database_url: str, redis_url: str, mqtt_broker: Mosquitto, caplog: pytest.LogCaptureFixture,
) -> None:
    """`keylink ingest` logs when it connects and subscribes; an operator stopping it
    sees that it has stopped too."""
    client = unique("stop")
    settings = settings_for(database_url, redis_url, mqtt_broker, group=unique("g"),
                            client=client)
    with caplog.at_level("INFO", logger="keylink.tracking.ingester"):
        async with ingesting(settings, mqtt_broker):
            assert not [r for r in caplog.records if "stopped" in r.getMessage()]
    messages = [r.getMessage() for r in caplog.records
                if r.name == "keylink.tracking.ingester"]
    assert messages[-1].startswith("ingester stopped"), messages
    purge_session(mqtt_broker, client)


def _resume_and_listen(broker: Mosquitto, client_id: str, seconds: float) -> list[bytes]:
    got: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         manual_ack=True)
    client.on_message = lambda _c, _u, m: got.append(m.payload)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 60
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    client.loop_start()
    time.sleep(seconds)
    client.disconnect()
    client.loop_stop()
    return got


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_every_rejection_reason_is_recorded_and_counted(
    db: Database, database_url: str, mqtt_broker: Mosquitto,
) -> None:
    await make_fleet(db)
    t = NOW - timedelta(minutes=10)
    gps = "keylink/v1/devices/GPS-0/position"
    scan = "keylink/v1/devices/SCAN-1/scan"
    ais = "keylink/v1/devices/AIS-1/ais"
    cases: list[tuple[Reason, str, bytes]] = [
        (Reason.MALFORMED, gps, b"not json"),
        (Reason.OVERSIZED, gps, b"[" + b" " * 70_000 + b"]"),
        (Reason.UNKNOWN_TOPIC, "keylink/v1/devices/bad code/position", position(t)),
        (Reason.UNKNOWN_DEVICE, "keylink/v1/devices/GHOST-1/position", position(t)),
        (Reason.DISABLED_DEVICE, "keylink/v1/devices/OFF-1/position", position(t)),
        (Reason.TOPIC_MISMATCH, gps, position(t, device="GPS-9")),
        (Reason.WRONG_DEVICE_KIND, "keylink/v1/devices/SCAN-1/position", position(t)),
        (Reason.UNBOUND_DEVICE, "keylink/v1/devices/UNBOUND-1/position", position(t)),
        (Reason.INVALID_COORDINATES, gps, position(t, lat=91.0)),
        (Reason.NULL_ISLAND, gps, position(t, lat=0.0, lon=0.0)),
        (Reason.FUTURE_FIX, gps, position(NOW + timedelta(hours=1))),
        (Reason.STALE_FIX, gps, position(NOW - timedelta(days=30))),
        (Reason.IMPOSSIBLE_SPEED, gps, position(t + timedelta(seconds=1), lat=21.0)),
        (Reason.POOR_ACCURACY, gps, position(t, accuracy_m=5000)),
        (Reason.UNKNOWN_STEP, scan, json.dumps(
            {"ts": t.isoformat(), "code": "BX25C0012345", "step": "juggling"}).encode()),
        (Reason.UNKNOWN_SITE, scan, json.dumps({"ts": t.isoformat(), "code": "BX25C0012345",
                                                "step": "loading", "site": "NOWHERE"}).encode()),
        # The first half of an AIS message, then the first half of the next message under
        # the same sequence id (published after the cases): this one will never be whole.
        (Reason.INCOMPLETE, ais, with_seq(GOLDEN[0], 1)),
        (Reason.UNKNOWN_VESSEL, ais, AIS_UNKNOWN),
    ]
    assert {reason for reason, _, _ in cases} == set(Reason)
    accepted = (gps, position(t))  # the fix the impossible jump is judged against
    ignored = ("owntracks/driver/phone", b'{"_type": "lwt", "tst": 1}')
    held = (ais, EVER[0])
    before = outcomes()
    settings = settings_for(database_url, None, mqtt_broker, group=unique("g"),
                            client=unique("ing"))
    async with ingesting(settings, mqtt_broker):
        with publisher(mqtt_broker) as p:
            await asyncio.to_thread(
                p.publish, [accepted, *[(topic, body) for _, topic, body in cases], ignored,
                            held])
        await eventually(lambda: _equals(count(db, "SELECT count(*) FROM rejected_message"),
                                         len(cases)))
    rows = await db.fetch("SELECT reason, topic, device_code FROM rejected_message")
    assert sorted(r["reason"] for r in rows) == sorted(r.value for r, _, _ in cases)
    for reason, _, _ in cases:
        assert delta(before, "rejected", reason.value) == 1, reason
    assert delta(before, "stored") == 1
    assert delta(before, "ignored", "no_readings") == 1  # the OwnTracks lwt
    await eventually(lambda: _at_least(delta(before, "held"), 2))
    assert await count(db, "SELECT count(*) FROM position") == 1


async def test_redelivered_and_republished_messages_are_stored_once(
    db: Database, database_url: str, mqtt_broker: Mosquitto,
) -> None:
    await make_fleet(db)
    fixes = track(0, 5)
    batch = ("keylink/v1/devices/GPS-0/position",
             b"[" + b",".join(body for _, body in fixes[:3]) + b"]")
    before = outcomes()
    settings = settings_for(database_url, None, mqtt_broker, group=unique("g"),
                            client=unique("ing"))
    async with ingesting(settings, mqtt_broker):
        with publisher(mqtt_broker) as p:
            await asyncio.to_thread(p.publish, fixes)
            await eventually(lambda: _equals(count(db, "SELECT count(*) FROM position"), 5))
            await asyncio.to_thread(p.publish, [fixes[0], fixes[0], batch])
        await eventually(lambda: _at_least(delta(before, "duplicate"), 3))
    assert await count(db, "SELECT count(*) FROM position") == 5
    assert delta(before, "stored") == 5


async def _at_least(value: float, expected: float) -> bool:
    return value >= expected


async def test_two_ingesters_in_one_group_store_every_message_once(
    db: Database, database_url: str, mqtt_broker: Mosquitto,
) -> None:
    await make_fleet(db, trucks=10)
    group = unique("g")
    sent = [m for device in range(10) for m in track(device, 200)]
    before = outcomes()
    detection_errors = REGISTRY.get_sample_value("keylink_detection_errors_total")
    first = settings_for(database_url, None, mqtt_broker, group=group, client=unique("ing-a"))
    second = settings_for(database_url, None, mqtt_broker, group=group, client=unique("ing-b"))
    async with ingesting(first, mqtt_broker), ingesting(second, mqtt_broker):
        with publisher(mqtt_broker) as p:
            await asyncio.to_thread(p.publish, sent)
        await eventually(lambda: _equals(count(db, "SELECT count(*) FROM position"), len(sent)))
        await asyncio.sleep(0.5)  # anything processed twice would show up by now
    assert delta(before, "stored") == len(sent)
    assert delta(before, "duplicate") == 0
    assert REGISTRY.get_sample_value("keylink_detection_errors_total") == detection_errors
    assert await count(db, "SELECT count(*) FROM rejected_message") == 0


async def test_ais_halves_in_separate_messages_are_assembled_across_two_ingesters(
    db: Database, database_url: str, mqtt_broker: Mosquitto,
) -> None:
    """A gateway that publishes each sentence on its own: the shared group hands the two
    halves of a message to either ingester, and every message is still assembled once."""
    await make_fleet(db)
    await db.execute("INSERT INTO vehicle (code, kind, name, mmsi) VALUES"
                     " ('EVER', 'ship', 'unnamed', 351759000)")
    group = unique("g")
    sent = [("keylink/v1/devices/AIS-1/ais", with_seq(line, seq))
            for seq in range(10) for line in EVER]
    before = outcomes()
    first = settings_for(database_url, None, mqtt_broker, group=group, client=unique("ing-a"))
    second = settings_for(database_url, None, mqtt_broker, group=group, client=unique("ing-b"))
    async with ingesting(first, mqtt_broker), ingesting(second, mqtt_broker):
        with publisher(mqtt_broker) as p:
            await asyncio.to_thread(p.publish, sent)
        await eventually(lambda: _equals(
            count(db, "SELECT count(*) FROM ais_fragment WHERE assembled"), len(sent)))
    assert delta(before, "held") == 10
    assert delta(before, "stored") == 10
    assert await count(db, "SELECT count(*) FROM ais_fragment WHERE NOT assembled") == 0
    assert await count(db, "SELECT count(*) FROM rejected_message") == 0
    assert await db.fetchval("SELECT name FROM vehicle WHERE code = 'EVER'") == "EVER DIADEM"


async def test_a_shipment_subscriber_sees_the_positions_stored(
    db: Database, database_url: str, redis_url: str, mqtt_broker: Mosquitto,
) -> None:
    fleet = await make_fleet(db)
    redis = aioredis.Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"shipment:{fleet.shipment}", f"org:{fleet.customer}")
    settings = settings_for(database_url, redis_url, mqtt_broker, group=unique("g"),
                            client=unique("ing"))
    try:
        async with ingesting(settings, mqtt_broker):
            with publisher(mqtt_broker) as p:
                await asyncio.to_thread(p.publish, track(0, 3, NOW - timedelta(minutes=5)))
            seen = await _messages(pubsub, 6)
        truck = fleet.trucks[0]
        latest = json.loads(await redis.hget(latest_key(live_group(truck)), str(truck)))
        geo = await redis.geopos(geo_key(live_group(truck)), str(truck))
    finally:
        await pubsub.aclose()
        await redis.aclose()
    positions = [m for _, m in seen if m["type"] == "position"]
    assert {channel for channel, _ in seen} == {f"shipment:{fleet.shipment}",
                                                f"org:{fleet.customer}"}
    assert all(m["shipment_ids"] == [fleet.shipment] for m in positions)
    assert latest["fix_time"] == max(m["fix_time"] for m in positions)
    assert geo[0] is not None and abs(geo[0][1] - latest["lat"]) < 1e-4


async def _messages(pubsub: Any, n: int, within: float = 20) -> list[tuple[str, Any]]:
    got: list[tuple[str, Any]] = []
    deadline = time.monotonic() + within
    while len(got) < n and time.monotonic() < deadline:
        m = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if m is not None:
            got.append((m["channel"].decode(), json.loads(m["data"])))
    return got


def test_threads_left_behind_are_only_daemons() -> None:
    # paho's network thread must end with its ingester (loop_stop on the way out).
    alive = [t for t in threading.enumerate() if t.name.startswith("paho-mqtt-client")]
    assert alive == []


# --- broker logins from the registry -------------------------------------------------


def test_mosquitto_accepts_the_password_file_made_from_the_registry(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MQTT_URL", "mqtt://keylink-ingest:s3cret%2Fpass@127.0.0.1:1883")
    assert cli.main(["devices", "add", "SCAN-7", "--kind", "scanner"]) == 0
    password = capsys.readouterr().out.rsplit(" ", 1)[1].strip()
    with pytest.raises(SystemExit):  # argparse refuses a kind outside the registry's
        cli.main(["devices", "add", "NOPASS-1", "--kind", "nonsense"])
    assert cli.main(["devices", "add", "bad code", "--kind", "scanner"]) == 1
    passwd = tmp_path / "keylink.passwd"
    assert cli.main(["devices", "mosquitto-passwd", "--out", str(passwd)]) == 0
    users = [line.split(":", 1)[0] for line in passwd.read_text().splitlines()]
    assert users == ["SCAN-7", "keylink-ingest"]

    config = tmp_path / "auth.conf"
    config.write_text(f"allow_anonymous false\npassword_file {passwd}\n")
    with Mosquitto(tmp_path / "broker", free_port(0), config=config) as broker:
        assert _login(broker, "SCAN-7", password) == 0
        assert _login(broker, "keylink-ingest", "s3cret/pass") == 0
        assert _login(broker, "SCAN-7", "wrong") != 0
        assert _login(broker, "nobody", password) != 0


def _login(broker: Mosquitto, user: str, password: str) -> int:
    result: list[int] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result.append(reason.value)
        done.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert done.wait(10), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0]


def test_our_hashes_match_mosquitto_passwd(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "u", "pa55word"], check=True)
    theirs = path.read_text().strip().split(":", 1)[1]
    _, _kind, iterations, salt, _key = theirs.split("$")
    ours = hash_password("pa55word", iterations=int(iterations), salt=base64.b64decode(salt))
    assert ours == theirs
    assert verify_password("pa55word", theirs) and not verify_password("other", theirs)
