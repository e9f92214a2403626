"""Tracking test data on top of ``tests.support.factory.build``: sites with fences, a
truck with a GPS unit and a scanner, dock scanners, and a shipment of coils from the
plant to a customer warehouse near Shanghai."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.db import Database
from domain.shipments.manifest import CreatedShipment, LegInput, create_shipment
from tests.support.factory import World, build
from tracking.detect import StoredFix, StoredScan
from tracking.model import Fix, Scan, ScanStep, Source

# Whole seconds, an hour back: times round-trip through timestamptz unchanged, and the
# day's position partition exists.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

PLANT = (31.40, 121.48)  # factory.build's Baoshan works: a circle of 2,500 m
WAREHOUSE = (31.30, 121.62)  # WH-NEAR, FAW-VW's: a circle of 500 m, about 17 km away
OPEN_ROAD = (31.35, 121.55)  # between the two, outside every fence
PORT = (31.45, 121.40)  # LUOJING: a square polygon of about 2 km


def offset(lat: float, lon: float, north_m: float = 0.0, east_m: float = 0.0
           ) -> tuple[float, float]:
    """A point so many metres north and east of (lat, lon)."""
    r = 6_371_008.8
    return (lat + math.degrees(north_m / r),
            lon + math.degrees(east_m / (r * math.cos(math.radians(lat)))))


def square(lat: float, lon: float, half_deg: float) -> dict[str, Any]:
    ring = [[lon - half_deg, lat - half_deg], [lon + half_deg, lat - half_deg],
            [lon + half_deg, lat + half_deg], [lon - half_deg, lat + half_deg],
            [lon - half_deg, lat - half_deg]]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class Track:
    world: World
    site: dict[str, int] = field(default_factory=dict)
    truck: int = 0
    gps: int = 0  # the truck's GPS unit
    truck_scanner: int = 0  # a handheld bound to the truck
    dock_scanner: int = 0  # bound to the plant's dispatch dock
    warehouse_scanner: int = 0  # bound to WH-NEAR
    shipment: CreatedShipment | None = None
    coils: list[int] = field(default_factory=list)  # on the manifest

    @property
    def leg(self) -> int:
        assert self.shipment is not None
        return self.shipment.leg_ids[0]


async def build_track(db: Database, *, promised_by: datetime | None = None) -> Track:
    w = await build(db)
    t = Track(world=w, site={"plant": w.site["plant"]})
    async with db.transaction() as tx:
        t.site["warehouse"] = await tx.fetchval(
            "INSERT INTO site (code, name, kind, org_id, latitude, longitude, geofence_radius_m)"
            " VALUES ('WH-NEAR', 'FAW-VW Shanghai', 'customer_warehouse', $1, $2, $3, 500)"
            " RETURNING id", w.org["FAW-VW"], *WAREHOUSE)
        t.site["port"] = await tx.fetchval(
            "INSERT INTO site (code, name, kind, latitude, longitude, geofence)"
            " VALUES ('LUOJING', 'Luojing port', 'port', $1, $2, $3) RETURNING id",
            *PORT, square(*PORT, 0.01))
        t.truck = await tx.fetchval(
            "INSERT INTO vehicle (code, kind, name, plate) VALUES ('T1', 'truck', 'Truck 1',"
            " '沪A12345') RETURNING id")
        t.gps = await _device(tx, "gps-t1", "gps_unit", vehicle=t.truck)
        t.truck_scanner = await _device(tx, "scan-t1", "scanner", vehicle=t.truck)
        t.dock_scanner = await _device(tx, "scan-dock", "scanner", site=t.site["plant"])
        t.warehouse_scanner = await _device(tx, "scan-wh", "scanner", site=t.site["warehouse"])
        # Two FAW-VW coils and one of GALANZ: the shipment has two customers.
        t.coils = [*w.coils["FAW-VW"][:2], w.coils["GALANZ"][0]]
        t.shipment = await create_shipment(tx, "SH-1", [LegInput(
            mode="road", origin_site_id=t.site["plant"],
            destination_site_id=t.site["warehouse"], planned_departure=T0,
            planned_arrival=T0 + timedelta(hours=3), vehicle_id=t.truck,
            promised_by=promised_by, coil_ids=t.coils)])
    return t


async def _device(tx: object, code: str, kind: str, *, vehicle: int | None = None,
                  site: int | None = None) -> int:
    device_id: int = await tx.fetchval(  # type: ignore[attr-defined]
        "INSERT INTO device (code, kind, vehicle_id, site_id) VALUES ($1, $2, $3, $4)"
        " RETURNING id", code, kind, vehicle, site)
    return device_id


async def store_fixes(
    db: Database, t: Track, points: list[tuple[timedelta, tuple[float, float]]],
    *, speed_kmh: float | None = 50.0, out_of_order: bool = False,
) -> list[StoredFix]:
    """Store the truck's fixes at T0 + offset, as the ingester would, and hand them
    over as detection receives them."""
    fixes = [Fix("gps-t1", T0 + dt, lat, lon, speed_kmh, None, 5.0, Source.NATIVE)
             for dt, (lat, lon) in points]
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO position (device_id, vehicle_id, fix_time, received_at, latitude,"
            " longitude, speed_kmh, accuracy_m, source) VALUES ($1, $2, $3, $3, $4, $5, $6,"
            " $7, 'native') ON CONFLICT DO NOTHING",
            [(t.gps, t.truck, f.fix_time, f.latitude, f.longitude, f.speed_kmh, f.accuracy_m)
             for f in fixes])
    return [StoredFix(t.truck, t.gps, f, out_of_order) for f in fixes]


async def store_scan(
    db: Database, t: Track, *, device: int, code: str, step: ScanStep, at: timedelta,
    site: int | None = None, vehicle: int | None = None,
) -> StoredScan:
    """Store one scan (the coil resolved from its number, as the ingester does)."""
    scan = Scan("dev", T0 + at, code, code, None, step, None)
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            "INSERT INTO scan_event (device_id, code, coil_id, step, site_id, vehicle_id,"
            " scanned_at, received_at) SELECT $1, $2, (SELECT id FROM coil WHERE coil_no = $2),"
            " $3, $4, $5, $6, $6 RETURNING id, coil_id",
            device, code, step.value, site, vehicle, scan.scanned_at)
    assert row is not None
    return StoredScan(row["id"], device, scan, row["coil_id"], site, vehicle)


async def coil_no(db: Database, coil_id: int) -> str:
    no: str = await db.fetchval("SELECT coil_no FROM coil WHERE id = $1", coil_id)
    return no
