"""The device registry, cached in the ingester: who may publish, and for which vehicle.

Every message names its device (by device code, OwnTracks id, or for AIS the vessel's
MMSI); resolving it must not cost a query per message, so the whole registry is held in
memory and reloaded every ``refresh_seconds``. Between reloads, the changes the platform
announces (``tracking.changes``: a device disabled, rebound or registered, a vehicle or
site fed) mark their entries, which are read again before the next batch is resolved.
A name the cache lacks is looked up once
on its own (a device registered a moment ago publishes at once), and a name the
database lacks too is remembered as unknown for ``negative_seconds``, so a flood from an
unregistered device costs one query, not one per message.

A vehicle's mode (which speed limits apply) comes from the leg it is travelling on when
it has one, otherwise from its kind: a truck on a ferry is judged as a ship.

``LatestFixes`` caches, per vehicle, the latest accepted fix that the filters need.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from domain.db import Executor, Record
from tracking.model import Fix, Mode

log = logging.getLogger("keylink.tracking.registry")

MODE_OF_KIND = {"truck": Mode.ROAD, "rail_wagon": Mode.RAIL, "ship": Mode.WATER}

# A leg that is moving (or about to) decides the mode ahead of one merely planned.
_VEHICLES = """
SELECT v.id, v.kind, v.mmsi, l.mode
FROM vehicle v
LEFT JOIN LATERAL (
    SELECT mode FROM shipment_leg
    WHERE vehicle_id = v.id
      AND status IN ('planned', 'loading', 'departed', 'in_transit', 'arrived', 'exception')
    ORDER BY status = 'planned', planned_departure DESC
    LIMIT 1
) l ON true
"""

_DEVICES = """
SELECT id, code, kind, vehicle_id, site_id, owntracks_id, enabled FROM device
"""


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: int
    kind: str
    mode: Mode
    mmsi: int | None


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    code: str
    kind: str  # gps_unit, ais_gateway, scanner
    vehicle_id: int | None
    site_id: int | None
    owntracks_id: str | None
    enabled: bool


@dataclass(slots=True)
class _Snapshot:
    devices: dict[int, Device]
    by_code: dict[str, Device]
    by_owntracks: dict[str, Device]
    vehicles: dict[int, Vehicle]
    by_mmsi: dict[int, Vehicle]
    sites: dict[str, int]


def _empty() -> _Snapshot:
    return _Snapshot({}, {}, {}, {}, {}, {})


class Registry:
    def __init__(
        self, db: Executor, *, refresh_seconds: float = 60.0, negative_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._refresh_seconds = refresh_seconds
        self._negative_seconds = negative_seconds
        self._clock = clock
        self._snap = _empty()
        self._loaded_at: float | None = None
        self._unknown: dict[tuple[str, str], float] = {}
        self._stale_devices: set[int] = set()
        self._stale_vehicles: set[int] = set()
        self._stale_sites = False

    def invalidate(self, *, devices: Iterable[int] = (), vehicles: Iterable[int] = (),
                   sites: bool = False) -> None:
        """Entries changed in the database: read again before the next batch. What was
        looked up and not found may exist now, so those are asked again too."""
        self._stale_devices.update(devices)
        self._stale_vehicles.update(vehicles)
        self._stale_sites = self._stale_sites or sites
        self._unknown.clear()

    async def refresh(self) -> None:
        """Reload everything; the old cache serves until the new one is complete."""
        snap = _empty()
        for row in await self._db.fetch(_DEVICES):
            _add_device(snap, _device(row))
        for row in await self._db.fetch(_VEHICLES):
            _add_vehicle(snap, _vehicle(row))
        for row in await self._db.fetch("SELECT id, code FROM site"):
            snap.sites[row["code"]] = row["id"]
        self._snap = snap
        self._loaded_at = self._clock()
        self._unknown.clear()

    async def refresh_if_due(self) -> None:
        if self._loaded_at is None or self._clock() - self._loaded_at >= self._refresh_seconds:
            stale = self._take_stale()
            try:
                await self.refresh()
            except Exception:
                # A failed reload keeps the old registry: better slightly stale than none.
                self.invalidate(devices=stale[0], vehicles=stale[1], sites=stale[2])
                log.warning("device registry reload failed; keeping the cached one",
                            exc_info=True)
        elif self._stale_devices or self._stale_vehicles or self._stale_sites:
            await self._reload_stale()

    def _take_stale(self) -> tuple[set[int], set[int], bool]:
        taken = (self._stale_devices, self._stale_vehicles, self._stale_sites)
        self._stale_devices, self._stale_vehicles, self._stale_sites = set(), set(), False
        return taken

    async def _reload_stale(self) -> None:
        devices, vehicles, sites = self._take_stale()
        try:
            device_rows = (await self._db.fetch(_DEVICES + " WHERE id = ANY($1::bigint[])",
                                                sorted(devices)) if devices else [])
            vehicle_rows = (await self._db.fetch(_VEHICLES + " WHERE v.id = ANY($1::bigint[])",
                                                 sorted(vehicles)) if vehicles else [])
            site_rows = await self._db.fetch("SELECT id, code FROM site") if sites else []
        except Exception:
            self.invalidate(devices=devices, vehicles=vehicles, sites=sites)
            log.warning("reading changed registry entries failed; keeping the cached ones",
                        exc_info=True)
            return
        snap = self._snap
        for device_id in devices:
            _drop_device(snap, device_id)
        for row in device_rows:
            _add_device(snap, _device(row))
        for vehicle_id in vehicles:
            _drop_vehicle(snap, vehicle_id)
        for row in vehicle_rows:
            _add_vehicle(snap, _vehicle(row))
        if sites:
            snap.sites = {row["code"]: row["id"] for row in site_rows}

    async def device(self, code: str) -> Device | None:
        found = self._snap.by_code.get(code)
        if found is None and self._may_look_up("code", code):
            found = await self._look_up_device("code = $1", code, ("code", code))
        return found

    async def owntracks(self, owntracks_id: str) -> Device | None:
        found = self._snap.by_owntracks.get(owntracks_id)
        if found is None and self._may_look_up("owntracks", owntracks_id):
            found = await self._look_up_device(
                "owntracks_id = $1", owntracks_id, ("owntracks", owntracks_id))
        return found

    async def vessel(self, mmsi: int) -> Vehicle | None:
        found = self._snap.by_mmsi.get(mmsi)
        if found is None and self._may_look_up("mmsi", str(mmsi)):
            row = await self._db.fetchrow(_VEHICLES + " WHERE v.mmsi = $1", mmsi)
            if row is None:
                self._unknown[("mmsi", str(mmsi))] = self._clock()
                return None
            found = _vehicle(row)
            _add_vehicle(self._snap, found)
        return found

    async def vehicle(self, vehicle_id: int) -> Vehicle | None:
        found = self._snap.vehicles.get(vehicle_id)
        if found is None and self._may_look_up("vehicle", str(vehicle_id)):
            row = await self._db.fetchrow(_VEHICLES + " WHERE v.id = $1", vehicle_id)
            if row is None:
                self._unknown[("vehicle", str(vehicle_id))] = self._clock()
                return None
            found = _vehicle(row)
            _add_vehicle(self._snap, found)
        return found

    async def site(self, code: str) -> int | None:
        found = self._snap.sites.get(code)
        if found is None and self._may_look_up("site", code):
            found = await self._db.fetchval("SELECT id FROM site WHERE code = $1", code)
            if found is None:
                self._unknown[("site", code)] = self._clock()
            else:
                self._snap.sites[code] = found
        return found

    def _may_look_up(self, kind: str, key: str) -> bool:
        since = self._unknown.get((kind, key))
        if since is None:
            return True
        if self._clock() - since >= self._negative_seconds:
            del self._unknown[(kind, key)]
            return True
        return False

    async def _look_up_device(
        self, where: str, value: str, negative_key: tuple[str, str]
    ) -> Device | None:
        row = await self._db.fetchrow(_DEVICES + f" WHERE {where}", value)
        if row is None:
            self._unknown[negative_key] = self._clock()
            return None
        found = _device(row)
        _add_device(self._snap, found)
        if found.vehicle_id is not None:
            await self.vehicle(found.vehicle_id)
        return found


def _device(row: Record) -> Device:
    return Device(id=row["id"], code=row["code"], kind=row["kind"],
                  vehicle_id=row["vehicle_id"], site_id=row["site_id"],
                  owntracks_id=row["owntracks_id"], enabled=row["enabled"])


def _vehicle(row: Record) -> Vehicle:
    mode = Mode(row["mode"]) if row["mode"] else MODE_OF_KIND[row["kind"]]
    return Vehicle(id=row["id"], kind=row["kind"], mode=mode, mmsi=row["mmsi"])


def _add_device(snap: _Snapshot, device: Device) -> None:
    snap.devices[device.id] = device
    snap.by_code[device.code] = device
    if device.owntracks_id:
        snap.by_owntracks[device.owntracks_id] = device


def _add_vehicle(snap: _Snapshot, vehicle: Vehicle) -> None:
    snap.vehicles[vehicle.id] = vehicle
    if vehicle.mmsi is not None:
        snap.by_mmsi[vehicle.mmsi] = vehicle


def _drop_device(snap: _Snapshot, device_id: int) -> None:
    old = snap.devices.pop(device_id, None)
    if old is None:
        return
    if snap.by_code.get(old.code) is old:
        del snap.by_code[old.code]
    if old.owntracks_id and snap.by_owntracks.get(old.owntracks_id) is old:
        del snap.by_owntracks[old.owntracks_id]


def _drop_vehicle(snap: _Snapshot, vehicle_id: int) -> None:
    old = snap.vehicles.pop(vehicle_id, None)
    if old is not None and old.mmsi is not None and snap.by_mmsi.get(old.mmsi) is old:
        del snap.by_mmsi[old.mmsi]


Loader = Callable[[Iterable[int]], Awaitable[dict[int, Fix]]]


class LatestFixes:
    """Each vehicle's latest accepted fix, the ``previous`` the filters judge a new fix by.

    An LRU in process, filled from the live state (shared by every ingester) and, for a
    vehicle the live state lacks, from the positions table. An entry older than
    ``ttl_seconds`` is read again from the live state: with several ingesters, each sees
    only some of a vehicle's fixes. A stale ``previous`` only weakens the jump check
    (the implied speed over a longer span is never higher than over its parts).
    """

    def __init__(
        self, live: Loader, stored: Loader, *, size: int = 100_000, ttl_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._live = live
        self._stored = stored
        self._size = size
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[int, tuple[Fix, float]] = OrderedDict()

    def get(self, vehicle_id: int) -> Fix | None:
        entry = self._entries.get(vehicle_id)
        if entry is None:
            return None
        self._entries.move_to_end(vehicle_id)
        return entry[0]

    async def warm(self, vehicle_ids: Iterable[int]) -> None:
        now = self._clock()
        ids = list(vehicle_ids)
        missing = [v for v in ids if v not in self._entries]
        expired = [v for v in ids
                   if v in self._entries and now - self._entries[v][1] >= self._ttl]
        if not (missing or expired):
            return
        found = await self._live([*missing, *expired])
        absent = [v for v in missing if v not in found]
        if absent:
            found.update(await self._stored(absent))
        self.update(found)
        for v in expired:  # nothing newer anywhere: what we hold is current again
            if v not in found and v in self._entries:
                self._entries[v] = (self._entries[v][0], now)

    def update(self, fixes: dict[int, Fix]) -> None:
        now = self._clock()
        for vehicle_id, fix in fixes.items():
            held = self._entries.get(vehicle_id)
            if held is None or fix.fix_time >= held[0].fix_time:
                self._entries[vehicle_id] = (fix, now)
            else:
                self._entries[vehicle_id] = (held[0], now)
            self._entries.move_to_end(vehicle_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
