"""The detection stage: run by the ingester in the transaction that stores a batch, so a
finding commits (and reaches the outbox) exactly when the data that proves it does.

Every piece of state it continues from (fence presence, leg status, delay flags, coil
custody) is in the database, locked per vehicle, so any ingester picks up where another
stopped. The fence index is a cache of the site table: rebuilt as soon as a site is
added or changed (``invalidate``, called on the platform's ``site.*`` events), and every
few minutes in any case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from domain.db import Executor
from domain.shipments import detected as shipment_detected
from domain.shipments import legs as shipment_legs
from domain.shipments import shipping
from tracking.detect import reads
from tracking.detect.custody import FAR_KM, follow_scans
from tracking.detect.legs import LegBook
from tracking.detect.model import DetectedEvent, StoredFix, StoredScan
from tracking.detect.movement import follow_fixes
from tracking.detect.timing import check_unloads, latest_fixes, update_etas
from tracking.geofence import FenceIndex

# An arrived leg whose manifest has seen no unloading scan this long after arrival is
# reported: a customer's receiving shift turns a truck round in well under six hours.
UNLOAD_GRACE = timedelta(hours=6)
# Who the events of contracts moved by tracking name as their actor.
ACTOR = "tracking"
# A fallback only: a site added or redrawn is announced and rebuilds the index at once.
REFRESH_EVERY = timedelta(minutes=5)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Detector:
    def __init__(
        self,
        fences: FenceIndex | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        unload_grace: timedelta = UNLOAD_GRACE,
        far_km: float = FAR_KM,
        refresh_every: timedelta | None = REFRESH_EVERY,
    ) -> None:
        """``fences`` fixed in advance (tests, benchmarks) is used as given and never
        refreshed; otherwise the index is loaded on first use and every
        ``refresh_every``."""
        self._fences = fences
        self._loaded_at = time.monotonic() if fences is not None else None
        self._refresh_every = refresh_every if fences is None else None
        self._stale = False
        self._clock = clock
        self._unload_grace = unload_grace
        self._far_km = far_km

    async def refresh(self, tx: Executor) -> FenceIndex:
        """Rebuild the fence index from the site table now."""
        self._fences = FenceIndex.from_rows(await reads.site_rows(tx))
        self._stale = False
        self._loaded_at = time.monotonic()
        return self._fences

    def invalidate(self) -> None:
        """Sites changed: the index is rebuilt before the next fix is placed (unless it
        was given in advance)."""
        if self._refresh_every is not None:
            self._stale = True

    async def fences(self, tx: Executor) -> FenceIndex:
        """The index, loaded or refreshed first when it is missing or due."""
        due = (self._refresh_every is not None and self._loaded_at is not None
               and time.monotonic() - self._loaded_at > self._refresh_every.total_seconds())
        if self._fences is None or due or self._stale:
            return await self.refresh(tx)
        return self._fences

    async def on_batch(
        self, tx: Executor, fixes: Sequence[StoredFix], scans: Sequence[StoredScan]
    ) -> list[DetectedEvent]:
        """Everything a batch's new fixes and scans tell; returns the events that are new.

        Rows first, the outbox last: the findings, and the contracts whose coils a
        departure took off the mill's hands (``domain.shipments.shipping``), are written after
        every row update of the batch, since the outbox's lock is held to commit and a
        contract's writers lock the contract before they append."""
        found: list[DetectedEvent] = []
        departed: list[int] = []
        if fixes:
            departed += await self._fixes(tx, fixes, found)
        if scans:
            departed += await self._scans(tx, scans, found)
        moved = await shipping.follow_departure(tx, departed)
        new = await _record(tx, found)
        await shipping.announce(tx, moved, actor=ACTOR)
        return new

    async def on_fixes(self, tx: Executor, fixes: Sequence[StoredFix]) -> list[DetectedEvent]:
        return await self.on_batch(tx, fixes, [])

    async def on_scans(self, tx: Executor, scans: Sequence[StoredScan]) -> list[DetectedEvent]:
        return await self.on_batch(tx, [], scans)

    async def _fixes(self, tx: Executor, fixes: Sequence[StoredFix],
                     found: list[DetectedEvent]) -> list[int]:
        """Fence presence, departures, arrivals, ETAs and delays from newly stored fixes;
        returns the legs that departed. Out-of-order fixes are history: they fire
        nothing and move no state; so are fixes older than one another batch stored
        (read after taking the vehicle's lock, so that batch has committed)."""
        live = [f for f in fixes if not f.out_of_order]
        if not live:
            return []
        fences = await self.fences(tx)
        await reads.lock_vehicles(tx, sorted({f.vehicle_id for f in live}))
        newest = await reads.newest_elsewhere(tx, live)
        live = [f for f in live
                if f.vehicle_id not in newest or f.fix.fix_time > newest[f.vehicle_id]]
        if not live:
            return []
        vehicles = sorted({f.vehicle_id for f in live})
        book = LegBook(leg for legs in (await shipment_legs.active_legs_for_vehicles(
            tx, vehicles)).values() for leg in legs)
        await follow_fixes(tx, fences, live, book, found)
        latest = latest_fixes(live)
        await update_etas(tx, fences, latest, book, self._clock(), found)
        await check_unloads(tx, book, {v: f.fix.fix_time for v, f in latest.items()},
                            self._unload_grace, found)
        return book.departed

    async def _scans(self, tx: Executor, scans: Sequence[StoredScan],
                     found: list[DetectedEvent]) -> list[int]:
        """Custody, scan-proven leg progress and scan anomalies from newly stored scans;
        returns the legs that departed."""
        vehicles = sorted({s.vehicle_id for s in scans if s.vehicle_id is not None})
        await reads.lock_vehicles(tx, vehicles)
        by_vehicle = await shipment_legs.active_legs_for_vehicles(tx, vehicles)
        book = LegBook(leg for legs in by_vehicle.values() for leg in legs)
        coils = sorted({s.coil_id for s in scans if s.coil_id is not None})
        if coils:
            book.add(await shipment_legs.active_legs_for_coils(tx, coils))
        seen = await follow_scans(tx, scans, book, found, far_km=self._far_km)
        await check_unloads(tx, book, seen, self._unload_grace, found)
        return book.departed


async def _record(tx: Executor, found: list[DetectedEvent]) -> list[DetectedEvent]:
    """Record the findings last (each new one appends to the outbox, whose lock is held to
    commit); keep those not recorded before."""
    new: list[DetectedEvent] = []
    for e in found:
        if await shipment_detected.record_shipment_event(
            tx, e.shipment_id, e.leg_id, e.vehicle_id, e.kind, e.occurred_at, e.details,
            e.dedupe_key,
        ):
            new.append(e)
    return new
