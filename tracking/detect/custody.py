"""From scans to custody: where each coil is, what its scans prove about its leg, and
the scans that do not add up (far from the vehicle, an unknown code, a coil not on the
manifest, a coil on quality hold loaded, a coil scanned at a site off its route)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.db import Executor
from domain.shipments import manifest as shipment_manifest
from domain.shipments.legs import ActiveLeg
from tracking.detect import reads
from tracking.detect.legs import LegBook
from tracking.detect.model import DetectedEvent, StoredScan, key
from tracking.filters import haversine_km
from tracking.model import ScanStep

# A scan whose vehicle was farther than this from the scanning site was not where the
# scan says: a scanner carried off, a wrong vehicle binding, or a label read at the gate
# of another yard. 2 km clears the largest yard fences measured from their centres.
FAR_KM = 2.0

ONTO_VEHICLE = (ScanStep.LOADING, ScanStep.TRANSSHIPPING)
AT_ORIGIN = (ScanStep.LOADING, ScanStep.TRANSSHIPPING, ScanStep.DEPARTING)
AT_SITE = (ScanStep.ARRIVING, ScanStep.UNLOADING, ScanStep.RECEIVING)
CHECKS_MANIFEST = (ScanStep.LOADING, ScanStep.UNLOADING)
# Legs whose coils have come off at the destination: loading there again is not their
# business any more (the coil is delivered).
DELIVERED = ("unloaded", "received")


async def follow_scans(
    tx: Executor, scans: Sequence[StoredScan], book: LegBook, found: list[DetectedEvent],
    *, far_km: float = FAR_KM,
) -> dict[int, datetime]:
    """Apply the scans in time order; returns, per vehicle concerned, its newest scan
    time (what the lazy arrival checks judge by)."""
    places = await reads.scan_places(tx, scans)
    seen: dict[int, datetime] = {}
    unloading: dict[int, datetime] = {}  # legs with coils coming off, and when last
    for scan in sorted(scans, key=lambda s: (s.scan.scanned_at, s.scan_id)):
        place = places.get(scan.scan_id)
        site_id = place.site_id if place is not None else scan.site_id
        at = scan.scan.scanned_at
        _check_distance(scan, place, book, found, far_km)
        if scan.coil_id is None:
            _note(found, "unknown_coil", scan, book.current(scan.vehicle_id), site_id)
            continue
        leg = _leg_for(book, scan, site_id)
        for vehicle_id in (scan.vehicle_id, leg.vehicle_id if leg else None):
            if vehicle_id is not None:
                seen[vehicle_id] = max(at, seen.get(vehicle_id, at))
        _check_manifest(scan, book, found, site_id)
        if place is not None and place.coil_blocked and scan.scan.step in ONTO_VEHICLE:
            # On quality hold (a dispute's containment, say): it should not be leaving.
            _note(found, "blocked_coil_loaded", scan, leg or book.current(scan.vehicle_id),
                  site_id, coil_id=scan.coil_id)
        if _off_route(scan, place, book, site_id):
            # Scanned where its shipment does not go (a scanner at another customer's
            # warehouse, a site named wrongly): the mill hears of it, nothing moves.
            _note(found, "scan_off_route", scan, leg, site_id, coil_id=scan.coil_id,
                  site=place.site_code if place is not None else None)
            continue
        await _move_coil(tx, scan, leg, site_id)
        if leg is not None:
            await _move_leg(tx, book, scan, leg, site_id, found)
            if scan.scan.step in AT_SITE and site_id == leg.destination_site_id:
                unloading[leg.id] = max(at, unloading.get(leg.id, at))
    await _complete(tx, book, unloading, found)
    return seen


def _off_route(
    scan: StoredScan, place: reads.ScanPlace | None, book: LegBook, site_id: int | None
) -> bool:
    """Whether a coil was scanned at a site its shipment is not bound for: loading,
    transshipping or departing elsewhere than where one of its legs sets out; arriving
    or receiving elsewhere than where one ends; unloading at neither (coils put back off
    at the dock are no anomaly). The scanner's own site is held to it too, so a scanner
    installed at one site cannot move coils by naming another. A coil on no shipment
    under way may be anywhere but at another customer's warehouse, named or the
    scanner's own."""
    assert scan.coil_id is not None
    sites = {s for s in (site_id, place.scanner_site_id if place else None) if s is not None}
    if not sites:
        return False  # a handheld on a vehicle, naming no site: nothing to hold it to
    step = scan.scan.step
    legs = book.carrying(scan.coil_id)
    if step in AT_ORIGIN:
        legs = [leg for leg in legs if leg.status not in DELIVERED]
    if not legs:
        # Neither the site named nor the scanner's own may be another customer's.
        return place is not None and any(
            owner is not None and owner != place.coil_owner
            for owner in (place.warehouse_of, place.scanner_warehouse_of))
    origins = {leg.origin_site_id for leg in legs}
    destinations = {leg.destination_site_id for leg in legs}
    allowed = (origins if step in AT_ORIGIN
               else destinations | origins if step == ScanStep.UNLOADING
               else destinations)
    return not sites <= allowed


def _leg_for(book: LegBook, scan: StoredScan, site_id: int | None) -> ActiveLeg | None:
    """The leg this scan concerns: among the legs carrying the coil, the scanning
    vehicle's (or one no vehicle is assigned to yet), then the one starting (or ending)
    at the scanning site, by step. A coil loaded onto the wrong truck moves no leg."""
    assert scan.coil_id is not None
    legs = book.carrying(scan.coil_id)
    if scan.vehicle_id is not None:
        legs = ([leg for leg in legs if leg.vehicle_id == scan.vehicle_id]
                or [leg for leg in legs if leg.vehicle_id is None])
    at_origin = scan.scan.step in AT_ORIGIN
    for leg in legs:
        if site_id == (leg.origin_site_id if at_origin else leg.destination_site_id):
            return leg
    return legs[0] if legs else None


async def _move_coil(
    tx: Executor, scan: StoredScan, leg: ActiveLeg | None, site_id: int | None
) -> None:
    """Loading puts the coil on the scanning vehicle (or, from a dock scanner, on the
    vehicle of the leg leaving that dock); arriving, unloading and receiving put it at
    the site. Only a newer scan moves it (see set_coil_location)."""
    assert scan.coil_id is not None
    at, step = scan.scan.scanned_at, scan.scan.step
    if step in ONTO_VEHICLE:
        vehicle_id = scan.vehicle_id
        if vehicle_id is None and leg is not None and site_id in (None, leg.origin_site_id):
            vehicle_id = leg.vehicle_id
        if vehicle_id is not None:
            await shipment_manifest.set_coil_location(tx, scan.coil_id, vehicle_id=vehicle_id,
                                              since=at, scan_id=scan.scan_id)
    elif step in AT_SITE and site_id is not None:
        await shipment_manifest.set_coil_location(tx, scan.coil_id, site_id=site_id, since=at,
                                          scan_id=scan.scan_id)


async def _move_leg(
    tx: Executor, book: LegBook, scan: StoredScan, leg: ActiveLeg, site_id: int | None,
    found: list[DetectedEvent],
) -> None:
    at, step = scan.scan.scanned_at, scan.scan.step
    leg = book.get(leg.id) or leg
    if step in ONTO_VEHICLE and site_id in (None, leg.origin_site_id):
        await book.advance(tx, leg, "loading", at, found, "scan")
    elif step == ScanStep.DEPARTING and site_id in (None, leg.origin_site_id):
        await book.advance(tx, leg, "departed", at, found, "scan")
    elif step == ScanStep.ARRIVING and site_id == leg.destination_site_id:
        await book.advance(tx, leg, "arrived", at, found, "scan")


async def _complete(
    tx: Executor, book: LegBook, unloading: dict[int, datetime], found: list[DetectedEvent]
) -> None:
    """A leg is unloaded once every coil of its manifest is at its destination, and
    received once every one has been scanned in as received."""
    if not unloading:
        return
    manifests = await reads.manifests(tx, list(unloading))
    for leg_id, at in unloading.items():
        leg, manifest = book.get(leg_id), manifests.get(leg_id)
        if leg is None or manifest is None:
            continue
        if manifest.received == manifest.coils:
            await book.advance(tx, leg, "received", at, found, "scan")
        elif manifest.at_destination == manifest.coils:
            await book.advance(tx, leg, "unloaded", at, found, "scan")


def _check_distance(
    scan: StoredScan, place: reads.ScanPlace | None, book: LegBook,
    found: list[DetectedEvent], far_km: float,
) -> None:
    if (scan.vehicle_id is None or place is None or place.site_lat is None
            or place.site_lon is None or place.vehicle_lat is None
            or place.vehicle_lon is None):
        return  # no site, or no recent fix of the vehicle: nothing to compare
    km = haversine_km(place.site_lat, place.site_lon, place.vehicle_lat, place.vehicle_lon)
    if km > far_km:
        _note(found, "scan_far_from_vehicle", scan, book.current(scan.vehicle_id),
              place.site_id, distance_km=round(km, 2))


def _check_manifest(
    scan: StoredScan, book: LegBook, found: list[DetectedEvent], site_id: int | None
) -> None:
    """Loading or unloading a coil that none of the scanning vehicle's legs carries.
    Scans from a dock scanner name no vehicle, so there is no manifest to hold them to."""
    if scan.scan.step not in CHECKS_MANIFEST or scan.vehicle_id is None:
        return
    legs = book.of_vehicle(scan.vehicle_id)
    if not any(scan.coil_id in leg.coil_ids for leg in legs):
        _note(found, "coil_not_on_manifest", scan, legs[0] if legs else None, site_id,
              coil_id=scan.coil_id)


def _note(
    found: list[DetectedEvent], kind: str, scan: StoredScan, leg: ActiveLeg | None,
    site_id: int | None, **extra: object,
) -> None:
    found.append(DetectedEvent(
        kind, leg.shipment_id if leg else None, leg.id if leg else None, scan.vehicle_id,
        scan.scan.scanned_at, key(kind, scan.scan_id),
        {"scan_id": scan.scan_id, "code": scan.scan.code, "step": scan.scan.step.value,
         "site_id": site_id, **extra}))
