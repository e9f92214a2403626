"""The demo's fleet and the legs it drives: trucks in Shanghai, Changchun and Foshan,
coil wagons, coastal ships; a GPS unit or AIS gateway on each, a scanner at each site.

A vehicle is put on a leg only when it is free for the leg's whole time, so no truck is
in two places at once; the pools grow as the shipments need.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar

from .catalogue import FAW_VW, GALANZ
from .schedule import CST

# What the platform moves a leg to after it was fed (see Planned.history).
HISTORY_COLUMNS = ("id", "status", "actual_departure", "actual_arrival", "eta",
                   "eta_confidence", "delayed")
ENDED = ("unloaded", "received", "cancelled")
# (code prefix, kind, plate prefix, carrier) per pool.
POOLS = {
    "truck-sh": ("TRK-SH", "truck", "沪D", "SINOTRANS"),
    "truck-cc": ("TRK-CC", "truck", "吉A", "SINOTRANS"),
    "truck-fs": ("TRK-FS", "truck", "粤E", "COSCO-SHIPPING"),
    "wagon": ("WAG", "rail_wagon", "C70E ", "SINOTRANS"),
    "ship": ("SHIP", "ship", "", "COSCO-SHIPPING"),
}
SHIP_NAMES = ("HUA HANG 18", "MIN XIN 9", "ZHE HAI 157", "XIN HAI TONG 6", "YU XIN 12")
CARRIER = {FAW_VW: "SINOTRANS", GALANZ: "COSCO-SHIPPING"}
_BUSY_MARGIN = timedelta(hours=1)


@dataclass(eq=False)
class FleetVehicle:
    code: str
    kind: str
    name: str
    plate: str | None
    mmsi: int | None
    imo: int | None
    carrier: str
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    id: int = 0
    device_id: int = 0

    @property
    def device_code(self) -> str:
        return ("AIS-" if self.kind == "ship" else "GPS-") + self.code


@dataclass(frozen=True)
class Planned:
    """One leg as planned, and as it really goes (or will go) in the demo's story."""

    mode: str
    origin: str
    destination: str
    pool: str
    planned_departure: datetime
    planned_arrival: datetime
    promised_by: datetime
    actual_departure: datetime
    actual_arrival: datetime
    vehicle: FleetVehicle | None = None

    def with_vehicle(self, vehicle: FleetVehicle) -> Planned:
        return replace(self, vehicle=vehicle)

    def status(self, now: datetime, final: bool) -> str:
        if now < self.actual_departure - timedelta(hours=1):
            return "planned"
        if now < self.actual_departure:
            return "loading"
        if now < self.actual_arrival:
            return "in_transit"
        if now < self.actual_arrival + timedelta(minutes=40):
            return "arrived"
        return "received" if final and now >= self.actual_arrival + timedelta(hours=2) \
            else "unloaded"

    def history(self, leg_id: int, final: bool, now: datetime, judged: Judged
                ) -> tuple[Any, ...]:
        """Where the platform has moved the leg by ``now`` (``HISTORY_COLUMNS``): its
        state, actual times, and the ETA and delay detection would have left
        (``judged``)."""
        departed = now >= self.actual_departure
        arrived = now >= self.actual_arrival
        return (leg_id, self.status(now, final), self.actual_departure if departed else None,
                self.actual_arrival if arrived else None, judged.eta, judged.confidence,
                judged.delayed)


@dataclass(frozen=True)
class Judged:
    """A leg's ETA, how sure it is, and whether that makes the leg delayed."""

    eta: datetime | None
    confidence: float | None
    delayed: bool


class Timetable:
    """When trains and ships leave (trucks leave when loaded), and how each run really
    goes: every shipment on one train or sailing shares its times."""

    # (weekdays, hour) of scheduled departures, China time.
    SCHEDULES: ClassVar[dict[str, tuple[tuple[int, ...], int]]] = {
        "rail": ((0, 1, 2, 3, 4, 5, 6), 21), "water": ((0, 3), 18)}

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._runs: dict[tuple[str, datetime], tuple[datetime, datetime]] = {}

    def departure(self, mode: str, earliest: datetime) -> datetime:
        """The first scheduled departure at or after ``earliest``."""
        if mode not in self.SCHEDULES:
            return earliest
        days, hour = self.SCHEDULES[mode]
        local = earliest.astimezone(CST)
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            slot = datetime.combine(day, time(hour), CST)
            if day.weekday() in days and slot >= local:
                return slot.astimezone(UTC)
        raise AssertionError("every schedule runs weekly")

    def run(self, mode: str, scheduled: datetime, hours: float, ready: datetime,
            punctual: bool) -> tuple[datetime, datetime]:
        """(actual departure, actual arrival); three runs in ten are slow."""
        key = (mode, scheduled)
        if mode not in self.SCHEDULES or key not in self._runs:
            late = not punctual and self.rng.random() < 0.3
            stretch = self.rng.uniform(1.12, 1.45) if late else self.rng.uniform(0.9, 1.03)
            # A train or ship never leaves before its timetable: coils due then make it.
            early = 0 if mode in self.SCHEDULES else -20
            off = max(scheduled + timedelta(minutes=self.rng.randint(early, 40)), ready)
            self._runs[key] = (off, off + timedelta(hours=hours * stretch))
        return self._runs[key]


def shipment_status(legs: list[Planned], now: datetime) -> str:
    """The state of the first leg not yet over (in transit while the coils wait between
    two legs); the last leg's once all are."""
    states = [leg.status(now, i == len(legs) - 1) for i, leg in enumerate(legs)]
    current = next((i for i, s in enumerate(states) if s not in ENDED), None)
    if current is None:
        return states[-1]
    return "in_transit" if current > 0 and states[current] == "planned" else states[current]


def imo_number(rng: random.Random) -> int:
    """A 7-digit IMO number whose check digit holds (digits weighted 7..2, mod 10)."""
    digits = [9, rng.randint(2, 7), *(rng.randint(0, 9) for _ in range(4))]
    check = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
    return int("".join(map(str, [*digits, check])))


class Fleet:
    """The vehicles the legs need, each with its GPS unit or AIS gateway, and a scanner
    at every site; ids are the database's, set once the logistics records are applied."""

    def __init__(self, rng: random.Random, site_codes: list[str]) -> None:
        self.rng = rng
        self.pools: dict[str, list[FleetVehicle]] = {p: [] for p in POOLS}
        # Site code -> its scanner's device id.
        self.scanners: dict[str, int] = dict.fromkeys(site_codes, 0)
        self.sailings: dict[tuple[str, datetime], FleetVehicle] = {}

    @property
    def vehicles(self) -> list[FleetVehicle]:
        return [v for pool in self.pools.values() for v in pool]

    @property
    def devices(self) -> list[str]:
        return [v.device_code for v in self.vehicles] + [scanner_code(s) for s in self.scanners]

    def scanner(self, site_code: str) -> int:
        return self.scanners[site_code]

    def assign(self, leg: Planned) -> FleetVehicle:
        """A vehicle free for the whole leg; a ship carries every shipment of its sailing."""
        sailing = (leg.pool, leg.actual_departure)
        if leg.mode == "water" and sailing in self.sailings:
            return self.sailings[sailing]
        vehicle = self._free(leg)
        if leg.mode == "water":
            self.sailings[sailing] = vehicle
        return vehicle

    def _free(self, leg: Planned) -> FleetVehicle:
        start = min(leg.actual_departure, leg.planned_departure) - _BUSY_MARGIN
        end = max(leg.actual_arrival, leg.planned_arrival) + _BUSY_MARGIN
        pool = self.pools[leg.pool]
        free = [v for v in pool if all(end <= a or start >= b for a, b in v.busy)]
        vehicle = free[0] if free else self._new(leg.pool, len(pool) + 1)
        if not free:
            pool.append(vehicle)
        vehicle.busy.append((start, end))
        return vehicle

    def _new(self, pool: str, n: int) -> FleetVehicle:
        prefix, kind, plate, carrier = POOLS[pool]
        code = f"{prefix}-{n:02d}"
        if kind == "ship":
            name = SHIP_NAMES[(n - 1) % len(SHIP_NAMES)] + ("" if n <= len(SHIP_NAMES) else f"-{n}")
            mmsi = 413_000_000 + self.rng.randint(100_000, 999_999)
            return FleetVehicle(code, kind, name, None, mmsi, imo_number(self.rng), carrier)
        if kind == "rail_wagon":
            number = "18" + f"{self.rng.randint(0, 99999):05d}"
            return FleetVehicle(code, kind, f"C70E coil wagon {number}",
                                plate + number, None, None, carrier)
        return FleetVehicle(code, kind, f"{carrier.title()} tractor {n:02d}",
                            f"{plate}·{self.rng.randint(10000, 99999)}", None, None, carrier)


def scanner_code(site_code: str) -> str:
    """The code of the barcode scanner installed at a site."""
    return f"SCN-{site_code}"
