"""A coil scanned at a site its shipment is not bound for is a scan anomaly for the mill,
and moves nothing: through the ingest pipeline, as a scanner's messages arrive."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from domain.db import Database
from tests.tracking.support import T0, Track, build_track, coil_no
from tests.tracking.test_reanchor import _pipeline
from tracking.model import Message
from tracking.pipeline import Pipeline

M = timedelta(minutes=1)


async def _scan(pipeline: Pipeline, device: str, code: str, step: str, at: timedelta,
                site: str | None = None) -> list[tuple[str, Any]]:
    body: dict[str, Any] = {"ts": (T0 + at).isoformat(), "code": code, "step": step}
    if site is not None:
        body["site"] = site
    result = await pipeline.process([Message(
        f"keylink/v1/devices/{device}/scan", json.dumps(body).encode(), 0, T0 + at)])
    return [(e.kind, e.details.get("site")) for e in result.events]


async def _where(db: Database, coil: int) -> tuple[int | None, int | None]:
    row = await db.fetchrow("SELECT vehicle_id, site_id FROM coil_location WHERE coil_id = $1",
                            coil)
    return (row["vehicle_id"], row["site_id"]) if row is not None else (None, None)


async def _galanz_warehouse(db: Database, t: Track) -> int:
    """GALANZ's warehouse with a scanner installed there; coils numbered as labels are."""
    await db.execute("UPDATE coil SET coil_no = 'BX26C' || lpad(id::text, 7, '0')")
    site: int = await db.fetchval(
        "INSERT INTO site (code, name, kind, org_id, latitude, longitude, geofence_radius_m)"
        " VALUES ('GALANZ-WH', 'Galanz warehouse', 'customer_warehouse', $1, 31.1, 121.3,"
        " 500) RETURNING id", t.world.org["GALANZ"])
    await db.execute("INSERT INTO device (code, kind, site_id) VALUES ('scan-galanz',"
                     " 'scanner', $1)", site)
    return site


async def test_a_scanner_at_another_customers_warehouse_moves_no_coil(db: Database) -> None:
    t = await build_track(db)
    await _galanz_warehouse(db, t)
    pipeline = await _pipeline(db)
    faw = t.coils[0]  # FAW-VW's, on SH-1 from the plant to FAW-VW's warehouse WH-NEAR
    no = await coil_no(db, faw)
    assert await _scan(pipeline, "scan-t1", no, "loading", -10 * M, "BAOSHAN") == []
    aboard = (t.truck, None)
    assert await _where(db, faw) == aboard

    # GALANZ's scanner says it unloaded FAW-VW's coil: the mill hears, the coil stays.
    assert await _scan(pipeline, "scan-galanz", no, "unloading", 30 * M) == [
        ("scan_off_route", "GALANZ-WH")]
    assert await _where(db, faw) == aboard
    # Naming the coil's real destination does not help a scanner installed elsewhere.
    assert await _scan(pipeline, "scan-galanz", no, "receiving", 31 * M, "WH-NEAR") == [
        ("scan_off_route", "WH-NEAR")]
    assert await _where(db, faw) == aboard
    # Nor may a coil be loaded, or arrive, where its legs do not start or end.
    assert await _scan(pipeline, "scan-galanz", no, "loading", 32 * M) == [
        ("scan_off_route", "GALANZ-WH")]
    assert await _scan(pipeline, "scan-t1", no, "arriving", 33 * M, "LUOJING") == [
        ("scan_off_route", "LUOJING")]
    assert await _where(db, faw) == aboard
    leg = await db.fetchrow("SELECT status FROM shipment_leg WHERE id = $1", t.leg)
    assert leg is not None and leg["status"] == "loading"

    events = await db.fetch(
        "SELECT org_id, aggregate_type, aggregate_id, payload FROM domain_event"
        " WHERE event_type = 'shipment.scan_off_route' ORDER BY seq")
    assert len(events) == 4
    assert {(e["org_id"], e["aggregate_type"], e["aggregate_id"]) for e in events} == {
        (None, "shipment", t.shipment.id if t.shipment else None)}  # the mill's alone
    assert {e["payload"]["details"]["coil_id"] for e in events} == {faw}

    # At the coil's own destination the unloading is taken as before.
    assert await _scan(pipeline, "scan-wh", no, "unloading", 60 * M) == []
    assert await _where(db, faw) == (None, t.site["warehouse"])


async def test_a_coil_on_no_shipment_is_not_taken_into_another_customers_warehouse(
    db: Database,
) -> None:
    t = await build_track(db)
    galanz_wh = await _galanz_warehouse(db, t)
    pipeline = await _pipeline(db)
    loose = t.world.coils["FAW-VW"][2]  # on no shipment
    own = t.world.coils["GALANZ"][2]
    assert await _scan(pipeline, "scan-galanz", await coil_no(db, loose), "receiving",
                       5 * M) == [("scan_off_route", "GALANZ-WH")]
    assert await _where(db, loose) == (None, None)
    assert await _scan(pipeline, "scan-galanz", await coil_no(db, own), "receiving",
                       6 * M) == []
    assert await _where(db, own) == (None, galanz_wh)


async def test_a_scanner_naming_another_site_cannot_move_a_loose_coil_there(
    db: Database,
) -> None:
    t = await build_track(db)
    await _galanz_warehouse(db, t)
    pipeline = await _pipeline(db)
    loose = t.world.coils["FAW-VW"][2]  # on no shipment
    no = await coil_no(db, loose)
    # GALANZ's scanner names FAW-VW's own warehouse, then a port: the scanner is still
    # at GALANZ's, so the coil goes to neither.
    assert await _scan(pipeline, "scan-galanz", no, "unloading", 5 * M, "WH-NEAR") == [
        ("scan_off_route", "WH-NEAR")]
    assert await _scan(pipeline, "scan-galanz", no, "receiving", 6 * M, "LUOJING") == [
        ("scan_off_route", "LUOJING")]
    assert await _where(db, loose) == (None, None)
    # FAW-VW's own scanner there takes it in as before.
    assert await _scan(pipeline, "scan-wh", no, "receiving", 7 * M) == []
    assert await _where(db, loose) == (None, t.site["warehouse"])
