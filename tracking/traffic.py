"""What the simulated devices say, and when: vehicles moving along their legs, scanners
reading coil labels at loading and unloading, and now and then a bad message.

Pure: no I/O and no clock of its own, so it is tested like a function. Each vehicle
carries on from where its last stored fix put it (a leg under way continues its track,
not a fresh one) and moves at the pace that brings it in by its ETA, capped at what
its mode really does; a leg that sets off during the run is slow now and then (one in
four), which is how the simulation makes legs late. Payloads are the real formats:
native JSON fixes, AIS ``!AIVDM`` sentences (pyais's encoder), scans with plain coil
numbers and GS1 element strings.
"""

from __future__ import annotations

import json
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pyais import encode_dict

from domain.shipments.labels import label
from domain.shipments.routes import ROAD_KMH, Point, Route, distance_km, route

# The fastest each mode goes here: well under the ingester's jump limits.
TOP_KMH = {"road": 80.0, "rail": 100.0, "water": 35.0}
# The pace of an overdue vehicle, which has no ETA left to aim at.
CRUISE_KMH = {"road": ROAD_KMH, "rail": 60.0, "water": 22.0}
SLOW_PACE = 1.3
KNOT_KMH = 1.852
# How soon before departure a parked vehicle starts reporting, and the scans begin.
PARKED_FOR = timedelta(hours=6)
LOADING_LEAD = timedelta(minutes=45)
ENDED = frozenset({"unloaded", "received", "cancelled"})


@dataclass(frozen=True)
class Stop:
    code: str
    point: Point
    scanner: str | None
    warehouse: bool


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    kind: str  # position, ais, voyage, scan, bad


@dataclass
class Journey:
    """One open leg as the registry has it, and how the simulation drives it."""

    leg_id: int
    mode: str
    status: str
    vehicle_id: int
    device: str
    device_kind: str
    mmsi: int | None
    imo: int | None
    name: str
    origin: Stop
    destination: Stop
    departure: datetime
    arrive_by: datetime
    coils: list[tuple[str, str]]
    # (time, point) of the vehicle's last stored fix, if it belongs to this leg.
    last_fix: tuple[datetime, Point] | None = None
    # Its coils were scanned aboard already (their custody says so): no loading scans.
    loaded: bool = False
    way: Route = field(init=False)
    _t0: datetime = field(init=False)
    _share0: float = field(init=False)
    _kmh: float = field(init=False)

    def __post_init__(self) -> None:
        self.way = route(self.origin.code, self.destination.code, self.origin.point,
                         self.destination.point)
        t0, share0 = self.departure, 0.0
        if self.last_fix is not None and self.last_fix[0] >= self.departure:
            t0, share0 = self.last_fix[0], self.way.locate(self.last_fix[1])
        left_km = (1 - share0) * self.way.length_km
        left_h = (self.arrive_by - t0).total_seconds() / 3600
        kmh = left_km / left_h if left_h > 0.25 else CRUISE_KMH[self.mode]
        if self.mode == "road":
            kmh = max(kmh, ROAD_KMH)
        self._t0, self._share0, self._kmh = t0, share0, min(kmh, TOP_KMH[self.mode])

    def share(self, now: datetime) -> float:
        if now <= self._t0 or not self.way.length_km:
            return self._share0 if now >= self.departure else 0.0
        km = (now - self._t0).total_seconds() / 3600 * self._kmh
        return min(self._share0 + km / self.way.length_km, 1.0)

    def where(self, now: datetime) -> tuple[Point, float, float]:
        """(point, heading, speed km/h) at ``now``: parked before departure and after
        arrival, moving between."""
        share = self.share(now)
        point, heading = self.way.at(share)
        moving = now >= self.departure and share < 1.0
        return point, heading, self._kmh if moving else 0.0


class Traffic:
    def __init__(self, rng: random.Random, *, bad_share: float = 0.01,
                 vehicles: int | None = None) -> None:
        self.rng = rng
        self.bad_share = bad_share
        self.max_vehicles = vehicles
        self.journeys: dict[int, Journey] = {}
        self.leads: list[Journey] = []
        self.current: list[Journey] = []
        self.queued: deque[Message] = deque()  # sent before the next fix
        self.done: dict[int, set[str]] = {}
        self.sent: Counter[str] = Counter()
        self.positions: Counter[int] = Counter()
        self._turn = 0
        self._ais_seq = 0
        self._voyages = 0

    def update(self, journeys: list[Journey], now: datetime) -> None:
        """Take the registry's open legs; what was scanned already is remembered. Each
        vehicle reports for its first leg not yet unloaded here, and moves on to the
        next only when it could really get to where that one starts."""
        self.journeys = {j.leg_id: j for j in journeys}
        by_vehicle: dict[int, list[Journey]] = {}
        for j in sorted(journeys, key=lambda j: j.departure):
            by_vehicle.setdefault(j.vehicle_id, []).append(j)
        leads = []
        for legs in by_vehicle.values():
            left = [j for j in legs if "unloading" not in self.done.get(j.leg_id, set())]
            lead = left[0] if left else legs[-1]
            before = legs.index(lead) - 1
            if before >= 0 and not plausible_after(legs[before], lead):
                lead = legs[before]
            if lead.departure <= now + PARKED_FOR:
                leads.append(lead)
        # Under way first, then the soonest to go: those are worth watching.
        leads.sort(key=lambda j: (j.departure > now, j.departure, j.vehicle_id))
        self.leads = leads[: self.max_vehicles] if self.max_vehicles else leads
        # A ship's sailing carries several shipments' legs: all of them are current.
        starts = {(j.vehicle_id, j.departure) for j in self.leads}
        self.current = [j for j in journeys if (j.vehicle_id, j.departure) in starts]
        self._turn %= max(len(self.leads), 1)

    def next(self, now: datetime) -> Message | None:
        self._scan_due(now)
        if self.queued:
            return self._count(self.queued.popleft())
        if not self.leads:
            return None
        journey = self.leads[self._turn]
        self._turn = (self._turn + 1) % len(self.leads)
        # A jump is only a jump after good fixes: the first fix of a vehicle has nothing
        # to be judged against, so a bad one then would become the reference instead.
        good = self.positions[journey.vehicle_id]
        if journey.device_kind == "gps_unit" and good >= 3 and self.rng.random() < self.bad_share:
            return self._count(self._bad(journey, now))
        self.positions[journey.vehicle_id] += 1
        return self._count(self._position(journey, now))

    def _count(self, message: Message) -> Message:
        self.sent[message.kind] += 1
        return message

    def _scan_due(self, now: datetime) -> None:
        for j in self.current:
            done = self.done.setdefault(j.leg_id, {"loading"} if j.loaded else set())
            if "loading" not in done and j.status in ("planned", "loading") \
                    and now >= j.departure - LOADING_LEAD:
                done.add("loading")
                self._scans(j, j.origin, ["loading"], now)
            if "unloading" not in done and j.status not in ENDED and j.share(now) >= 1.0:
                done.add("unloading")
                steps = ["unloading", "receiving"] if j.destination.warehouse else ["unloading"]
                self._scans(j, j.destination, steps, now)

    def _scans(self, j: Journey, stop: Stop, steps: list[str], now: datetime) -> None:
        if stop.scanner is None:
            return
        for k, step in enumerate(steps):
            # A second apart per step (unloading, then receiving): a scanner's message is
            # known by device, time and code, so the same instant twice would be a repeat.
            at = now - timedelta(seconds=len(steps) - 1 - k)
            for i, (coil_no, heat_no) in enumerate(j.coils):
                body = {"ts": _ts(at + timedelta(milliseconds=i)), "step": step,
                        "code": label(coil_no, heat_no, gs1=i % 2 == 1), "site": stop.code}
                self.queued.append(Message(_topic(stop.scanner, "scan"),
                                          json.dumps(body).encode(), "scan"))

    def _position(self, j: Journey, now: datetime) -> Message:
        (lat, lon), heading, kmh = j.where(now)
        if j.device_kind == "ais_gateway" and j.mmsi is not None:
            return self._ais(j, now, lat, lon, heading, kmh)
        body = {"ts": _ts(now), "lat": round(lat, 6), "lon": round(lon, 6),
                "speed_kmh": round(kmh, 1), "heading": round(heading, 1),
                "accuracy_m": self.rng.choice((4.0, 6.0, 9.0))}
        return Message(_topic(j.device, "position"), json.dumps(body).encode(), "position")

    def _ais(self, j: Journey, now: datetime, lat: float, lon: float, heading: float,
             kmh: float) -> Message:
        mmsi = j.mmsi or 0
        self._ais_seq = (self._ais_seq + 1) % 10
        if self._ais_seq == 0:  # static and voyage data now and then, as ships send it
            eta = j.arrive_by
            lines = encode_dict({
                "msg_type": 5, "mmsi": mmsi, "imo": j.imo or 0, "shipname": j.name[:20],
                "callsign": f"B{mmsi % 10000:04d}", "ship_type": 70, "ais_version": 0,
                "destination": j.destination.code[:20], "month": eta.month, "day": eta.day,
                "hour": eta.hour, "minute": eta.minute, "draught": 6.2, "epfd": 1,
                "to_bow": 60, "to_stern": 40, "to_port": 8, "to_starboard": 8,
            }, talker_id="AI", sentence_type="VDM", radio_channel="A", seq_id=j.leg_id % 10)
            self._voyages += 1
            if self._voyages % 2 == 1:
                # Some gateways forward sentence by sentence: the second half follows as
                # a message of its own, which another ingester of the group may receive.
                first, *rest = lines
                self.queued.extend(Message(_topic(j.device, "ais"), line.encode(), "voyage")
                                   for line in rest)
                return Message(_topic(j.device, "ais"), first.encode(), "voyage")
            return Message(_topic(j.device, "ais"), "\n".join(lines).encode(), "voyage")
        lines = encode_dict({
            "msg_type": 1, "mmsi": mmsi, "status": 0 if kmh else 5, "lat": round(lat, 5),
            "lon": round(lon, 5), "speed": round(kmh / KNOT_KMH, 1), "course": round(heading, 1),
            "heading": int(heading) % 360, "second": now.second, "accuracy": 1,
        }, talker_id="AI", sentence_type="VDM", radio_channel="A")
        return Message(_topic(j.device, "ais"), "\n".join(lines).encode(), "ais")

    def _bad(self, j: Journey, now: datetime) -> Message:
        """Malformed JSON, a receiver without a fix (0/0), or a jump of hundreds of km."""
        (lat, lon), _, _ = j.where(now)
        kind = self.rng.choice(("malformed", "null_island", "jump"))
        if kind == "malformed":
            payload = ('{"ts": "' + _ts(now) + '", "lat": ' + f"{lat:.5f}").encode()
        else:
            if kind == "null_island":
                lat, lon = 0.0, 0.0
            else:
                lat, lon = lat + (4.0 if lat < 60 else -4.0), lon
            payload = json.dumps({"ts": _ts(now), "lat": lat, "lon": lon}).encode()
        return Message(_topic(j.device, "position"), payload, "bad")


def plausible_after(before: Journey, after: Journey) -> bool:
    """A vehicle may go on to its next leg only if it could get there in time."""
    gap_h = (after.departure - before.arrive_by).total_seconds() / 3600
    km = distance_km(before.destination.point, after.origin.point)
    return km < 1.0 or (gap_h > 0 and km / gap_h <= TOP_KMH["road"])


def _topic(device: str, kind: str) -> str:
    return f"keylink/v1/devices/{device}/{kind}"


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
