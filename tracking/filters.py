"""Plausibility checks of one fix against the clock and the vehicle's last accepted fix.

:func:`check_fix` raises :class:`~tracking.model.Rejection` and nothing else; the order of
the checks decides which reason a fix failing several gets: what the fix is (coordinates,
values), then when it is (future, stale), then how good it is (accuracy), then whether
the vehicle could have got there (speed).

Out-of-order fixes pass: a fix older than the vehicle's latest is checked against it all
the same (the implied speed uses the absolute time difference), stored, and fires no
events (:func:`is_out_of_order`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from domain.shipments.eta import EARTH_RADIUS_KM as EARTH_RADIUS_KM
from domain.shipments.eta import haversine_km as haversine_km
from tracking.model import MAX_SPEED_KMH, Fix, Mode, Reason, Rejection

# Below this time difference a speed is mostly noise in the clocks: judge distance.
MIN_SPEED_INTERVAL: Final = timedelta(seconds=1)
MAX_JUMP_KM: Final = 1.0
# Faster than any vehicle reports, yet small enough for storage's single precision.
MAX_REPORTED_SPEED_KMH: Final = 1000.0


@dataclass(frozen=True)
class FilterLimits:
    max_future_skew: timedelta = timedelta(minutes=2)
    max_age: timedelta = timedelta(days=7)
    max_accuracy_m: float = 500.0


def check_fix(
    fix: Fix,
    *,
    now: datetime,
    previous: Fix | None,
    mode: Mode,
    limits: FilterLimits = FilterLimits(),
) -> None:
    """Raises Rejection when ``fix`` cannot be true. ``previous`` is the vehicle's latest
    accepted fix, possibly later than ``fix``."""
    # The clock and the stored fix come from the caller: a naive one is a bug there.
    if now.tzinfo is None or (previous is not None and previous.fix_time.tzinfo is None):
        raise ValueError("now and the previous fix time must be timezone-aware")
    _check_coordinates(fix)
    _check_values(fix)
    _check_time(fix, now, limits)
    if fix.accuracy_m is not None and fix.accuracy_m > limits.max_accuracy_m:
        raise Rejection(
            Reason.POOR_ACCURACY, f"{fix.accuracy_m:g} m, limit {limits.max_accuracy_m:g} m"
        )
    if previous is not None:
        _check_speed(fix, previous, mode)


def is_out_of_order(fix: Fix, previous: Fix | None) -> bool:
    """True when ``fix`` is not newer than the vehicle's latest accepted fix."""
    return previous is not None and fix.fix_time <= previous.fix_time


def _check_coordinates(fix: Fix) -> None:
    lat, lon = fix.latitude, fix.longitude
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise Rejection(Reason.INVALID_COORDINATES, f"lat {lat}, lon {lon}")
    if lat == 0 and lon == 0:
        raise Rejection(Reason.NULL_ISLAND, "lat 0, lon 0: a receiver without a fix")


def _check_values(fix: Fix) -> None:
    # Storage holds speed, heading and accuracy as single-precision reals with range
    # checks; what would fail there is malformed here.
    if fix.speed_kmh is not None and not 0 <= fix.speed_kmh <= MAX_REPORTED_SPEED_KMH:
        raise Rejection(Reason.MALFORMED, f"speed {fix.speed_kmh} km/h")
    if fix.heading is not None and not 0 <= fix.heading < 360:
        raise Rejection(Reason.MALFORMED, f"heading {fix.heading}°, expected [0, 360)")
    if fix.accuracy_m is not None and not 0 <= fix.accuracy_m < math.inf:
        raise Rejection(Reason.MALFORMED, f"accuracy {fix.accuracy_m} m")
    if fix.fix_time.tzinfo is None:
        raise Rejection(Reason.MALFORMED, "fix time without a timezone")


def _check_time(fix: Fix, now: datetime, limits: FilterLimits) -> None:
    if fix.fix_time > now + limits.max_future_skew:
        raise Rejection(Reason.FUTURE_FIX, f"{fix.fix_time.isoformat()} is ahead of {now}")
    if fix.fix_time < now - limits.max_age:
        raise Rejection(Reason.STALE_FIX, f"{fix.fix_time.isoformat()} is older than allowed")


def _check_speed(fix: Fix, previous: Fix, mode: Mode) -> None:
    distance = haversine_km(previous.latitude, previous.longitude, fix.latitude, fix.longitude)
    interval = abs(fix.fix_time - previous.fix_time)
    if interval < MIN_SPEED_INTERVAL:
        if distance > MAX_JUMP_KM:
            raise Rejection(
                Reason.IMPOSSIBLE_SPEED,
                f"{distance:.2f} km within {interval.total_seconds():g} s",
            )
        return
    speed = distance / (interval.total_seconds() / 3600)
    limit = MAX_SPEED_KMH[mode]
    if speed > limit:
        raise Rejection(
            Reason.IMPOSSIBLE_SPEED,
            f"{speed:.0f} km/h over {distance:.2f} km, limit {limit:g} km/h for {mode.value}",
        )
