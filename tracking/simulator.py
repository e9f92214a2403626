"""The device simulator: believable multimodal traffic over MQTT, for demos and load.

It reads the registry from the database (``DATABASE_URL``): the open legs with their
vehicles, devices, sites and manifests, and where each vehicle last reported. Then it
publishes, at ``rate`` messages a second in all, what the devices would: GPS fixes of
trucks and rail wagons, AIS sentences from the ships' gateways, coil scans at loading
and unloading (see :mod:`tracking.traffic`), and a share of bad messages the ingester
must reject. QoS 1, one client for all devices: the development broker takes anonymous
publishers; against a production broker, ``MQTT_URL`` must name a user the ACL lets
write ``keylink/v1/devices/#``. The registry is read again every ``REFRESH_SECONDS``,
so legs that detection moves on are followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from domain.db import Database, Executor
from tracking import broker
from tracking.traffic import Journey, Stop, Traffic

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger("keylink.simulator")

REFRESH_SECONDS = 30.0
SLOW_ONE_IN = 4

# Open legs with what the simulation needs of them; a vehicle reports through its
# first enabled GPS unit or AIS gateway, a site scans with its first enabled scanner.
_LEGS = """
SELECT l.id, l.mode, l.status, l.planned_departure, l.planned_arrival, l.actual_departure,
       l.eta, v.id AS vehicle_id, v.mmsi, v.imo, v.name, d.code AS device, d.kind AS device_kind,
       o.code AS o_code, o.latitude AS o_lat, o.longitude AS o_lon, o.kind AS o_kind,
       (SELECT code FROM device s WHERE s.site_id = o.id AND s.kind = 'scanner' AND s.enabled
        ORDER BY s.id LIMIT 1) AS o_scanner,
       t.code AS t_code, t.latitude AS t_lat, t.longitude AS t_lon, t.kind AS t_kind,
       (SELECT code FROM device s WHERE s.site_id = t.id AND s.kind = 'scanner' AND s.enabled
        ORDER BY s.id LIMIT 1) AS t_scanner,
       coalesce((SELECT json_agg(json_build_array(c.coil_no, h.heat_no) ORDER BY c.id)
                 FROM leg_coil lc JOIN coil c ON c.id = lc.coil_id JOIN heat h ON h.id = c.heat_id
                 WHERE lc.leg_id = l.id), '[]') AS coils,
       NOT EXISTS (SELECT 1 FROM leg_coil lc LEFT JOIN coil_location cl ON cl.coil_id = lc.coil_id
                   WHERE lc.leg_id = l.id AND cl.vehicle_id IS DISTINCT FROM l.vehicle_id) AS aboard
FROM shipment_leg l
JOIN vehicle v ON v.id = l.vehicle_id
JOIN LATERAL (SELECT code, kind FROM device WHERE vehicle_id = v.id AND enabled
              AND kind IN ('gps_unit', 'ais_gateway') ORDER BY id LIMIT 1) d ON true
JOIN site o ON o.id = l.origin_site_id
JOIN site t ON t.id = l.destination_site_id
WHERE l.status NOT IN ('unloaded', 'received', 'cancelled')
"""
_LAST_FIXES = """
SELECT v.id, p.fix_time, p.latitude, p.longitude FROM unnest($1::bigint[]) v(id)
CROSS JOIN LATERAL (SELECT fix_time, latitude, longitude FROM position p
                    WHERE p.vehicle_id = v.id ORDER BY fix_time DESC LIMIT 1) p
"""


class Departures:
    """When legs that have not left set off: at their planned time, or (overdue) soon
    after the simulation first sees them; one in ``SLOW_ONE_IN`` goes slowly."""

    def __init__(self) -> None:
        self._at: dict[int, datetime] = {}

    def of(self, r: Any, now: datetime) -> tuple[datetime, datetime]:
        planned = r["planned_arrival"] - r["planned_departure"]
        if r["actual_departure"] is not None:
            return r["actual_departure"], r["eta"] or r["planned_arrival"]
        at = self._at.setdefault(r["id"], max(r["planned_departure"],
                                              now + timedelta(minutes=2)))
        pace = 1.3 if r["id"] % SLOW_ONE_IN == 0 else 1.0
        return at, at + planned * pace


async def load_journeys(db: Executor, now: datetime, departures: Departures) -> list[Journey]:
    rows = await db.fetch(_LEGS)
    fixes = {r["id"]: r for r in await db.fetch(_LAST_FIXES, [r["vehicle_id"] for r in rows])}
    out = []
    for r in rows:
        departure, arrive_by = departures.of(r, now)
        last = fixes.get(r["vehicle_id"])
        out.append(Journey(
            leg_id=r["id"], mode=r["mode"], status=r["status"], vehicle_id=r["vehicle_id"],
            device=r["device"], device_kind=r["device_kind"], mmsi=r["mmsi"], imo=r["imo"],
            name=r["name"],
            origin=Stop(r["o_code"], (r["o_lat"], r["o_lon"]), r["o_scanner"],
                        r["o_kind"] == "customer_warehouse"),
            destination=Stop(r["t_code"], (r["t_lat"], r["t_lon"]), r["t_scanner"],
                             r["t_kind"] == "customer_warehouse"),
            departure=departure, arrive_by=arrive_by,
            coils=[(c[0], c[1]) for c in r["coils"]],
            last_fix=(last["fix_time"], (last["latitude"], last["longitude"])) if last else None,
            loaded=r["aboard"],
        ))
    return out


class Publisher:
    """One paho client on its own network thread; QoS 1 publishes, acknowledged or not."""

    def __init__(self, mqtt_url: str, ca_file: str | None = None) -> None:
        self.connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2,
                        client_id=f"keylink-sim-{uuid.uuid4().hex[:8]}")
        self.host, self.port = broker.log_in(c, mqtt_url, ca_file)
        c.max_inflight_messages_set(1000)
        c.on_connect = lambda *_: self.connected.set()
        c.on_disconnect = lambda *_: self.connected.clear()
        self.client = c
        self._last: mqtt.MQTTMessageInfo | None = None

    async def start(self, wait_s: float = 10.0) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not await asyncio.to_thread(self.connected.wait, wait_s):
            self.client.loop_stop()
            raise ConnectionError(f"no MQTT broker answered at {self.host}:{self.port}")

    def publish(self, topic: str, payload: bytes) -> None:
        self._last = self.client.publish(topic, payload, qos=1)

    async def close(self, wait_s: float = 10.0) -> None:
        last = self._last
        if last is not None:
            # Messages are acknowledged in order: the last one's ack means all were taken.
            with contextlib.suppress(RuntimeError, ValueError):  # never sent: nothing to wait
                await asyncio.to_thread(last.wait_for_publish, wait_s)
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)


async def run_simulator(
    settings: Settings, *, rate: float, duration: float | None, stop: asyncio.Event | None,
    vehicles: int | None = None, bad_share: float = 0.01, seed: int | None = None,
    sent: Counter[str] | None = None,
) -> None:
    """Publish until ``duration`` seconds have passed or ``stop`` is set (or the task is
    cancelled). ``sent`` is filled with how many messages of each kind went out."""
    if not settings.database_url or not settings.mqtt_url:
        raise ValueError("the simulator needs DATABASE_URL and MQTT_URL")
    if rate <= 0 or not 0 <= bad_share <= 1:
        raise ValueError("rate must be positive and bad_share within 0..1")
    stop = stop or asyncio.Event()
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    publisher = Publisher(settings.mqtt_url, settings.mqtt_ca_file)
    traffic = Traffic(random.Random(seed), bad_share=bad_share, vehicles=vehicles)
    departures = Departures()
    try:
        await publisher.start()
        log.info("simulating %s msg/s on %s:%d", rate, publisher.host, publisher.port)
        await _loop(db, publisher, traffic, departures, rate, duration, stop)
    finally:
        await publisher.close()
        await db.close()
        if sent is not None:
            sent.update(traffic.sent)
        log.info("simulator sent %s", dict(traffic.sent))


async def _loop(db: Database, publisher: Publisher, traffic: Traffic, departures: Departures,
                rate: float, duration: float | None, stop: asyncio.Event) -> None:
    began = time.monotonic()
    refreshed = -REFRESH_SECONDS
    due = 0.0
    while not stop.is_set():
        elapsed = time.monotonic() - began
        if duration is not None and elapsed >= duration:
            return
        now = datetime.now(UTC)
        if elapsed - refreshed >= REFRESH_SECONDS:
            traffic.update(await load_journeys(db, now, departures), now)
            refreshed = elapsed
            if not traffic.leads:
                log.warning("no vehicle has a leg under way or due: nothing to simulate")
        # Send what is due by now, so a slow tick never lowers the rate.
        while due <= elapsed * rate:
            message = traffic.next(now)
            due += 1
            if message is not None:
                publisher.publish(message.topic, message.payload)
        wait = (due / rate) - (time.monotonic() - began)
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
