"""Site fences: which fences a position lies in, and when a vehicle counts as being there.

A fence is a site's GeoJSON polygon, or a circle of ``geofence_radius_m`` around its
centre. Lookups go through an STRtree of prepared shapes, so a position costs a tree
descent plus exact tests against the few fences whose boxes hold it, however many
sites exist.

Presence is a pure state machine (:func:`step`): a vehicle is *at* a site only once it
has stayed inside the fence for the site kind's dwell time, so a truck cutting across a
port's corner or a GPS fix jittering over a fence edge confirms nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, box, shape

EARTH_RADIUS_M = 6_371_008.8

# How long a vehicle must stay inside before its presence counts. A plant's gate queue and
# weighbridge take about ten minutes, so a shorter stop is traffic on the works road. A
# port fence spans quays that trucks and barges pass on the way elsewhere: half an hour
# separates a call from a transit. A rail station sees wagons shunted through; twenty
# minutes is shorter than the shortest real dwell. A customer's warehouse fence is small
# and lies off the main road, so five minutes inside already means a delivery.
DWELL: dict[str, timedelta] = {
    "plant": timedelta(minutes=10),
    "port": timedelta(minutes=30),
    "rail_station": timedelta(minutes=20),
    "customer_warehouse": timedelta(minutes=5),
}
DEFAULT_DWELL = timedelta(minutes=10)

ENTERED = "geofence.entered"
EXITED = "geofence.exited"

# Vertices per quarter circle: 16 keeps the polygon within 0.5% of the true radius.
_QUAD_SEGMENTS = 16


@dataclass(frozen=True, slots=True)
class Fence:
    site_id: int
    kind: str
    latitude: float
    longitude: float
    shape: Any  # a shapely Polygon or MultiPolygon in (lon, lat) degrees


@dataclass(frozen=True, slots=True)
class Nearest:
    site_id: int
    distance_m: float  # 0 inside the fence


def _to_local(lat0: float, lon0: float) -> Any:
    """Degrees -> metres east/north of (lat0, lon0): an equirectangular projection, whose
    error over a fence a few kilometres across is a few parts per million."""
    kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    ky = math.radians(1) * EARTH_RADIUS_M

    def project(xy: Any) -> Any:
        return np.column_stack(((xy[:, 0] - lon0) * kx, (xy[:, 1] - lat0) * ky))

    return project


def _from_local(lat0: float, lon0: float) -> Any:
    kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    ky = math.radians(1) * EARTH_RADIUS_M

    def unproject(xy: Any) -> Any:
        return np.column_stack((lon0 + xy[:, 0] / kx, lat0 + xy[:, 1] / ky))

    return unproject


def circle(latitude: float, longitude: float, radius_m: float) -> Any:
    """A circle of ``radius_m`` metres as a polygon in degrees: buffered in the site's
    local metric plane and mapped back, so it is round on the ground, not in degrees
    (a degree of longitude is only cos(lat) of a degree of latitude)."""
    disc = Point(0.0, 0.0).buffer(radius_m, quad_segs=_QUAD_SEGMENTS)
    return shapely.transform(disc, _from_local(latitude, longitude))


def fence_from_row(row: Any) -> Fence:
    """A fence from a ``site`` row: its GeoJSON geometry when set, else its circle."""
    lat, lon = float(row["latitude"]), float(row["longitude"])
    geojson = row["geofence"]
    if geojson is not None:
        geom = shape(_floats(geojson))
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"site {row['id']}: a fence must be a polygon, not {geom.geom_type}")
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
    else:
        geom = circle(lat, lon, float(row["geofence_radius_m"]))
    return Fence(site_id=int(row["id"]), kind=str(row["kind"]), latitude=lat, longitude=lon,
                 shape=geom)


def _floats(value: Any) -> Any:
    """jsonb arrives with exact Decimals; shapely wants floats."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, str | bool | None):
        return value
    return float(value)


class FenceIndex:
    """Every site's fence in an STRtree; each shape prepared once, at build time."""

    def __init__(self, fences: Iterable[Fence]) -> None:
        self.fences: tuple[Fence, ...] = tuple(fences)
        self._shapes = np.array([f.shape for f in self.fences], dtype=object)
        shapely.prepare(self._shapes)
        self._ids = np.array([f.site_id for f in self.fences], dtype=np.int64)
        self._tree = shapely.STRtree(self._shapes)
        self._by_id = {f.site_id: f for f in self.fences}

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> FenceIndex:
        """From site rows (records or mappings with the site table's columns)."""
        return cls(fence_from_row(r) for r in rows)

    def __len__(self) -> int:
        return len(self.fences)

    def fence(self, site_id: int) -> Fence | None:
        return self._by_id.get(site_id)

    def sites_at(self, lat: float, lon: float) -> list[int]:
        """Ids of the sites whose fence holds the point (an edge counts as inside)."""
        candidates = self._tree.query(Point(lon, lat))
        if len(candidates) == 0:
            return []
        hits = shapely.intersects_xy(self._shapes[candidates], lon, lat)
        return sorted(int(i) for i in self._ids[candidates[hits]])

    def nearest(self, lat: float, lon: float) -> Nearest | None:
        """The fence nearest to the point on the ground, and how far it is.

        The tree measures in degrees, where east-west distances shrink by cos(lat); its
        nearest fence only bounds the search. Any fence nearer on the ground lies within
        that bound divided by cos(lat) in degrees, so those few are measured in metres.
        """
        if not self.fences:
            return None
        point = Point(lon, lat)
        first = self._tree.nearest(point)
        bound = float(shapely.distance(self._shapes[first], point))
        if bound == 0.0:
            return Nearest(int(self._ids[first]), 0.0)
        reach = bound / max(math.cos(math.radians(lat)), 1e-6)
        near = self._tree.query(box(lon - reach, lat - reach, lon + reach, lat + reach))
        local = shapely.transform(self._shapes[near], _to_local(lat, lon))
        metres = shapely.distance(local, Point(0.0, 0.0))
        best = int(np.argmin(metres))
        return Nearest(int(self._ids[near[best]]), float(metres[best]))


@dataclass(frozen=True, slots=True)
class Presence:
    """A vehicle inside one fence: since when, the latest fix seen, and whether it has
    stayed long enough to count."""

    entered_at: datetime
    last_fix: datetime
    confirmed: bool


@dataclass(frozen=True, slots=True)
class FenceEvent:
    kind: str  # ENTERED or EXITED
    at: datetime  # entries are dated when the vehicle came in, not when it was confirmed


def dwell_for(kind: str) -> timedelta:
    return DWELL.get(kind, DEFAULT_DWELL)


def step(
    presence: Presence | None, inside: bool, fix_time: datetime, kind: str
) -> tuple[Presence | None, list[FenceEvent]]:
    """The presence after one fix of the vehicle, and the events that fix confirms.

    A fix no newer than the latest one seen changes nothing: a late fix says where the
    vehicle was, not where it is, and must not undo or replay what newer fixes decided.
    """
    if presence is not None and fix_time <= presence.last_fix:
        return presence, []
    if not inside:
        if presence is not None and presence.confirmed:
            return None, [FenceEvent(EXITED, fix_time)]
        return None, []  # outside, or an excursion too short to count
    if presence is None:
        presence = Presence(entered_at=fix_time, last_fix=fix_time, confirmed=False)
    else:
        presence = replace(presence, last_fix=fix_time)
    if not presence.confirmed and fix_time - presence.entered_at >= dwell_for(kind):
        return replace(presence, confirmed=True), [FenceEvent(ENTERED, presence.entered_at)]
    return presence, []


def step_all(
    presences: Mapping[int, Presence],
    inside: Sequence[int],
    fix_time: datetime,
    kinds: Mapping[int, str],
) -> tuple[dict[int, Presence], list[tuple[int, FenceEvent]]]:
    """One fix against every fence the vehicle is in or was in: the presences after it
    (by site id) and the events, each with its site."""
    after: dict[int, Presence] = {}
    fired: list[tuple[int, FenceEvent]] = []
    for site_id in sorted(set(presences) | set(inside)):
        state, events = step(presences.get(site_id), site_id in inside, fix_time,
                             kinds.get(site_id, ""))
        if state is not None:
            after[site_id] = state
        fired.extend((site_id, e) for e in events)
    return after, fired
