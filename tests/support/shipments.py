"""Small, exact tracking data on top of :func:`tests.support.factory.build`.

Three shipments, each leg with its vehicle, manifest, fixes and events:

- ``faw``: FAW-VW-0 and -1, truck TRK-1 plant -> rail yard (done yesterday), then wagon
  WAG-1 yard -> FAW's warehouse (in transit, delayed), 1,000 fixes along the way.
- ``galanz``: GALANZ-0 and -1, truck TRK-1 plant -> dock (done this morning, after
  FAW's leg), then ship SHIP-1 dock -> GALANZ's warehouse (in transit).
- ``shared``: FAW-VW-2 and GALANZ-2 on truck TRK-2 plant -> dock (loading).

So TRK-1 carried both customers' coils, each in its own window, and now carries
nothing; SHIP-1 is only ever GALANZ's; WAG-1 only FAW's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.db import Database, Transaction
from tests.support.factory import World

NOW = datetime.now(UTC).replace(microsecond=0)
# Where the sites are (latitude, longitude): ours, and the factory's warehouses.
SITES = {"YARD": (31.36, 121.41), "DOCK": (31.42, 121.51), "FAW-VW": (43.9, 125.3),
         "GALANZ": (43.9, 125.3)}
WAGON_FIXES = 1000


@dataclass
class Tracking:
    world: World
    vehicle: dict[str, int] = field(default_factory=dict)
    device: dict[str, int] = field(default_factory=dict)
    site: dict[str, int] = field(default_factory=dict)
    shipment: dict[str, int] = field(default_factory=dict)
    leg: dict[str, int] = field(default_factory=dict)


async def build_tracking(db: Database, w: World) -> Tracking:
    t = Tracking(w)
    async with db.transaction() as tx:
        for code in ("YARD", "DOCK"):
            kind, (lat, lon) = ("rail_station" if code == "YARD" else "port"), SITES[code]
            t.site[code] = await tx.fetchval(
                "INSERT INTO site (code, name, kind, latitude, longitude, geofence_radius_m)"
                " VALUES ($1, $1, $2, $3, $4, 500) RETURNING id", code, kind, lat, lon)
        t.site["plant"] = w.site["plant"]
        for code, kind, plate, mmsi, imo in (
            ("TRK-1", "truck", "沪A12345", None, None),
            ("TRK-2", "truck", "沪A67890", None, None),
            ("WAG-1", "rail_wagon", "C70E 1801234", None, None),
            ("SHIP-1", "ship", None, 413456789, 9412232),
        ):
            t.vehicle[code] = await tx.fetchval(
                "INSERT INTO vehicle (code, kind, name, plate, mmsi, imo) VALUES"
                " ($1, $2, $1, $3, $4, $5) RETURNING id", code, kind, plate, mmsi, imo)
        for code, kind, vehicle, site in (
            ("GPS-TRK-1", "gps_unit", "TRK-1", None), ("GPS-TRK-2", "gps_unit", "TRK-2", None),
            ("GPS-WAG-1", "gps_unit", "WAG-1", None), ("AIS-SHIP-1", "ais_gateway", "SHIP-1", None),
            ("SCN-PLANT", "scanner", None, "plant"), ("SCN-DOCK", "scanner", None, "DOCK"),
        ):
            t.device[code] = await tx.fetchval(
                "INSERT INTO device (code, kind, vehicle_id, site_id) VALUES ($1, $2, $3, $4)"
                " RETURNING id", code, kind, t.vehicle.get(vehicle or ""),
                t.site.get(site or ""))
        await _shipment(tx, t, "faw", ["FAW-VW"], [
            ("faw-1", "road", "TRK-1", "plant", "YARD", -30, -27, "unloaded"),
            ("faw-2", "rail", "WAG-1", "YARD", w.site["FAW-VW"], -26, 48, "in_transit"),
        ], [w.coils["FAW-VW"][0], w.coils["FAW-VW"][1]])
        await _shipment(tx, t, "galanz", ["GALANZ"], [
            ("galanz-1", "road", "TRK-1", "plant", "DOCK", -8, -6, "unloaded"),
            ("galanz-2", "water", "SHIP-1", "DOCK", w.site["GALANZ"], -5, 200, "in_transit"),
        ], [w.coils["GALANZ"][0], w.coils["GALANZ"][1]])
        await _shipment(tx, t, "shared", ["FAW-VW", "GALANZ"], [
            ("shared-1", "road", "TRK-2", "plant", "DOCK", -1, 3, "loading"),
        ], [w.coils["FAW-VW"][2], w.coils["GALANZ"][2]])
        await tx.execute("UPDATE shipment_leg SET delayed = true, eta = planned_arrival"
                         " + interval '9 hours', eta_confidence = 0.8 WHERE id = $1",
                         t.leg["faw-2"])
        await _fixes(tx, t)
        await _events(tx, t)
    return t


async def _shipment(tx: Transaction, t: Tracking, name: str, customers: list[str],
                    legs: list[tuple[str, str, str, object, object, int, int, str]],
                    coils: list[int]) -> None:
    db = tx
    status = legs[-1][7]
    t.shipment[name] = await db.fetchval(
        "INSERT INTO shipment (number, status) VALUES ($1, $2) RETURNING id",
        f"SH-{name.upper()}", status)
    for cust in customers:
        await db.execute(
            "INSERT INTO shipment_customer VALUES ($1, $2)", t.shipment[name],
            t.world.org[cust])
    for seq, (leg, mode, vehicle, origin, dest, dep_h, arr_h, leg_status) in enumerate(legs, 1):
        done = leg_status == "unloaded"
        t.leg[leg] = await db.fetchval(
            "INSERT INTO shipment_leg (shipment_id, seq, mode, vehicle_id, origin_site_id,"
            " destination_site_id, planned_departure, planned_arrival, status,"
            " actual_departure, actual_arrival) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
            " $10, $11) RETURNING id",
            t.shipment[name], seq, mode, t.vehicle[vehicle], _site(t, origin),
            _site(t, dest), NOW + timedelta(hours=dep_h), NOW + timedelta(hours=arr_h),
            leg_status, NOW + timedelta(hours=dep_h) if leg_status != "loading" else None,
            NOW + timedelta(hours=arr_h) if done else None)
        for coil in coils:
            await db.execute("INSERT INTO leg_coil VALUES ($1, $2)",
                             t.leg[leg], coil)


def _site(t: Tracking, ref: object) -> int:
    return ref if isinstance(ref, int) else t.site[str(ref)]


def _on_the_way(t: Tracking, origin: str, destination: int, share: float) -> tuple[float, float]:
    """A point ``share`` of the straight way between two sites (no corridor is known
    between the test's sites), where a simulated vehicle would carry on from."""
    a = SITES[origin]
    b = SITES["FAW-VW"] if destination == t.world.site["FAW-VW"] else SITES["GALANZ"]
    return a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share


async def _fixes(tx: Transaction, t: Tracking) -> None:
    rows = []
    # The wagon since it left the yard 26 hours ago: one fix every ~93 s, along its way.
    start = NOW - timedelta(hours=26)
    step = timedelta(hours=26) / WAGON_FIXES
    for i in range(WAGON_FIXES):
        lat, lon = _on_the_way(t, "YARD", t.world.site["FAW-VW"], 0.0004 * (i + 1))
        rows.append((t.device["GPS-WAG-1"], t.vehicle["WAG-1"], start + step * (i + 1),
                     lat, lon, 60.0, 30.0, 15.0, "native"))
    # TRK-1 on FAW's leg, on GALANZ's leg, and after both (on no leg of anyone's).
    for hours, lat in ((-29, 31.38), (-28, 31.37), (-7, 31.41), (-6.5, 31.415), (-1, 31.2)):
        rows.append((t.device["GPS-TRK-1"], t.vehicle["TRK-1"], NOW + timedelta(hours=hours),
                     lat, 121.45, 40.0, 90.0, 8.0, "native"))
    lat, lon = _on_the_way(t, "DOCK", t.world.site["GALANZ"], 0.01)
    rows.append((t.device["AIS-SHIP-1"], t.vehicle["SHIP-1"], NOW - timedelta(hours=1),
                 lat, lon, 18.5, 20.0, 10.0, "ais"))
    await tx.executemany(
        "INSERT INTO position (device_id, vehicle_id, fix_time, received_at, latitude,"
        " longitude, speed_kmh, heading, accuracy_m, source) VALUES ($1, $2, $3, $3, $4, $5,"
        " $6, $7, $8, $9)", rows)


async def _events(tx: Transaction, t: Tracking) -> None:
    for name, leg, kind, hours in (("faw", "faw-1", "departed", -30),
                                   ("faw", "faw-1", "arrived", -27),
                                   ("faw", "faw-2", "departed", -26),
                                   ("faw", "faw-2", "delayed", -2),
                                   ("galanz", "galanz-2", "departed", -5)):
        await tx.execute(
            "INSERT INTO shipment_event (shipment_id, leg_id, kind, occurred_at, details,"
            " dedupe_key) VALUES ($1, $2, $3, $4, $5, $6)", t.shipment[name], t.leg[leg],
            kind, NOW + timedelta(hours=hours), {"test": True}, f"{leg}:{kind}")
    await tx.execute(
        "INSERT INTO coil_location (coil_id, vehicle_id, since) VALUES ($1, $2, $3)",
        t.world.coils["FAW-VW"][0], t.vehicle["WAG-1"], NOW - timedelta(hours=26))
    await tx.execute(
        "INSERT INTO coil_location (coil_id, site_id, since) VALUES ($1, $2, $3)",
        t.world.coils["GALANZ"][2], t.site["plant"], NOW - timedelta(hours=2))
