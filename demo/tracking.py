"""The demo's coils on their way: vehicles, devices, shipments with legs and manifests,
the tracks, scans and detected events behind them, coherent with now.

FAW-VW's coils go by truck from the Baoshan works to the Yanghang rail yard, by rail
wagon to Changchun and by truck to the press-shop store; Galanz's by truck to Baoshan
dock 3, by coastal ship to Beijiao (Foshan) and by truck to its Shunde warehouse. Each
line's shipped coils form one shipment on the day they left. Shipments of the last
days are under way now, some late; a few finished lines wait to be loaded. Tracks
are kept for the legs of the last ``TRACK_DAYS`` days. Times are relative to the
moment of seeding (on its day), so the simulator can carry on where the data ends.

Each leg's ETA and delay are what the ingester's detection would have left: a moving
leg's ETA is estimated from its vehicle's latest fix (``domain.shipments.eta``, as
detection does), and whether that is late is ``domain.shipments.is_delayed``, the
ingester's own definition. So the first fixes after start confirm the demo's flags
rather than flip them.

``plan`` makes the fleet and the shipments in memory: logistics' records (vehicles,
devices, shipments with legs and manifests) are made of them (:mod:`demo.records`).
Once those are applied, ``write`` adds what happened since: tracks, scans, detected
events, where each coil is, and the states and times the platform moved legs and
shipments to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

from domain.db import Transaction
from domain.shipments import lateness as shipment_lateness
from domain.shipments.eta import SPEED_SAMPLES, SPEED_WINDOW, Mode, estimate, haversine_km
from domain.shipments.labels import label
from domain.shipments.routes import progress, route

from . import fleet
from .build import DemoData
from .catalogue import FAW_VW, GALANZ
from .fleet import Fleet, Judged, Planned, Timetable
from .schedule import CST

TRACK_DAYS = 10
# Fix interval per mode: trucks report often, wagons and ships less.
FIX_EVERY = {"road": timedelta(minutes=2), "rail": timedelta(minutes=10),
             "water": timedelta(minutes=15)}
# (mode, origin, destination, pool, hours after the previous leg's arrival, hours planned)
ITINERARY: dict[str, tuple[tuple[str, str, str, str, float, float], ...]] = {
    FAW_VW: (("road", "BAOSHAN", "SH-YANGHANG", "truck-sh", 0, 3),
             ("rail", "SH-YANGHANG", "CHANGCHUN-RAIL", "wagon", 14, 118),
             ("road", "CHANGCHUN-RAIL", "FAWVW-CC-WH", "truck-cc", 6, 2.5)),
    GALANZ: (("road", "BAOSHAN", "BAOSHAN-DOCK-3", "truck-sh", 0, 1.5),
             ("water", "BAOSHAN-DOCK-3", "FOSHAN-BEIJIAO", "ship", 10, 168),
             ("road", "FOSHAN-BEIJIAO", "GALANZ-SD-WH", "truck-fs", 6, 2.5)),
}


@dataclass(frozen=True)
class TrackingSummary:
    vehicles: int
    devices: int
    shipments: int
    legs: int
    positions: int
    scans: int
    events: int


@dataclass
class _Rows:
    shipments: list[tuple[Any, ...]] = field(default_factory=list)
    legs: list[tuple[Any, ...]] = field(default_factory=list)
    positions: list[tuple[Any, ...]] = field(default_factory=list)
    scans: list[tuple[Any, ...]] = field(default_factory=list)
    locations: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    # Per run of a vehicle (vehicle id, departure): its latest fix and the speeds before
    # it, newest first, as detection reads them (``_Tail``).
    tracked: dict[tuple[int, datetime], _Tail] = field(default_factory=dict)


@dataclass(frozen=True)
class _Tail:
    at: datetime
    latitude: float
    longitude: float
    speeds: list[float]


def seeding_now(today: date) -> datetime:
    """Now, when seeding for today; midday of ``today`` (China time) otherwise."""
    now = datetime.now(UTC).replace(microsecond=0)
    if now.astimezone(CST).date() == today:
        return now
    return datetime.combine(today, time(12), CST).astimezone(UTC)


@dataclass(eq=False)
class PlannedShipment:
    """One shipment as the logistics system plans it: its customer's coils and its legs,
    with the vehicles assigned; ids are the database's, set once it is applied."""

    number: str
    customer: str
    coils: list[Any]
    legs: list[Planned]
    id: int = 0
    leg_ids: list[int] = field(default_factory=list)


@dataclass(eq=False)
class Shipping:
    """The demo's fleet and shipments as planned (what logistics feeds), and what is
    needed to write what happened to them since: the moment of seeding and the random
    stream the tracks carry on."""

    rng: random.Random
    now: datetime
    fleet: Fleet
    shipments: list[PlannedShipment]


def plan(data: DemoData, today: date, random_seed: int) -> Shipping:
    """The fleet and the shipments with their legs and manifests, in memory."""
    rng = random.Random(random_seed * 7919 + 17)
    now = seeding_now(today)
    fleet_ = Fleet(rng, list(data.sites))
    plans = [(customer, coils, [leg.with_vehicle(fleet_.assign(leg)) for leg in legs])
             for customer, coils, legs in _plans(rng, data, now)]
    numbers = count(1)
    shipments = [
        PlannedShipment(f"SH{legs[0].planned_departure.astimezone(CST):%y%m%d}"
                        f"-{next(numbers):04d}", customer, coils, legs)
        for customer, coils, legs in plans]
    return Shipping(rng, now, fleet_, shipments)


async def write(tx: Transaction, data: DemoData, shipping: Shipping,
                step: Callable[[str], None]) -> TrackingSummary:
    """What happened to the applied shipments up to now: tracks, scans, detected events,
    where each coil is, and the states and times the platform moved legs and shipments
    to (each table in one statement)."""
    step("writing tracks, scans and shipment events")
    rng, now, fleet_ = shipping.rng, shipping.now, shipping.fleet
    sites = dict(data.sites)
    rows = _Rows()
    for s in shipping.shipments:
        first = s.legs[0].planned_departure.astimezone(CST)
        rows.shipments.append((s.id, fleet.shipment_status(s.legs, now),
                               first - timedelta(days=2), now))
        for seq, (leg, leg_id) in enumerate(zip(s.legs, s.leg_ids, strict=True), 1):
            judged = _history(rng, rows, leg, leg_id, s.id, s.coils, now, sites, fleet_)
            rows.legs.append(leg.history(leg_id, seq == len(s.legs), now, judged))
    await _copy(tx, rows)
    return TrackingSummary(
        vehicles=len(fleet_.vehicles), devices=len(fleet_.devices),
        shipments=len(shipping.shipments), legs=len(rows.legs), positions=len(rows.positions),
        scans=len(rows.scans), events=len(rows.events))


def _plans(rng: random.Random, data: DemoData, now: datetime
           ) -> list[tuple[str, list[Any], list[Planned]]]:
    """(customer, coils, legs) per shipment: the shipped coils of each line on the day
    they left, then a few finished lines waiting to be loaded."""
    timetable = Timetable(rng)
    out = []
    for line in data.lines:
        shipped = [c for c in line.coils if c.shipped]
        if line.ship_on is None or not shipped:
            continue
        depart = datetime.combine(line.ship_on, time(rng.randint(7, 15), rng.randrange(60)),
                                  CST).astimezone(UTC)
        out.append((line.customer.code, shipped, _legs(timetable, line, depart)))
    waiting = [ln for ln in data.lines if ln.timeline is not None and ln.timeline.all_done
               and ln.ship_share == 0 and ln.coils and ln.contract is not None]
    for customer in (FAW_VW, GALANZ):
        for i, line in enumerate([ln for ln in waiting if ln.customer.code == customer][:2]):
            depart = now + timedelta(minutes=40 + 200 * i)
            coils = [c for c in line.coils if c.quality_status == "released"][:8]
            if coils:
                out.append((customer, coils, _legs(timetable, line, depart, punctual=True)))
    out.sort(key=lambda p: p[2][0].planned_departure)
    return out


def _legs(timetable: Timetable, line: Any, depart: datetime, punctual: bool = False
          ) -> list[Planned]:
    promised = datetime.combine(line.delivery_to, time(23, 59), CST).astimezone(UTC)
    legs: list[Planned] = []
    planned_at = actual_at = depart
    for mode, origin, dest, pool, gap_h, hours in ITINERARY[line.customer.code]:
        gap = timedelta(hours=gap_h)
        planned_dep = timetable.departure(mode, planned_at + gap)
        # The coils catch the planned train or sailing, or (late) the next one.
        ready = actual_at + gap
        scheduled = timetable.departure(mode, max(ready, planned_dep))
        actual_dep, actual_arr = timetable.run(mode, scheduled, hours, ready, punctual)
        legs.append(Planned(mode, origin, dest, pool, planned_dep,
                            planned_dep + timedelta(hours=hours), promised, actual_dep,
                            actual_arr))
        planned_at, actual_at = legs[-1].planned_arrival, actual_arr
    return legs


def _history(rng: random.Random, rows: _Rows, leg: Planned, leg_id: int, shipment_id: int,
             coils: Sequence[Any], now: datetime, sites: dict[str, Any], fleet_: Fleet
             ) -> Judged:
    """What the devices reported and detection found for one leg, up to now; returns
    the leg's ETA and delay as detection would have left them."""
    vehicle = leg.vehicle
    assert vehicle is not None
    if leg.actual_departure > now + timedelta(hours=1):
        return _judge(leg, None, now, sites)
    origin, dest = sites[leg.origin], sites[leg.destination]
    final = leg.destination.endswith("-WH")
    steps = [("loading", leg.actual_departure - timedelta(minutes=50), origin, True)]
    if leg.actual_arrival <= now:
        steps.append(("unloading", leg.actual_arrival + timedelta(minutes=40), dest, False))
        if final:
            steps.append(("receiving", leg.actual_arrival + timedelta(hours=2), dest, False))
    for kind, at, site, aboard in steps:
        if at > now:
            continue
        scanner = fleet_.scanner(site.code)
        for i, coil in enumerate(coils):
            scanned = at + timedelta(seconds=20 * i)
            code = label(coil.coil_no, coil.heat.heat_no, gs1=i % 2 == 1)
            parsed = ({"01": "06901234000122", "21": coil.coil_no, "10": coil.heat.heat_no}
                      if i % 2 == 1 else {})
            rows.scans.append((scanner, code, coil.id, kind, site.id, vehicle.id, scanned,
                               scanned + timedelta(seconds=2), parsed))
            rows.locations[coil.id] = (coil.id, vehicle.id if aboard else None,
                                       None if aboard else site.id, scanned)
    if leg.actual_departure > now:
        return _judge(leg, None, now, sites)
    run = (vehicle.id, leg.actual_departure)
    if run not in rows.tracked and leg.actual_departure >= now - timedelta(days=TRACK_DAYS):
        rows.tracked[run] = _track(rng, rows, leg, now, sites)
    tail = rows.tracked.get(run)
    judged = _judge(leg, tail, now, sites)
    _event(rows, shipment_id, leg_id, vehicle.id, "departed", leg.actual_departure,
           {"site": leg.origin})
    if judged.delayed:
        # Detection noticed part way, or on the latest fix if that came first.
        known = leg.actual_departure + (leg.actual_arrival - leg.actual_departure) * 0.4
        at = min(known, tail.at) if tail is not None and leg.actual_arrival > now else known
        eta = judged.eta or leg.actual_arrival
        _event(rows, shipment_id, leg_id, vehicle.id, "delayed", min(at, now),
               {"eta": eta.isoformat(),
                "promised_by": shipment_lateness.promise(leg.promised_by,
                                                 leg.planned_arrival).isoformat()})
    if leg.actual_arrival <= now:
        _event(rows, shipment_id, leg_id, vehicle.id, "arrived", leg.actual_arrival,
               {"site": leg.destination})
    return judged


def _track(rng: random.Random, rows: _Rows, leg: Planned, now: datetime,
           sites: dict[str, Any]) -> _Tail:
    """The run's fixes up to now (or its arrival); its latest, with the speeds before it."""
    vehicle = leg.vehicle
    assert vehicle is not None
    origin, dest = sites[leg.origin], sites[leg.destination]
    way = route(leg.origin, leg.destination, (origin.latitude, origin.longitude),
                (dest.latitude, dest.longitude))
    end = min(leg.actual_arrival, now)
    hours = (leg.actual_arrival - leg.actual_departure).total_seconds() / 3600
    at = leg.actual_departure
    fixes: list[tuple[datetime, float, float, float]] = []
    while at <= end:
        elapsed = (at - leg.actual_departure).total_seconds() / 3600
        share, speed = progress(leg.mode, way.length_km, elapsed, hours)
        (lat, lon), heading = way.at(share)
        lat, lon = round(lat, 6), round(lon, 6)
        reported = round(speed * rng.uniform(0.9, 1.1), 1) if speed else 0.0
        rows.positions.append((vehicle.device_id, vehicle.id, at, at + timedelta(seconds=3),
                               lat, lon, reported, round(heading, 1),
                               rng.choice((5.0, 8.0, 12.0)),
                               "ais" if leg.mode == "water" else "native"))
        fixes.append((at, lat, lon, reported))
        at += FIX_EVERY[leg.mode]
    last = fixes[-1]
    window = [f for f in fixes if f[0] > last[0] - SPEED_WINDOW][-SPEED_SAMPLES:]
    return _Tail(last[0], last[1], last[2], [f[3] for f in reversed(window)])


def _judge(leg: Planned, tail: _Tail | None, now: datetime, sites: dict[str, Any]) -> Judged:
    """The ETA detection would give the leg now, and whether that makes it delayed.

    Under way, the estimate from the vehicle's latest fix, as the ingester makes it.
    Not yet gone, the plan, put back by as much as the coils leave late (a late leg
    before this one). Arrived, no ETA; delayed if it arrived after its promise."""
    if now >= leg.actual_arrival:
        return Judged(None, None, shipment_lateness.is_delayed(
            leg.actual_arrival, leg.promised_by, leg.planned_arrival))
    if now >= leg.actual_departure and tail is not None:
        dest = sites[leg.destination]
        est = estimate(
            remaining_km=haversine_km(tail.latitude, tail.longitude, dest.latitude,
                                      dest.longitude),
            recent_speeds_kmh=tail.speeds, mode=Mode(leg.mode), now=now,
            fix_age=now - tail.at)
        eta, confidence = est.eta, est.confidence
    elif now >= leg.actual_departure:
        eta, confidence = leg.actual_arrival, 0.3  # gone before the tracks kept
    else:
        eta = leg.planned_arrival + max(timedelta(0),
                                        leg.actual_departure - leg.planned_departure)
        confidence = 0.3
    return Judged(eta, confidence, shipment_lateness.is_delayed(eta, leg.promised_by,
                                                        leg.planned_arrival))


def _event(rows: _Rows, shipment_id: int, leg_id: int, vehicle_id: int, kind: str,
           at: datetime, details: dict[str, Any]) -> None:
    rows.events.append((shipment_id, leg_id, vehicle_id, kind, at, details,
                        f"demo:{leg_id}:{kind}", at))


async def _copy(tx: Transaction, rows: _Rows) -> None:
    from .load import _copy as copy
    from .load import history

    await history(tx, "shipment", ("id", "status", "created_at", "updated_at"),
                  ("text", "timestamptz", "timestamptz"), rows.shipments)
    await history(tx, "shipment_leg", fleet.HISTORY_COLUMNS,
                  ("text", "timestamptz", "timestamptz", "timestamptz", "numeric", "boolean"),
                  rows.legs)
    await copy(tx, "position", "device_id, vehicle_id, fix_time, received_at, latitude, "
               "longitude, speed_kmh, heading, accuracy_m, source", rows.positions)
    await copy(tx, "scan_event", "device_id, code, coil_id, step, site_id, vehicle_id, "
               "scanned_at, received_at, parsed", rows.scans, ["parsed"])
    await copy(tx, "coil_location", "coil_id, vehicle_id, site_id, since",
               list(rows.locations.values()))
    await copy(tx, "shipment_event", "shipment_id, leg_id, vehicle_id, kind, occurred_at, "
               "details, dedupe_key, recorded_at", rows.events, ["details"])
