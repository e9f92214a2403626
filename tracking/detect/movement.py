"""From fixes to movement: fence presence, and the departures and arrivals it proves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from domain.db import Executor
from tracking.detect import reads
from tracking.detect.legs import LegBook
from tracking.detect.model import DetectedEvent, StoredFix, key
from tracking.geofence import ENTERED, FenceEvent, FenceIndex, Presence, step_all

# Leaving the origin this long before the planned departure is an earlier trip of the
# vehicle (it shuttles between plant and port several times a day), not this leg's.
DEPARTURE_LEAD = timedelta(hours=24)
# A leg can arrive from these states: it has left. A leg still at its origin that shows
# up in its destination fence is a vehicle on another errand, or a wrong assignment.
ARRIVING_FROM = ("departed", "in_transit", "exception")


def by_vehicle(fixes: Sequence[StoredFix]) -> dict[int, list[StoredFix]]:
    """Each vehicle's fixes in time order (a batch interleaves devices)."""
    out: dict[int, list[StoredFix]] = {}
    for f in sorted(fixes, key=lambda f: (f.vehicle_id, f.fix.fix_time)):
        out.setdefault(f.vehicle_id, []).append(f)
    return out


async def follow_fixes(
    tx: Executor, fences: FenceIndex, fixes: Sequence[StoredFix], book: LegBook,
    found: list[DetectedEvent],
) -> None:
    """Step every vehicle's fence presences through its fixes, moving its legs on what
    the fences confirm; the presences are read and written once for the batch."""
    grouped = by_vehicle(fixes)
    before = await reads.presences(tx, list(grouped))
    after = {v: dict(p) for v, p in before.items()}
    for vehicle_id, vehicle_fixes in grouped.items():
        for stored in vehicle_fixes:
            after[vehicle_id] = await _one_fix(tx, fences, stored, after[vehicle_id], book,
                                               found)
    await reads.save_presences(tx, before, after)


async def _one_fix(
    tx: Executor, fences: FenceIndex, stored: StoredFix, presences: dict[int, Presence],
    book: LegBook, found: list[DetectedEvent],
) -> dict[int, Presence]:
    fix, vehicle_id = stored.fix, stored.vehicle_id
    inside = fences.sites_at(fix.latitude, fix.longitude)
    kinds = {s: f.kind for s in {*presences, *inside} if (f := fences.fence(s)) is not None}
    presences_after, fired = step_all(presences, inside, fix.fix_time, kinds)
    # A departed leg is under way from the first later fix clear of the origin.
    for leg in book.of_vehicle(vehicle_id):
        if (leg.status == "departed" and leg.actual_departure is not None
                and fix.fix_time > leg.actual_departure and leg.origin_site_id not in inside):
            await book.advance(tx, leg, "in_transit", fix.fix_time, found, "gps")
    for site_id, event in fired:
        _note_crossing(book, vehicle_id, site_id, event, kinds.get(site_id), found)
        if event.kind == ENTERED:
            await _arrival(tx, book, vehicle_id, site_id, event, found)
        else:
            await _departure(tx, book, vehicle_id, site_id, event, found)
    return presences_after


def _note_crossing(
    book: LegBook, vehicle_id: int, site_id: int, event: FenceEvent, site_kind: str | None,
    found: list[DetectedEvent],
) -> None:
    kind = "geofence_entered" if event.kind == ENTERED else "geofence_exited"
    leg = book.current(vehicle_id)
    found.append(DetectedEvent(
        kind, leg.shipment_id if leg else None, leg.id if leg else None, vehicle_id, event.at,
        key(kind, vehicle_id, site_id, event.at), {"site_id": site_id, "site_kind": site_kind}))


async def _departure(
    tx: Executor, book: LegBook, vehicle_id: int, site_id: int, event: FenceEvent,
    found: list[DetectedEvent],
) -> None:
    """A confirmed stay at a leg's origin has ended: the leg has departed (its loading
    is proven by the departure, so a leg still planned passes through loading)."""
    for leg in book.of_vehicle(vehicle_id):
        if (leg.origin_site_id == site_id and leg.status in ("planned", "loading")
                and event.at >= leg.planned_departure - DEPARTURE_LEAD):
            await book.advance(tx, leg, "departed", event.at, found, "gps")
            return


async def _arrival(
    tx: Executor, book: LegBook, vehicle_id: int, site_id: int, event: FenceEvent,
    found: list[DetectedEvent],
) -> None:
    """A confirmed stay at a leg's destination, begun after it left: it has arrived, at
    the time it came inside."""
    for leg in book.of_vehicle(vehicle_id):
        if (leg.destination_site_id == site_id and leg.status in ARRIVING_FROM
                and (leg.actual_departure is None or event.at >= leg.actual_departure)):
            await book.advance(tx, leg, "arrived", event.at, found, "gps")
            return
