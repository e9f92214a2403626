"""Registry and site changes reach a running ingester within a second, through the
outbox's NOTIFY, however long its periodic reload (set to an hour here) is away."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from datetime import timedelta

import pytest

from api import cli
from api.embedded import Mosquitto
from domain.actor import Actor
from domain.db import Database
from domain.feeds.batch import apply_record
from tests.tracking.support import square
from tests.tracking.test_ingester import (
    NOW,
    eventually,
    ingesting,
    make_fleet,
    position,
    publisher,
    settings_for,
    track,
    unique,
)

STAFF = Actor("logistics@mill", 1, frozenset({"logistics"}), False)


def _cli(*argv: str) -> int:
    """`keylink ...` from a test's event loop (each command runs a loop of its own)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(cli.main, list(argv)).result()


async def test_a_disabled_device_is_refused_within_a_second(
    db: Database, database_url: str, mqtt_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await make_fleet(db, trucks=2)
    monkeypatch.setenv("DATABASE_URL", database_url)
    settings = settings_for(database_url, None, mqtt_broker, group=unique("g"),
                            client=unique("ing"), registry_refresh_s=3600)
    fixes = track(1, 21)
    published: list[float] = []  # seconds after the disable, per fix after the first
    async with ingesting(settings, mqtt_broker):
        with publisher(mqtt_broker) as p:
            await asyncio.to_thread(p.publish, fixes[:1])  # GPS-1 is cached as enabled
            await eventually(lambda: _count(db, "SELECT count(*) FROM position", 1))
            assert await asyncio.to_thread(_cli, "devices", "disable", "GPS-1") == 0
            disabled_at = time.monotonic()
            for message in fixes[1:]:  # ten a second for two seconds
                published.append(time.monotonic() - disabled_at)
                await asyncio.to_thread(p.publish, [message])
                await asyncio.sleep(0.1)
        await eventually(lambda: _count(
            db, "SELECT (SELECT count(*) FROM position) + (SELECT count(*) FROM"
                " rejected_message)", len(fixes)))
    rows = await db.fetch("SELECT payload FROM rejected_message WHERE reason ="
                          " 'disabled_device'")
    refused = {json.loads(bytes(r["payload"]))["ts"] for r in rows}
    late = [at for (_, body), at in zip(fixes[1:], published, strict=True)
            if json.loads(body)["ts"] not in refused]
    print(f"\n{len(refused)} of {len(published)} fixes after the disable refused; accepted"
          f" ones were published at {[round(t, 2) for t in late]} s")
    assert all(at < 1.0 for at in late)
    assert json.loads(fixes[-1][1])["ts"] in refused


async def test_a_site_added_or_redrawn_is_known_within_a_second(
    db: Database, database_url: str, mqtt_broker: Mosquitto,
) -> None:
    fleet = await make_fleet(db, trucks=1)
    truck = fleet.trucks[0]
    settings = settings_for(database_url, None, mqtt_broker, group=unique("g"),
                            client=unique("ing"), registry_refresh_s=3600)
    start = NOW - timedelta(hours=1)
    topic = "keylink/v1/devices/GPS-0/position"
    async with ingesting(settings, mqtt_broker):
        with publisher(mqtt_broker) as p:
            # A first fix, outside every fence: the ingester's fence index is built.
            await asyncio.to_thread(p.publish, [(topic, position(start, 20.0, 20.0))])
            await eventually(lambda: _count(db, "SELECT count(*) FROM position", 1))

            await apply_record(db, STAFF, "site", "NEW-YARD", {
                "name": "New yard", "kind": "plant", "latitude": 20.001, "longitude": 20.0,
                "geofenceRadiusM": 300})
            added = await _recognized(db, p, truck, "NEW-YARD", (
                topic, position(start + timedelta(minutes=1), 20.001, 20.0)))

            # DOCK-3, far away at (10, 10), redrawn as a polygon around the truck's road.
            await apply_record(db, STAFF, "site", "DOCK-3", {
                "name": "Dock 3", "kind": "port", "organization": "MILL", "latitude": 20.01,
                "longitude": 20.0, "geofence": square(20.01, 20.0, 0.002)})
            redrawn = await _recognized(db, p, truck, "DOCK-3", (
                topic, position(start + timedelta(minutes=3), 20.01, 20.0)))
    print(f"\nadded site recognized after {added:.2f}s, redrawn after {redrawn:.2f}s")
    assert added < 1.0 and redrawn < 1.0


async def _recognized(db: Database, p: object, vehicle: int, site: str,
                      fix: tuple[str, bytes]) -> float:
    """Publishes ``fix`` right after a site change and returns how long it took until
    the vehicle is placed inside ``site``."""
    changed = time.monotonic()
    await asyncio.to_thread(p.publish, [fix])  # type: ignore[attr-defined]
    await eventually(lambda: _count(
        db, "SELECT count(*) FROM geofence_presence g JOIN site s ON s.id = g.site_id"
            " WHERE g.vehicle_id = $1 AND s.code = $2", 1, vehicle, site), within=10)
    return time.monotonic() - changed


async def _count(db: Database, sql: str, expected: int, *args: object) -> bool:
    n: int = await db.fetchval(sql, *args)
    return n >= expected
