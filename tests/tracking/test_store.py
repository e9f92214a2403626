"""Batch writes, the device registry and the latest-fix cache, against real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.db import Database
from tests.support import factory
from tracking.model import Fix, Mode, Scan, ScanStep, Source, VoyageData
from tracking.registry import LatestFixes, Registry
from tracking.store import (
    Partitions,
    PositionRow,
    RejectedRow,
    ScanRow,
    drop_old_positions,
    insert_positions,
    insert_rejections,
    insert_scans,
    latest_positions,
    update_vessels,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def fix(t: datetime, lat: float = 31.4, lon: float = 121.5) -> Fix:
    return Fix("GPS-1", t, lat, lon, 50.0, 90.0, 5.0, Source.NATIVE)


async def fleet(db: Database) -> dict[str, int]:
    """A truck with a GPS unit, a ship with an AIS gateway, a scanner at a site."""
    ids: dict[str, int] = {}
    async with db.transaction() as tx:
        org = await tx.fetchval("INSERT INTO organization (code, name, kind)"
                                " VALUES ('MILL', 'Mill', 'mill') RETURNING id")
        ids["site"] = await tx.fetchval(
            "INSERT INTO site (code, name, kind, org_id, latitude, longitude, geofence_radius_m)"
            " VALUES ('DOCK-3', 'Dock 3', 'port', $1, 31.4, 121.5, 500) RETURNING id", org)
        ids["truck"] = await tx.fetchval(
            "INSERT INTO vehicle (code, kind, name) VALUES ('TRUCK-1', 'truck', 'T1') RETURNING id")
        ids["ship"] = await tx.fetchval(
            "INSERT INTO vehicle (code, kind, name, mmsi) VALUES ('SHIP-1', 'ship', 'S1',"
            " 367380120) RETURNING id")
        ids["gps"] = await tx.fetchval(
            "INSERT INTO device (code, kind, vehicle_id, owntracks_id) VALUES"
            " ('GPS-1', 'gps_unit', $1, 'driver/phone') RETURNING id", ids["truck"])
        ids["ais"] = await tx.fetchval(
            "INSERT INTO device (code, kind) VALUES ('AIS-1', 'ais_gateway') RETURNING id")
        ids["scanner"] = await tx.fetchval(
            "INSERT INTO device (code, kind, site_id) VALUES ('SCAN-1', 'scanner', $1)"
            " RETURNING id", ids["site"])
    return ids


async def test_positions_are_stored_once_and_the_new_ones_named(db: Database) -> None:
    ids = await fleet(db)
    rows = [PositionRow(ids["gps"], ids["truck"], fix(NOW - timedelta(seconds=i)), NOW)
            for i in range(10)]
    await Partitions(400).ensure(db, {r.fix.fix_time.date() for r in rows})
    async with db.transaction() as tx:
        first = await insert_positions(tx, rows[:6] + rows[:2])  # a repeat within the batch
    async with db.transaction() as tx:
        second = await insert_positions(tx, rows)
    assert first == {r.key for r in rows[:6]}
    assert second == {r.key for r in rows[6:]}
    assert await db.fetchval("SELECT count(*) FROM position") == 10


async def test_the_days_a_batch_touches_get_partitions_and_old_ones_are_dropped(
    db: Database,
) -> None:
    ids = await fleet(db)
    month_ago = NOW - timedelta(days=30)
    ancient = NOW - timedelta(days=500)
    partitions = Partitions(400)
    await partitions.ensure(db, {month_ago.date(), ancient.date()})
    async with db.transaction() as tx:
        await insert_positions(tx, [PositionRow(ids["gps"], ids["truck"], fix(t), NOW)
                                    for t in (month_ago, ancient)])
    names = {r["tableoid"] for r in await db.fetch("SELECT tableoid::regclass::text FROM position")}
    assert names == {_partition(month_ago.date()), "position_default"}

    old = (NOW - timedelta(days=420)).date()
    await db.execute("SELECT ensure_position_partitions($1::date, 1)", old)
    assert await drop_old_positions(db, 400) == 1
    assert await db.fetchval("SELECT to_regclass($1)", _partition(old)) is None
    assert await db.fetchval("SELECT to_regclass($1)", _partition(month_ago.date())) is not None


def _partition(day: date) -> str:
    return f"position_{day:%Y%m%d}"


async def test_scans_name_known_coils_and_are_stored_once(db: Database) -> None:
    world = await factory.build(db)
    scanner = await db.fetchval(
        "INSERT INTO device (code, kind, site_id) VALUES ('SCAN-9', 'scanner', $1) RETURNING id",
        world.site["plant"])
    scans = [ScanRow(scanner, Scan("SCAN-9", NOW, code, code, None, ScanStep.LOADING, None,
                                   {"raw": code}), world.site["plant"], None, NOW)
             for code in ("FAW-VW-0", "NOT-A-COIL")]
    async with db.transaction() as tx:
        stored = await insert_scans(tx, scans)
    async with db.transaction() as tx:
        again = await insert_scans(tx, scans)
    assert {s.row.scan.code: s.coil_id for s in stored} == {
        "FAW-VW-0": world.coils["FAW-VW"][0], "NOT-A-COIL": None}
    assert again == []
    assert await db.fetchval("SELECT parsed->>'raw' FROM scan_event WHERE code = 'FAW-VW-0'") \
        == "FAW-VW-0"


async def test_rejections_are_recorded_once_per_topic_and_payload(db: Database) -> None:
    big = b"x" * 10_000
    rows = [RejectedRow("t/a", big, NOW, "malformed", "bad", "A"),
            RejectedRow("t/a", big, NOW, "malformed", "bad", "A"),
            RejectedRow("t/b", b"{}", NOW, "unknown_device", "", None)]
    async with db.transaction() as tx:
        await insert_rejections(tx, rows)
        await insert_rejections(tx, rows[:1])
    got = await db.fetch("SELECT topic, length(payload) AS kept, payload_bytes, reason, detail"
                         " FROM rejected_message ORDER BY topic")
    assert [tuple(r) for r in got] == [("t/a", 4096, 10_000, "malformed", "bad"),
                                       ("t/b", 2, 2, "unknown_device", None)]


async def test_vessel_data_updates_name_imo_and_reported_voyage(db: Database) -> None:
    ids = await fleet(db)
    heard, eta = datetime(2026, 11, 25, 8, tzinfo=UTC), datetime(2026, 11, 28, 14, tzinfo=UTC)
    await update_vessels(db, [
        VoyageData("AIS-1", 367380120, 9123456, "GOLDEN GATE", "CNFOS BEIJIAO", eta),
        VoyageData("AIS-1", 111111111, 9999999, "NOBODY", None, None)], heard)
    row = await db.fetchrow("SELECT name, imo, reported_destination, reported_eta,"
                            " voyage_heard_at FROM vehicle WHERE id = $1", ids["ship"])
    assert row is not None
    assert tuple(row) == ("GOLDEN GATE", 9123456, "CNFOS BEIJIAO", eta, heard)


async def test_registry_resolves_devices_modes_and_late_registrations(db: Database) -> None:
    ids = await fleet(db)
    registry = Registry(db)
    await registry.refresh()
    gps = await registry.device("GPS-1")
    assert gps is not None and gps.vehicle_id == ids["truck"]
    assert await registry.owntracks("driver/phone") == gps
    truck = await registry.vehicle(ids["truck"])
    assert truck is not None and truck.mode is Mode.ROAD
    ship = await registry.vessel(367380120)
    assert ship is not None and ship.mode is Mode.WATER
    assert await registry.site("DOCK-3") == ids["site"]
    assert await registry.device("GPS-2") is None

    # Registered after the load: found on its first message, without a reload.
    await db.execute("INSERT INTO device (code, kind, vehicle_id) VALUES ('GPS-2', 'gps_unit', $1)",
                     ids["truck"])
    registry = Registry(db, negative_seconds=0)
    await registry.refresh()
    await db.execute("INSERT INTO device (code, kind) VALUES ('GPS-3', 'gps_unit')")
    found = await registry.device("GPS-3")
    assert found is not None and found.vehicle_id is None


async def test_a_leg_decides_the_mode_over_the_vehicle_kind(db: Database) -> None:
    ids = await fleet(db)
    shipment = await db.fetchval("INSERT INTO shipment (number) VALUES ('S-1') RETURNING id")
    other = await db.fetchval(
        "INSERT INTO site (code, name, kind, latitude, longitude, geofence_radius_m)"
        " VALUES ('PORT-2', 'Port 2', 'port', 30, 122, 500) RETURNING id")
    await db.execute(
        "INSERT INTO shipment_leg (shipment_id, seq, mode, vehicle_id, origin_site_id,"
        " destination_site_id, planned_departure, planned_arrival, status)"
        " VALUES ($1, 1, 'water', $2, $3, $4, $5, $5, 'in_transit')",
        shipment, ids["truck"], ids["site"], other, NOW)
    registry = Registry(db)
    await registry.refresh()
    truck = await registry.vehicle(ids["truck"])
    assert truck is not None and truck.mode is Mode.WATER  # a truck on a ferry


async def test_latest_fixes_come_from_the_live_state_then_the_table(db: Database) -> None:
    ids = await fleet(db)
    async with db.transaction() as tx:
        await insert_positions(tx, [PositionRow(ids["gps"], ids["truck"], fix(NOW), NOW)])
    live = {ids["ship"]: fix(NOW - timedelta(minutes=1))}

    async def from_live(vehicle_ids: object) -> dict[int, Fix]:
        return dict(live)

    cache = LatestFixes(from_live, lambda v: latest_positions(db, v), ttl_seconds=3600)
    await cache.warm([ids["truck"], ids["ship"]])
    truck, ship = cache.get(ids["truck"]), cache.get(ids["ship"])
    assert truck is not None and truck.fix_time == NOW
    assert ship == live[ids["ship"]]
    cache.update({ids["truck"]: fix(NOW - timedelta(hours=1))})  # older: kept as it was
    assert cache.get(ids["truck"]) == truck
