"""Time-based findings: each moving leg's ETA and delay, and arrivals nobody unloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from domain.db import Executor
from domain.shipments import lateness as shipment_lateness
from domain.shipments import legs as shipment_legs
from domain.shipments.eta import Mode, estimate, haversine_km
from tracking.detect import reads
from tracking.detect.legs import LegBook
from tracking.detect.model import DetectedEvent, StoredFix, key
from tracking.geofence import FenceIndex

# Legs whose ETA follows the vehicle: before departure the vehicle's position says
# nothing about when the goods arrive, after arrival there is nothing left to estimate.
MOVING = ("departed", "in_transit")


def latest_fixes(fixes: list[StoredFix]) -> dict[int, StoredFix]:
    """Each vehicle's newest fix of the batch: the one ETA is computed from, so that a
    leg's ETA is written at most once per batch however many fixes it brought."""
    latest: dict[int, StoredFix] = {}
    for f in fixes:
        if f.vehicle_id not in latest or f.fix.fix_time > latest[f.vehicle_id].fix.fix_time:
            latest[f.vehicle_id] = f
    return latest


async def update_etas(
    tx: Executor, fences: FenceIndex, latest: Mapping[int, StoredFix], book: LegBook,
    now: datetime, found: list[DetectedEvent],
) -> None:
    moving = [(v, leg, latest[v]) for v in latest for leg in book.of_vehicle(v)
              if leg.status in MOVING]
    if not moving:
        return
    speeds = await reads.recent_speeds(tx, {v: f.fix.fix_time for v, f in latest.items()})
    rows: list[tuple[int, datetime, float, bool]] = []
    for vehicle_id, leg, stored in moving:
        destination = fences.fence(leg.destination_site_id)
        if destination is None:
            continue  # a site newer than the index: estimated after the next refresh
        fix = stored.fix
        est = estimate(
            remaining_km=haversine_km(fix.latitude, fix.longitude, destination.latitude,
                                         destination.longitude),
            recent_speeds_kmh=speeds.get(vehicle_id, []), mode=Mode(leg.mode),
            now=now, fix_age=now - fix.fix_time)
        promise = shipment_lateness.promise(leg.promised_by, leg.planned_arrival)
        delayed = shipment_lateness.is_delayed(est.eta, leg.promised_by, leg.planned_arrival,
                                       was_delayed=leg.delayed)
        if delayed != leg.delayed:
            kind = "delayed" if delayed else "back_on_time"
            found.append(DetectedEvent(
                kind, leg.shipment_id, leg.id, leg.vehicle_id, fix.fix_time,
                key(kind, leg.id, fix.fix_time),
                {"eta": est.eta.isoformat(), "promised_by": promise.isoformat(),
                 "confidence": est.confidence}))
            book.put(replace(leg, delayed=delayed))
        rows.append((leg.id, est.eta, est.confidence, delayed))
    await shipment_legs.write_etas(tx, rows)


async def check_unloads(
    tx: Executor, book: LegBook, seen: Mapping[int, datetime], grace: timedelta,
    found: list[DetectedEvent],
) -> None:
    """Arrived legs whose manifest saw no unloading scan within ``grace`` of arriving.

    Judged lazily, when later data of the vehicle (``seen``: vehicle -> the time of its
    newest fix or scan in the batch) shows the grace is over: detection runs only as data
    comes in, and needs no timer that one ingester would own. A vehicle that falls
    silent after arriving is not judged until it reports again.
    """
    due = [leg for v, at in seen.items() for leg in book.of_vehicle(v)
           if leg.status == "arrived" and leg.actual_arrival is not None
           and at >= leg.actual_arrival + grace]
    if not due:
        return
    manifests = await reads.manifests(tx, [leg.id for leg in due])
    for leg in due:
        manifest = manifests.get(leg.id)
        if manifest is None or manifest.handled:
            continue  # nothing aboard to unload, or unloading has begun
        assert leg.actual_arrival is not None
        found.append(DetectedEvent(
            "arrival_without_unload", leg.shipment_id, leg.id, leg.vehicle_id,
            leg.actual_arrival + grace, key("arrival_without_unload", leg.id),
            {"site_id": leg.destination_site_id, "arrived_at": leg.actual_arrival.isoformat(),
             "coils": manifest.coils, "grace_hours": grace.total_seconds() / 3600}))
