from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.actor import Actor
from domain.contracts.production import ProgressInput, record_progress
from domain.contracts.writes import amend_line
from domain.db import Database
from domain.errors import Conflict, Invalid, InvalidTransition
from domain.shipments.legs import set_leg_status
from domain.shipments.manifest import LegInput, create_shipment
from domain.shipments.states import path_to, shipment_status
from tests.tracking.support import (
    OPEN_ROAD,
    PLANT,
    T0,
    WAREHOUSE,
    Track,
    build_track,
    coil_no,
    store_fixes,
    store_scan,
)
from tracking.detect import DetectedEvent, Detector, StoredFix, StoredScan
from tracking.model import ScanStep

M = timedelta(minutes=1)
AT_PLANT = [(-30 * M, PLANT), (-20 * M, PLANT), (-10 * M, PLANT)]
LEAVING = [(0 * M, OPEN_ROAD)]
ON_ROAD = [(10 * M, OPEN_ROAD)]
AT_WAREHOUSE = [(40 * M, WAREHOUSE), (50 * M, WAREHOUSE)]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def fixes(db: Database, d: Detector, fx: list[StoredFix]) -> list[DetectedEvent]:
    async with db.transaction() as tx:
        return await d.on_fixes(tx, fx)


async def scans(db: Database, d: Detector, sc: list[StoredScan]) -> list[DetectedEvent]:
    async with db.transaction() as tx:
        return await d.on_scans(tx, sc)


async def drive(db: Database, t: Track, d: Detector, *legs: list[tuple[timedelta, tuple[
        float, float]]]) -> list[DetectedEvent]:
    return await fixes(db, d, await store_fixes(db, t, [p for leg in legs for p in leg]))


async def leg_row(db: Database, t: Track) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT l.*, s.status AS shipment_status FROM shipment_leg l"
        " JOIN shipment s ON s.id = l.shipment_id WHERE l.id = $1", t.leg)
    assert row is not None
    return dict(row)


async def outbox(db: Database, event_type: str) -> list[int | None]:
    rows = await db.fetch(
        "SELECT org_id FROM domain_event WHERE event_type = $1 ORDER BY org_id NULLS FIRST",
        event_type)
    return [r["org_id"] for r in rows]


async def test_leaving_the_plant_departs_the_leg_and_tells_each_customer(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    found = await drive(db, t, d, AT_PLANT, LEAVING)
    assert [(e.kind, e.occurred_at) for e in found] == [
        ("geofence_entered", T0 - 30 * M), ("geofence_exited", T0), ("departed", T0)]
    leg = await leg_row(db, t)
    assert (leg["status"], leg["actual_departure"], leg["shipment_status"]) == (
        "departed", T0, "departed")
    customers = sorted([t.world.org["FAW-VW"], t.world.org["GALANZ"]])
    assert await outbox(db, "shipment.departed") == customers
    assert await outbox(db, "shipment.created") == customers
    assert await outbox(db, "shipment.geofence_exited") == [None]  # the mill's only
    assert await drive(db, t, d, ON_ROAD) == []
    leg = await leg_row(db, t)
    assert (leg["status"], leg["shipment_status"]) == ("in_transit", "in_transit")
    assert leg["eta"] is not None and 0 < leg["eta_confidence"] <= 1


async def test_a_departure_ships_the_contract_lines_of_the_coils_aboard(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    faw, galanz = t.world.contract["FAW-VW"], t.world.contract["GALANZ"]
    # GALANZ's line made 4 t: its one coil aboard (3.9 t) ships it, inside the tolerance.
    await db.execute("UPDATE contract_line SET quantity_t = 4 WHERE contract_id = $1", galanz)
    await drive(db, t, d, AT_PLANT)
    assert await outbox(db, "contract.partially_shipped") == []  # not gone yet
    await drive(db, t, d, LEAVING)
    rows = {r["contract_id"]: r for r in await db.fetch(
        "SELECT l.contract_id, l.shipped_t, l.status, k.status AS contract_status"
        " FROM contract_line l JOIN contract k ON k.id = l.contract_id")}
    aboard = {r["line_id"]: r["t"] for r in await db.fetch(
        "SELECT c.line_id, sum(c.weight_kg) / 1000.0 AS t FROM coil c WHERE c.id = ANY($1)"
        " GROUP BY c.line_id", t.coils)}
    assert rows[faw]["shipped_t"] == round(aboard[t.world.line["FAW-VW"]], 3)
    assert (rows[faw]["status"], rows[faw]["contract_status"]) == (
        "partially_shipped", "partially_shipped")  # two coils of a 120 t line
    assert (rows[galanz]["status"], rows[galanz]["contract_status"]) == ("shipped", "shipped")
    assert await outbox(db, "contract.partially_shipped") == [t.world.org["FAW-VW"]]
    assert await outbox(db, "contract.shipped") == [t.world.org["GALANZ"]]
    # Driving on moves nothing further: the leg departed once.
    await drive(db, t, d, ON_ROAD)
    assert await outbox(db, "contract.partially_shipped") == [t.world.org["FAW-VW"]]
    # The rest of FAW-VW's line is still being made, and says so.
    progress = await record_progress(db, ProgressInput(
        t.world.line["FAW-VW"], "steelmaking", Decimal(20), False), actor=Actor.system("mes"))
    assert progress.schedule.line_id == t.world.line["FAW-VW"]


async def test_one_line_shipped_in_full_leaves_its_contract_partly_shipped(
    db: Database,
) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    galanz = t.world.contract["GALANZ"]
    await db.execute("UPDATE contract_line SET quantity_t = 4 WHERE contract_id = $1", galanz)
    await db.execute(
        "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id, quantity_t,"
        " unit_price, delivery_from, delivery_to, transport_mode, status) SELECT contract_id,"
        " customer_org_id, 2, spec_id, 50, unit_price, delivery_from, delivery_to, 'rail',"
        " 'in_production' FROM contract_line WHERE contract_id = $1", galanz)
    await drive(db, t, d, AT_PLANT, LEAVING)
    lines = [r["status"] for r in await db.fetch(
        "SELECT status FROM contract_line WHERE contract_id = $1 ORDER BY line_no", galanz)]
    assert lines == ["shipped", "in_production"]
    assert await db.fetchval("SELECT status FROM contract WHERE id = $1", galanz) \
        == "partially_shipped"
    assert t.world.org["GALANZ"] in await outbox(db, "contract.partially_shipped")


async def test_coils_that_left_before_any_progress_count_once_it_is_recorded(
    db: Database,
) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    faw = t.world.contract["FAW-VW"]
    await db.execute("UPDATE contract SET status = 'confirmed' WHERE id = $1", faw)
    await db.execute("UPDATE contract_line SET status = 'confirmed' WHERE contract_id = $1", faw)
    await drive(db, t, d, AT_PLANT, LEAVING)
    # The state machine goes through in_production: nothing moves yet.
    assert await db.fetchval("SELECT status FROM contract WHERE id = $1", faw) == "confirmed"
    await record_progress(db, ProgressInput(
        t.world.line["FAW-VW"], "steelmaking", Decimal(20), False), actor=Actor.system("mes"))
    assert await db.fetchval("SELECT status FROM contract WHERE id = $1", faw) \
        == "partially_shipped"
    kinds = [r["event_type"] for r in await db.fetch(
        "SELECT event_type FROM domain_event WHERE aggregate_type = 'contract'"
        " AND aggregate_id = $1 ORDER BY seq", faw)]
    assert kinds[-2:] == ["contract.in_production", "contract.partially_shipped"]


async def test_a_line_cut_to_what_has_left_has_shipped(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, AT_PLANT, LEAVING)
    # The mill made no more than what has left (the factory's progress says 120 t).
    await db.execute("UPDATE progress_event SET tonnes = least(tonnes, 7.8)")
    line = await db.fetchrow("SELECT id, shipped_t, delivery_from, delivery_to"
                             " FROM contract_line WHERE id = $1", t.world.line["FAW-VW"])
    assert line is not None
    async with db.transaction() as tx:
        amended = await amend_line(
            tx, line["id"], quantity_t=line["shipped_t"], delivery_from=line["delivery_from"],
            delivery_to=line["delivery_to"], actor="sales")
    assert amended.status == "shipped"
    assert await db.fetchval("SELECT status FROM contract WHERE id = $1",
                             t.world.contract["FAW-VW"]) == "shipped"
    assert await outbox(db, "contract.shipped") == [t.world.org["FAW-VW"]]


async def test_entering_the_destination_arrives_at_the_entry_time(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, AT_PLANT, LEAVING, ON_ROAD)
    found = await drive(db, t, d, AT_WAREHOUSE)
    assert ("arrived", T0 + 40 * M) in [(e.kind, e.occurred_at) for e in found]
    leg = await leg_row(db, t)
    assert (leg["status"], leg["actual_arrival"], leg["shipment_status"]) == (
        "arrived", T0 + 40 * M, "arrived")
    assert len(await outbox(db, "shipment.arrived")) == 2


async def test_detection_twice_on_the_same_fixes_records_each_event_once(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    stored = await store_fixes(db, t, AT_PLANT + LEAVING + ON_ROAD + AT_WAREHOUSE)
    first = await fixes(db, d, stored)
    events_before = await db.fetchval("SELECT count(*) FROM domain_event")
    assert await fixes(db, d, stored) == []
    assert await fixes(db, Detector(clock=Clock()), stored) == []  # another ingester
    kinds = await db.fetch("SELECT kind, count(*) AS n FROM shipment_event GROUP BY kind")
    assert {r["kind"]: r["n"] for r in kinds} == {
        "geofence_entered": 2, "geofence_exited": 1, "departed": 1, "arrived": 1}
    assert len(first) == 5
    assert await db.fetchval("SELECT count(*) FROM domain_event") == events_before


async def test_out_of_order_fixes_fire_nothing_and_move_nothing(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, AT_PLANT)
    presence = await db.fetchrow("SELECT * FROM geofence_presence")
    late = await store_fixes(db, t, [(-15 * M, OPEN_ROAD)], out_of_order=True)
    assert await fixes(db, d, late) == []
    # Not flagged, but older than the presence's latest fix: still history.
    older = await store_fixes(db, t, [(-25 * M, OPEN_ROAD)])
    assert await fixes(db, d, older) == []
    assert await db.fetchrow("SELECT * FROM geofence_presence") == presence
    assert (await leg_row(db, t))["status"] == "planned"


async def test_eta_flags_delay_against_the_promise_and_back(db: Database) -> None:
    t = await build_track(db)  # no promise: judged against the planned arrival
    clock = Clock()
    d = Detector(clock=clock)
    clock.now = T0 + 10 * M
    await drive(db, t, d, AT_PLANT, LEAVING, ON_ROAD)
    leg = await leg_row(db, t)
    assert leg["delayed"] is False and leg["eta"] < T0 + 3 * 60 * M
    await db.execute("UPDATE shipment_leg SET planned_arrival = $2 WHERE id = $1",
                     t.leg, T0 + 12 * M)
    clock.now = T0 + 12 * M
    found = await drive(db, t, d, [(12 * M, OPEN_ROAD)])
    assert [(e.kind, e.occurred_at) for e in found] == [("delayed", T0 + 12 * M)]
    assert (await leg_row(db, t))["delayed"] is True
    assert await drive(db, t, d, [(13 * M, OPEN_ROAD)]) == []  # still late: said once
    await db.execute("UPDATE shipment_leg SET promised_by = $2 WHERE id = $1",
                     t.leg, T0 + 5 * 60 * M)
    clock.now = T0 + 14 * M
    found = await drive(db, t, d, [(14 * M, OPEN_ROAD)])
    assert [e.kind for e in found] == ["back_on_time"]
    leg = await leg_row(db, t)
    assert leg["delayed"] is False
    assert len(await outbox(db, "shipment.delayed")) == 2  # one per customer


async def test_a_batch_behind_a_newer_one_is_history(db: Database) -> None:
    # Two ingesters: the one with the newer fix committed first; the older batch, not
    # flagged out of order by its own ingester, must not overwrite the newer ETA.
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, AT_PLANT, LEAVING)
    newer = await store_fixes(db, t, [(30 * M, OPEN_ROAD)])
    older = await store_fixes(db, t, [(20 * M, PLANT)])
    await fixes(db, d, newer)
    eta = (await leg_row(db, t))["eta"]
    assert await fixes(db, d, older) == []
    assert (await leg_row(db, t))["eta"] == eta
    assert await db.fetchval("SELECT count(*) FROM geofence_presence") == 0


async def test_custody_follows_scans_and_a_late_scan_does_not_move_back(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    c = t.coils[0]
    no = await coil_no(db, c)
    load = await store_scan(db, t, device=t.truck_scanner, code=no, step=ScanStep.LOADING,
                            at=-15 * M, site=t.site["plant"], vehicle=t.truck)
    assert await scans(db, d, [load]) == []
    where = await db.fetchrow("SELECT * FROM coil_location WHERE coil_id = $1", c)
    assert where is not None and (where["vehicle_id"], where["since"]) == (t.truck, T0 - 15 * M)
    assert (await leg_row(db, t))["status"] == "loading"
    unload = await store_scan(db, t, device=t.warehouse_scanner, code=no,
                              step=ScanStep.UNLOADING, at=60 * M)
    late = await store_scan(db, t, device=t.truck_scanner, code=no, step=ScanStep.LOADING,
                            at=-5 * M, site=t.site["plant"], vehicle=t.truck)
    await scans(db, d, [unload])
    await scans(db, d, [late])
    where = await db.fetchrow("SELECT * FROM coil_location WHERE coil_id = $1", c)
    assert where is not None
    assert (where["site_id"], where["vehicle_id"], where["scan_id"]) == (
        t.site["warehouse"], None, unload.scan_id)


async def test_scans_unload_and_receive_the_whole_manifest(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, AT_PLANT, LEAVING, ON_ROAD, AT_WAREHOUSE)
    for step, at, done in ((ScanStep.UNLOADING, 60 * M, "unloaded"),
                           (ScanStep.RECEIVING, 70 * M, "received")):
        for i, c in enumerate(t.coils):
            scan = await store_scan(db, t, device=t.warehouse_scanner, code=await coil_no(db, c),
                                    step=step, at=at + i * M)
            found = await scans(db, d, [scan])
            # Until the last coil of the manifest, some are still aboard (or unreceived).
            assert [e.kind for e in found] == ([done] if i == len(t.coils) - 1 else [])
    leg = await leg_row(db, t)
    assert (leg["status"], leg["shipment_status"]) == ("received", "received")


async def test_scan_anomalies(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, ON_ROAD)  # the truck is on the road, 8 km from the plant
    stranger = t.world.coils["GALANZ"][1]  # not on the manifest
    batch = [
        await store_scan(db, t, device=t.dock_scanner, code="BX99NOSUCH", at=11 * M,
                         step=ScanStep.LOADING),
        await store_scan(db, t, device=t.truck_scanner, code=await coil_no(db, stranger),
                         step=ScanStep.LOADING, at=12 * M, vehicle=t.truck),
        # The dock scanner is bound to the plant; it says it loaded the truck.
        await store_scan(db, t, device=t.dock_scanner, code=await coil_no(db, t.coils[0]),
                         step=ScanStep.LOADING, at=13 * M, vehicle=t.truck),
    ]
    found = await scans(db, d, batch)
    assert [(e.kind, e.details["scan_id"]) for e in found] == [
        ("unknown_coil", batch[0].scan_id), ("coil_not_on_manifest", batch[1].scan_id),
        ("scan_far_from_vehicle", batch[2].scan_id)]
    assert found[1].leg_id == t.leg and found[2].details["distance_km"] > 2
    assert await outbox(db, "shipment.coil_not_on_manifest") == [None]
    near = await store_scan(db, t, device=t.truck_scanner, code=await coil_no(db, t.coils[1]),
                            step=ScanStep.LOADING, at=10 * M, site=None, vehicle=t.truck)
    assert await scans(db, d, [near]) == []  # no site to be far from
    await drive(db, t, d, [(20 * M, PLANT)])
    at_dock = await store_scan(db, t, device=t.dock_scanner, code=await coil_no(db, t.coils[2]),
                               step=ScanStep.LOADING, at=21 * M, vehicle=t.truck)
    assert await scans(db, d, [at_dock]) == []  # the truck is at the dock


async def test_loading_a_coil_on_quality_hold_is_an_anomaly(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await db.execute("UPDATE coil SET quality_status = 'blocked' WHERE id = $1", t.coils[0])
    held, cleared = [
        await store_scan(db, t, device=t.dock_scanner, code=await coil_no(db, coil),
                         step=ScanStep.LOADING, at=(-5 + i) * M, vehicle=t.truck)
        for i, coil in enumerate(t.coils[:2])]
    found = await scans(db, d, [held, cleared])
    assert [(e.kind, e.details["coil_id"], e.leg_id) for e in found] == [
        ("blocked_coil_loaded", t.coils[0], t.leg)]
    assert await outbox(db, "shipment.blocked_coil_loaded") == [None]  # the mill's alone
    # Unloading it at the customer is no anomaly: it is coming back or being set aside.
    off = await store_scan(db, t, device=t.warehouse_scanner, code=await coil_no(db, t.coils[0]),
                           step=ScanStep.UNLOADING, at=60 * M)
    assert "blocked_coil_loaded" not in [e.kind for e in await scans(db, d, [off])]


async def test_a_coil_loaded_onto_the_wrong_truck_moves_no_leg(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    other = await db.fetchval(
        "INSERT INTO vehicle (code, kind, name) VALUES ('T2', 'truck', 'T2') RETURNING id")
    scan = await store_scan(db, t, device=t.dock_scanner, code=await coil_no(db, t.coils[0]),
                            step=ScanStep.LOADING, at=-5 * M, vehicle=other)
    assert [e.kind for e in await scans(db, d, [scan])] == ["coil_not_on_manifest"]
    assert (await leg_row(db, t))["status"] == "planned"
    where = await db.fetchrow("SELECT vehicle_id FROM coil_location WHERE coil_id = $1",
                              t.coils[0])
    assert where is not None and where["vehicle_id"] == other  # where it really is


async def test_an_arrival_nobody_unloads_is_reported_lazily(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, AT_PLANT, LEAVING, ON_ROAD, AT_WAREHOUSE)
    assert await drive(db, t, d, [(5 * 60 * M, WAREHOUSE)]) == []  # within the grace
    found = await drive(db, t, d, [(7 * 60 * M, WAREHOUSE)])
    assert [(e.kind, e.occurred_at) for e in found] == [
        ("arrival_without_unload", T0 + 40 * M + 6 * 60 * M)]
    assert len(await outbox(db, "shipment.arrival_without_unload")) == 2
    assert await drive(db, t, d, [(8 * 60 * M, WAREHOUSE)]) == []


async def test_an_unloading_scan_satisfies_the_arrival(db: Database) -> None:
    t = await build_track(db)
    d = Detector(clock=Clock())
    await drive(db, t, d, AT_PLANT, LEAVING, ON_ROAD, AT_WAREHOUSE)
    one = await store_scan(db, t, device=t.warehouse_scanner, code=await coil_no(db, t.coils[0]),
                           step=ScanStep.UNLOADING, at=90 * M)
    await scans(db, d, [one])
    assert (await leg_row(db, t))["status"] == "arrived"  # two coils still aboard
    assert await drive(db, t, d, [(7 * 60 * M, WAREHOUSE)]) == []


async def test_leg_state_machine(db: Database) -> None:
    assert path_to("planned", "departed") == ["loading", "departed"]
    assert path_to("exception", "arrived") == ["in_transit", "arrived"]
    assert path_to("arrived", "departed") == [] and path_to("cancelled", "arrived") == []
    assert shipment_status(["arrived", "planned"]) == "in_transit"
    assert shipment_status(["unloaded", "arrived"]) == "arrived"
    assert shipment_status(["in_transit", "exception"]) == "exception"
    assert shipment_status(["cancelled", "cancelled"]) == "cancelled"
    t = await build_track(db)
    async with db.transaction() as tx:
        with pytest.raises(InvalidTransition):
            await set_leg_status(tx, t.leg, "departed", at=T0)
        assert await set_leg_status(tx, t.leg, "exception", at=T0) == "exception"
        assert await set_leg_status(tx, t.leg, "in_transit", at=T0) == "in_transit"
    rows = await db.fetch("SELECT org_id FROM shipment_customer ORDER BY org_id")
    assert [r["org_id"] for r in rows] == sorted(
        [t.world.org["FAW-VW"], t.world.org["GALANZ"]])
    leg = LegInput("road", t.site["plant"], t.site["port"], T0, T0 + 60 * M,
                   coil_ids=[t.coils[0]])
    async with db.transaction() as tx:
        with pytest.raises(Conflict):  # the coil is on SH-1 already
            await create_shipment(tx, "SH-2", [leg])
    wrong_way = LegInput("road", t.site["warehouse"], t.site["port"], T0, T0 + 60 * M)
    async with db.transaction() as tx:
        with pytest.raises(Invalid):  # the second leg does not start where the first ended
            await create_shipment(tx, "SH-3", [leg, wrong_way])
