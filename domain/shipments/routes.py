"""The ways the demo's coils travel, as polylines between its sites, and where along
one a vehicle is after a share of its journey.

Waypoints follow the real corridors closely enough to look right on a map: the road
from the Baoshan works to the Yanghang rail yard and to its own dock, the
Beijing-Shanghai and Beijing-Harbin lines from Shanghai to Changchun, the coastal
route from the Yangtze mouth through the Taiwan Strait into the Pearl River, and the
last miles in Changchun and Shunde. The demo data and the device simulator both use
them, so a simulated vehicle continues the track the demo already holds.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

Point = tuple[float, float]  # (latitude, longitude), degrees

# Waypoints between two sites (excluding the sites themselves), by site codes.
WAYPOINTS: dict[tuple[str, str], tuple[Point, ...]] = {
    ("BAOSHAN", "SH-YANGHANG"): ((31.3985, 121.4602), (31.3822, 121.4431), (31.3701, 121.4254)),
    ("BAOSHAN", "BAOSHAN-DOCK-3"): ((31.4102, 121.4891), (31.4170, 121.4998)),
    ("SH-YANGHANG", "CHANGCHUN-RAIL"): (
        (31.3000, 121.2100), (31.3120, 120.6200), (31.5700, 120.3000), (31.7800, 119.9500),
        (32.0900, 118.8000), (32.9200, 117.3900), (34.2600, 117.1800), (35.4000, 116.9500),
        (36.6700, 116.9900), (37.4500, 116.3000), (38.3000, 116.8500), (39.1300, 117.2000),
        (39.6300, 118.1800), (40.0000, 119.7500), (40.7000, 120.8500), (41.1000, 121.1300),
        (41.8000, 123.4300), (42.2900, 123.8400), (43.1700, 124.3500), (43.5400, 124.8300),
    ),
    ("BAOSHAN-DOCK-3", "FOSHAN-BEIJIAO"): (
        (31.3500, 121.7500), (31.1500, 122.1000), (30.6000, 122.6000), (29.9000, 122.8500),
        (28.8000, 122.4000), (27.7000, 121.6000), (26.6000, 120.7500), (25.6000, 120.1000),
        (24.8000, 119.6000), (24.1000, 118.7000), (23.3000, 117.3000), (22.7000, 115.9000),
        (22.2000, 114.6000), (22.1500, 114.0000), (22.3000, 113.8000), (22.6000, 113.6800),
        (22.8000, 113.6200), (22.9000, 113.5000), (22.9000, 113.3500),
    ),
    ("CHANGCHUN-RAIL", "FAWVW-CC-WH"): ((43.8770, 125.2900), (43.8600, 125.2400)),
    ("FOSHAN-BEIJIAO", "GALANZ-SD-WH"): ((22.8900, 113.2250), (22.8300, 113.2500)),
}


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def bearing(a: Point, b: Point) -> float:
    """Initial course from a to b in degrees from true north, [0, 360)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    x = math.sin(lon2 - lon1) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(x, y)) % 360.0


@dataclass(frozen=True)
class Route:
    points: tuple[Point, ...]
    # Kilometres from the start to each point.
    marks: tuple[float, ...]

    @classmethod
    def through(cls, points: list[Point]) -> Route:
        marks = [0.0]
        for a, b in itertools.pairwise(points):
            marks.append(marks[-1] + distance_km(a, b))
        return cls(tuple(points), tuple(marks))

    @property
    def length_km(self) -> float:
        return self.marks[-1]

    def at(self, share: float) -> tuple[Point, float]:
        """Where a vehicle is after ``share`` (0..1) of the way, and its heading."""
        share = min(max(share, 0.0), 1.0)
        if len(self.points) == 1 or self.length_km == 0:
            return self.points[-1], 0.0
        km = share * self.length_km
        i = min(max(bisect.bisect_right(self.marks, km) - 1, 0), len(self.points) - 2)
        a, b = self.points[i], self.points[i + 1]
        span = self.marks[i + 1] - self.marks[i]
        t = (km - self.marks[i]) / span if span else 1.0
        point = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
        return point, bearing(a, b)


    def locate(self, point: Point) -> float:
        """The share of the way at the point of the route nearest to ``point``."""
        best, best_d = 0.0, math.inf
        scale = math.cos(math.radians(point[0]))
        for i, (a, b) in enumerate(itertools.pairwise(self.points)):
            ax, ay, bx, by = a[1] * scale, a[0], b[1] * scale, b[0]
            px, py = point[1] * scale, point[0]
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            t = 0.0 if not length2 else min(max(((px - ax) * dx + (py - ay) * dy) / length2, 0), 1)
            d = (ax + t * dx - px) ** 2 + (ay + t * dy - py) ** 2
            if d < best_d:
                km = self.marks[i] + t * (self.marks[i + 1] - self.marks[i])
                best, best_d = km / self.length_km if self.length_km else 1.0, d
        return best


# Trucks drive at this speed and then wait at the gate; trains and ships spread their
# run over the whole leg (their legs include the waits on the way).
ROAD_KMH = 40.0


def progress(mode: str, length_km: float, elapsed_h: float, leg_h: float
             ) -> tuple[float, float]:
    """(share of the way done, speed in km/h) ``elapsed_h`` into a leg of ``leg_h``."""
    if leg_h <= 0 or length_km <= 0:
        return 1.0, 0.0
    speed = max(ROAD_KMH, length_km / leg_h) if mode == "road" else length_km / leg_h
    share = min(max(elapsed_h * speed / length_km, 0.0), 1.0)
    return share, speed if share < 1.0 else 0.0


def route(origin: str, destination: str, start: Point, end: Point) -> Route:
    """The way between two sites: their waypoints when the corridor is known (in either
    direction), a straight line otherwise."""
    via = WAYPOINTS.get((origin, destination))
    if via is None:
        via = tuple(reversed(WAYPOINTS.get((destination, origin), ())))
    return Route.through([start, *via, end])
