"""Live positions put back in fix-time order per vehicle, each sent once.

Two ingesters sharing a vehicle's messages publish its fixes in the order their batches
commit, a few tens of milliseconds apart, not in fix-time order. A subscription offers
every fix it reads or receives to a :class:`Reorder`, which holds a fix for a short
window and then releases it together with every held fix of the same vehicle that is
not newer, oldest first. A fix that comes after a newer one of its vehicle was already
released (later than the window: a device's buffered fixes, an ingester that was slow)
is still sent, at once, flagged ``late``; a fix already sent is never sent again.
The choice and its figures are in docs/decisions.md, "Live fixes in order".
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.shipments.positions import Fix

# Fixes remembered as sent, to send none twice (per subscription).
REMEMBER = 10_000


@dataclass(frozen=True, slots=True)
class Release:
    fix: Fix
    shipment_ids: list[Any]
    late: bool


@dataclass(slots=True)
class _Held:
    due: float
    fix: Fix
    shipment_ids: list[Any]


class Reorder:
    """One subscription's window. ``window_s`` 0 releases every fix as it comes (still
    once, and flagging the late ones)."""

    def __init__(self, window_s: float, *, remember: int = REMEMBER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = max(window_s, 0.0)
        self._clock = clock
        self._held: dict[int, dict[datetime, _Held]] = {}
        self._last: dict[int, datetime] = {}
        self._sent: set[tuple[int, datetime]] = set()
        self._order: deque[tuple[int, datetime]] = deque()
        self._remember = remember

    def offer(self, fix: Fix, shipment_ids: list[Any], *, state: bool = False
              ) -> list[Release]:
        """A fix received (or, ``state``, read as the vehicle's latest). Returns what
        goes out now: nothing for a fix already sent or held; a late fix at once; the
        state at once, after the held fixes of its vehicle that are older. A fix received
        is otherwise held until its window passes."""
        key = (fix.vehicle_id, fix.fix_time)
        held = self._held.get(fix.vehicle_id, {})
        if key in self._sent or fix.fix_time in held:
            return []
        last = self._last.get(fix.vehicle_id)
        if last is not None and fix.fix_time <= last:
            return [] if state else [self._send(fix, shipment_ids, late=True)]
        self._held.setdefault(fix.vehicle_id, {})[fix.fix_time] = _Held(
            self._clock() + (0.0 if state else self.window_s), fix, shipment_ids)
        return self.due() if state or self.window_s == 0 else []

    def due(self) -> list[Release]:
        """The fixes whose window has passed, each with the held fixes of its vehicle
        that are older, in fix-time order per vehicle."""
        now = self._clock()
        out: list[Release] = []
        for vehicle in list(self._held):
            held = self._held[vehicle]
            ripe = [t for t, h in held.items() if h.due <= now]
            if not ripe:
                continue
            upto = max(ripe)
            for t in sorted(t for t in held if t <= upto):
                h = held.pop(t)
                out.append(self._send(h.fix, h.shipment_ids, late=False))
            if not held:
                del self._held[vehicle]
        return out

    def wait(self) -> float | None:
        """Seconds until the next held fix is due; None when none is held."""
        dues = [h.due for held in self._held.values() for h in held.values()]
        return None if not dues else max(min(dues) - self._clock(), 0.0)

    def _send(self, fix: Fix, shipment_ids: list[Any], *, late: bool) -> Release:
        key = (fix.vehicle_id, fix.fix_time)
        self._sent.add(key)
        self._order.append(key)
        if len(self._order) > self._remember:
            self._sent.discard(self._order.popleft())
        if not late:
            self._last[fix.vehicle_id] = fix.fix_time
        return Release(fix, shipment_ids, late)
