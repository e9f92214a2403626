"""Estimated arrival of a leg from the vehicle's latest fix: pure arithmetic, no I/O.

The distance left is the great-circle distance (:func:`haversine_km`) to the
destination's centre stretched by a detour factor for the mode; the speed is a robust
average of the latest reported speeds (``SPEED_WINDOW``, ``SPEED_SAMPLES``), pulled
towards the mode's typical cruise speed while there are few of them. Whether that makes
a leg late is ``domain.shipments.is_delayed``'s to say. The ingester's detection and the
demo both estimate with it, so a seeded leg carries the ETA detection would give it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final


class Mode(enum.StrEnum):
    """How a leg travels."""

    ROAD = "road"
    RAIL = "rail"
    WATER = "water"


# The fastest each mode really goes, in km/h, with margin: an implied speed above it
# between two fixes of one vehicle is a jump, not a journey.
MAX_SPEED_KMH: dict[Mode, float] = {Mode.ROAD: 160.0, Mode.RAIL: 200.0, Mode.WATER: 75.0}

EARTH_RADIUS_KM: Final = 6371.0088  # mean radius (IUGG)

# Speeds from this long before a vehicle's latest fix, at most this many, feed its ETA.
SPEED_WINDOW = timedelta(minutes=30)
SPEED_SAMPLES = 20


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    # Rounding can push `a` a hair past 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


# Route length over great-circle distance. Roads in the Yangtze delta and the north-east
# run around water and through ring roads (circuity studies put China's highway network
# at 1.2-1.4); rail lines are straighter but bend around terrain and junctions; ships
# follow the coast and the river channel but otherwise sail nearly straight.
DETOUR: dict[Mode, float] = {Mode.ROAD: 1.3, Mode.RAIL: 1.25, Mode.WATER: 1.15}

# What each mode averages over a long run, stops included: a loaded heavy truck on
# expressways and city roads, a freight train with its waits at junctions, a coastal or
# river freighter.
CRUISE_KMH: dict[Mode, float] = {Mode.ROAD: 55.0, Mode.RAIL: 40.0, Mode.WATER: 20.0}

# The slowest the average is allowed to fall to: a vehicle reporting 0 km/h at a light,
# a siding or an anchorage will move again, and a zero speed would put the ETA at infinity.
CRAWL_KMH: dict[Mode, float] = {Mode.ROAD: 15.0, Mode.RAIL: 10.0, Mode.WATER: 5.0}

# The cruise speed weighs as much as this many samples: one or two speeds pulled from a
# traffic queue or an overtaking burst should not decide an ETA hours away.
PRIOR_SAMPLES = 3

# Confidence halves for every FIX_HALF_LIFE the latest fix is old, and for every
# DISTANCE_HALF_KM of route still ahead (more road, more that can happen on it).
FIX_HALF_LIFE = timedelta(minutes=30)
DISTANCE_HALF_KM = 400.0


@dataclass(frozen=True, slots=True)
class Estimate:
    eta: datetime
    confidence: float  # 0..1, three decimals (the column's precision)
    speed_kmh: float  # the speed the estimate assumed
    route_km: float  # the distance it assumed


def typical_speed(recent_speeds_kmh: list[float], mode: Mode) -> float:
    """The median of the recent speeds, shrunk towards the mode's cruise speed by
    PRIOR_SAMPLES pseudo-samples and held between crawl and the mode's top speed. A
    median, because one spike (a GPS speed glitch, a burst down a ramp) must not move it."""
    samples = [s for s in recent_speeds_kmh if s >= 0 and math.isfinite(s)]
    cruise = CRUISE_KMH[mode]
    if samples:
        n = len(samples)
        speed = (n * _median(samples) + PRIOR_SAMPLES * cruise) / (n + PRIOR_SAMPLES)
    else:
        speed = cruise
    return min(max(speed, CRAWL_KMH[mode]), MAX_SPEED_KMH[mode])


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def _steadiness(samples: list[float]) -> float:
    """1 for a steady speed, falling as speeds scatter (by coefficient of variation).
    Plain float arithmetic: ``statistics.pstdev`` computes exactly, with fractions, which
    made it the ingester's single largest cost (this runs for every moving leg of every
    batch), for a precision that a confidence of three decimals cannot show."""
    n = len(samples)
    if n < 2:
        return 0.6  # one sample or none: say little either way
    mean = math.fsum(samples) / n
    if mean <= 0:
        return 0.3  # standing still: when it moves again is anyone's guess
    spread = math.sqrt(math.fsum((s - mean) ** 2 for s in samples) / n)
    return 1.0 / (1.0 + spread / mean)


def estimate(
    *,
    remaining_km: float,
    recent_speeds_kmh: list[float],
    mode: Mode,
    now: datetime,
    fix_age: timedelta,
) -> Estimate:
    """The arrival time and how sure it is.

    ``remaining_km`` is the great-circle distance from the latest fix to the
    destination's centre; the detour factor is applied here. The vehicle was at that
    fix ``fix_age`` ago, so the journey is timed from then, and an arrival already due
    is put at ``now``: it has not been seen arriving.
    """
    route_km = max(remaining_km, 0.0) * DETOUR[mode]
    speed = typical_speed(recent_speeds_kmh, mode)
    age = max(fix_age, timedelta(0))
    eta = max(now, now - age + timedelta(hours=route_km / speed))
    samples = [s for s in recent_speeds_kmh if s >= 0 and math.isfinite(s)]
    confidence = (
        0.5 ** (age / FIX_HALF_LIFE)
        * _steadiness(samples)
        * 0.5 ** (route_km / DISTANCE_HALF_KM)
    )
    return Estimate(eta=eta, confidence=round(min(max(confidence, 0.0), 1.0), 3),
                    speed_kmh=speed, route_km=route_km)
