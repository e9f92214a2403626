"""The device simulator: what it publishes through a real Mosquitto is what the decoders
and filters accept (but for the bad messages it is told to send), vehicles carry on
from their stored tracks, scanners read labels at loading and unloading, and the
ingester stores it all."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from api.embedded import Mosquitto
from domain.db import Database
from settings import Settings
from tests.support.factory import build
from tests.support.shipments import build_tracking
from tracking.decoders import ais, decode
from tracking.filters import check_fix
from tracking.ingester import run_ingester
from tracking.model import AisFragment, Fix, Mode, Rejection, Scan, VoyageData
from tracking.simulator import run_simulator
from tracking.traffic import Journey, Stop, Traffic

Received = tuple[str, bytes, datetime]


@pytest.fixture
def listener(mqtt_broker: Mosquitto) -> Iterator[list[Received]]:
    """Everything published under keylink/v1/devices/ while the test runs."""
    got: list[Received] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-test-{uuid.uuid4().hex}")
    client.on_connect = lambda c, *_: c.subscribe("keylink/v1/devices/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, m: got.append((m.topic, m.payload, datetime.now(UTC)))
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.loop_start()
    assert subscribed.wait(10)
    yield got
    client.disconnect()
    client.loop_stop()


async def _simulate(database_url: str, broker: Mosquitto, seconds: float,
                    bad_share: float) -> Counter[str]:
    sent: Counter[str] = Counter()
    settings = Settings(database_url=database_url, mqtt_url=broker.url)
    await run_simulator(settings, rate=40, duration=seconds, stop=None, bad_share=bad_share,
                        seed=3, sent=sent)
    return sent


async def _last_fixes(db: Database) -> dict[str, Fix]:
    rows = await db.fetch(
        "SELECT DISTINCT ON (v.id) v.code, v.mmsi, p.fix_time, p.latitude, p.longitude"
        " FROM vehicle v JOIN position p ON p.vehicle_id = v.id ORDER BY v.id, p.fix_time DESC")
    return {r["code"]: Fix("", r["fix_time"], r["latitude"], r["longitude"], None, None, None,
                           "native") for r in rows}  # type: ignore[arg-type]


async def test_simulated_traffic_is_what_the_decoders_and_filters_accept(
    db: Database, database_url: str, mqtt_broker: Mosquitto, listener: list[Received]
) -> None:
    t = await build_tracking(db, await build(db))
    sent = await _simulate(database_url, mqtt_broker, 3.0, bad_share=0.25)
    for _ in range(100):
        if len(listener) >= sum(sent.values()):
            break
        await asyncio.sleep(0.05)
    assert len(listener) == sum(sent.values())

    # Each vehicle's stored track, then every fix it sent, in order: the filters'
    # view, so a simulated vehicle that jumped off its track would be caught here.
    latest = await _last_fixes(db)
    vehicle_of = {"GPS-WAG-1": ("WAG-1", Mode.RAIL), "GPS-TRK-2": ("TRK-2", Mode.ROAD),
                  "AIS-SHIP-1": ("SHIP-1", Mode.WATER)}
    readings: Counter[str] = Counter()
    rejected = 0
    scans: list[Scan] = []
    halves: dict[tuple[str, str, int], list[str]] = {}
    for topic, payload, received in listener:
        try:
            for r in decode(topic, payload, received):
                if isinstance(r, AisFragment):  # the simulator splits every other voyage
                    group = halves.setdefault((r.device, r.channel, r.seq_id), [])
                    group.append(r.sentence)
                    if len(group) < r.count:
                        continue
                    (r,) = ais.decode_group(r.device, halves.pop((r.device, r.channel,
                                                                  r.seq_id)), received)
                if isinstance(r, Fix):
                    code, mode = vehicle_of[r.device]
                    check_fix(r, now=received, previous=latest.get(code), mode=mode)
                    latest[code] = r
                    readings[r.source.value] += 1
                elif isinstance(r, Scan):
                    scans.append(r)
                else:
                    assert isinstance(r, VoyageData) and r.mmsi == 413456789 and r.imo == 9412232
                    readings["voyage"] += 1
        except Rejection:
            rejected += 1
    assert rejected == sent["bad"] > 0
    assert readings["native"] > 10 and readings["ais"] > 10 and readings["voyage"] >= 1
    assert not halves
    # TRK-2 is loading FAW-VW-2 and GALANZ-2 at the plant. Numbers with a hyphen are
    # no plain barcode: their labels are GS1, the number as the serial (AI 21).
    assert {(s.coil_number, s.step.value, s.site_code) for s in scans} == {
        ("FAW-VW-2", "loading", "BAOSHAN"), ("GALANZ-2", "loading", "BAOSHAN")}
    assert all(s.parsed["10"] == "26H00001" for s in scans)
    assert {topic.split("/")[3] for topic, _, _ in listener} == {
        "GPS-WAG-1", "GPS-TRK-2", "AIS-SHIP-1", "SCN-PLANT"}
    assert t.leg["shared-1"]


async def test_the_ingester_stores_what_the_simulator_publishes(
    db: Database, database_url: str, mqtt_broker: Mosquitto
) -> None:
    t = await build_tracking(db, await build(db))
    settings = Settings(database_url=database_url, mqtt_url=mqtt_broker.url,
                        ingest_group=f"sim-{uuid.uuid4().hex[:8]}",
                        ingest_client_id=f"sim-ingest-{uuid.uuid4().hex[:8]}",
                        ingest_session_expiry_s=0, ingest_batch_ms=50)
    stop, ready = asyncio.Event(), asyncio.Event()
    ingester = asyncio.create_task(run_ingester(settings, stop=stop, ready=ready))

    async def stored() -> tuple[int, int, int]:
        row = await db.fetchrow(
            "SELECT (SELECT count(*) FROM position WHERE vehicle_id = $1"
            " AND fix_time > now() - interval '1 minute') AS wagon,"
            " (SELECT count(*) FROM scan_event) AS scans,"
            " (SELECT count(*) FROM rejected_message) AS rejected", t.vehicle["WAG-1"])
        assert row is not None
        return row["wagon"], row["scans"], row["rejected"]

    try:
        await asyncio.wait_for(ready.wait(), 15)
        sent = await _simulate(database_url, mqtt_broker, 2.5, bad_share=0.1)
        deadline = time.monotonic() + 20
        while (found := await stored()) < (5, 2, 0) or found[1] < 2 or found[2] < sent["bad"]:
            assert time.monotonic() < deadline, (sent, found)
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(ingester, 30)
    scanned = await db.fetch("SELECT c.coil_no FROM scan_event s JOIN coil c ON c.id = s.coil_id")
    assert {r["coil_no"] for r in scanned} == {"FAW-VW-2", "GALANZ-2"}
    reasons = {r["reason"] for r in await db.fetch("SELECT reason FROM rejected_message")}
    assert reasons <= {"malformed", "null_island", "impossible_speed"}


def _journey(now: datetime, **changes: Any) -> Journey:
    values: dict[str, Any] = dict(
        leg_id=1, mode="road", status="planned", vehicle_id=1, device="GPS-1",
        device_kind="gps_unit", mmsi=None, imo=None, name="T1",
        origin=Stop("BAOSHAN", (31.405, 121.475), "SCN-A", False),
        destination=Stop("FAWVW-CC-WH", (31.50, 121.60), "SCN-B", True),
        departure=now + timedelta(minutes=10), arrive_by=now + timedelta(hours=3),
        coils=[("BX26C0000001", "26H00001"), ("BX26C0000002", "26H00001")])
    values.update(changes)
    return Journey(**values)


def test_a_journey_loads_drives_unloads_and_is_received() -> None:
    now = datetime(2026, 11, 25, 8, tzinfo=UTC)
    traffic = Traffic(random.Random(1), bad_share=0)
    traffic.update([_journey(now)], now)

    def send(at: datetime, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            m = traffic.next(at)
            assert m is not None
            out.append({"kind": m.kind, "device": m.topic.split("/")[3], **json.loads(m.payload)})
        return out

    loading = send(now, 3)
    assert [(m["kind"], m["device"], m.get("step")) for m in loading] == [
        ("scan", "SCN-A", "loading"), ("scan", "SCN-A", "loading"), ("position", "GPS-1", None)]
    assert [m["code"] for m in loading[:2]] != ["BX26C0000001", "BX26C0000002"]  # one is GS1
    assert (loading[2]["lat"], loading[2]["lon"], loading[2]["speed_kmh"]) == (
        31.405, 121.475, 0.0)
    moving = send(now + timedelta(minutes=20), 1)[0]
    assert moving["speed_kmh"] >= 40 and 31.405 < moving["lat"] < 31.5
    # 17 km at 40 km/h: arrived within the hour, unloaded, received at the warehouse.
    arrived = send(now + timedelta(hours=1), 5)
    assert [(m["kind"], m.get("step")) for m in arrived] == [
        ("scan", "unloading"), ("scan", "unloading"), ("scan", "receiving"),
        ("scan", "receiving"), ("position", None)]
    # Each scan is a message of its own: a scanner's is known by device, time and code.
    scans = [m for m in loading + arrived if m["kind"] == "scan"]
    assert len({(m["device"], m["ts"], m["code"]) for m in scans}) == len(scans)
    assert (arrived[-1]["lat"], arrived[-1]["lon"], arrived[-1]["speed_kmh"]) == (
        31.5, 121.6, 0.0)
    # Then it waits there; nothing is scanned twice.
    later = send(now + timedelta(hours=2), 3)
    assert {(m["kind"], m["lat"], m["lon"], m["speed_kmh"]) for m in later} == {
        ("position", 31.5, 121.6, 0.0)}


async def test_keylink_simulate_runs_for_its_duration(
    db: Database, database_url: str, mqtt_broker: Mosquitto, listener: list[Received]
) -> None:
    await build_tracking(db, await build(db))
    env = {k: v for k, v in os.environ.items() if k not in ("MQTT_URL", "DATABASE_URL")}

    async def keylink(*args: str, **extra: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.cli", *args, env={**env, **extra},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    code, _, err = await keylink("simulate", DATABASE_URL=database_url)
    assert code == 2 and "MQTT_URL" in err
    code, out, err = await keylink(
        "simulate", "--rate", "30", "--duration", "1", "--vehicles", "1", "--bad-share", "0",
        DATABASE_URL=database_url, MQTT_URL=mqtt_broker.url)
    assert code == 0 and out.startswith("sent "), err
    await asyncio.sleep(0.5)
    devices = {topic.split("/")[3] for topic, _, _ in listener}
    # One vehicle, the first under way, and the scans of the leg being loaded.
    assert len(devices - {"SCN-PLANT"}) == 1 and len(listener) >= 25
