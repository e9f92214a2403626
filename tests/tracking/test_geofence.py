from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from shapely.geometry import Point

from domain.db import Database
from tests.tracking.support import PORT, build_track, offset, square
from tracking.detect.reads import site_rows
from tracking.geofence import (
    DWELL,
    ENTERED,
    EXITED,
    FenceEvent,
    FenceIndex,
    Presence,
    circle,
    fence_from_row,
    step,
)

T = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _row(site_id: int, lat: float, lon: float, *, radius: float | None = None,
         geofence: Any = None, kind: str = "plant") -> dict[str, object]:
    return {"id": site_id, "kind": kind, "latitude": lat, "longitude": lon,
            "geofence": geofence, "geofence_radius_m": radius}


async def test_index_from_the_site_table_hits_polygons_and_circles(db: Database) -> None:
    t = await build_track(db)
    index = FenceIndex.from_rows(await site_rows(db))
    plant, port = t.site["plant"], t.site["port"]
    assert index.sites_at(31.40, 121.48) == [plant]
    assert index.sites_at(*PORT) == [port]
    # The port's square reaches 0.01 degrees out each way.
    assert index.sites_at(PORT[0] + 0.0099, PORT[1] - 0.0099) == [port]
    assert index.sites_at(PORT[0] + 0.0101, PORT[1]) == []
    assert index.sites_at(PORT[0], PORT[1] + 0.0101) == []
    # The plant's circle is 2,500 m on the ground in every direction.
    for north, east in ((2490, 0), (0, 2490), (-2490, 0), (0, -2490), (1750, 1750)):
        assert index.sites_at(*offset(31.40, 121.48, north, east)) == [plant]
    for north, east in ((2510, 0), (0, 2510), (-2510, 0), (0, -2510), (1780, 1780)):
        assert index.sites_at(*offset(31.40, 121.48, north, east)) == []
    assert index.sites_at(0.5, 0.5) == []


def test_circles_are_round_on_the_ground_far_north() -> None:
    # At 60 degrees north a degree of longitude is half a degree of latitude on the ground:
    # a circle drawn in degrees would reach twice as far east as north.
    index = FenceIndex.from_rows([_row(1, 60.0, 25.0, radius=1000)])
    assert index.sites_at(*offset(60.0, 25.0, east_m=990)) == [1]
    assert index.sites_at(*offset(60.0, 25.0, east_m=1010)) == []
    assert index.sites_at(*offset(60.0, 25.0, north_m=990)) == [1]
    assert index.sites_at(*offset(60.0, 25.0, north_m=1010)) == []


def test_multipolygons_overlaps_and_decimal_coordinates() -> None:
    from decimal import Decimal

    two = {"type": "MultiPolygon", "coordinates": [
        square(10.0, 10.0, 0.01)["coordinates"], square(10.0, 10.1, 0.01)["coordinates"]]}
    exact = {"type": "Polygon", "coordinates": [[[Decimal(str(x)), Decimal(str(y))]
                                                 for x, y in square(10.0, 10.0, 0.02)
                                                 ["coordinates"][0]]]}
    index = FenceIndex.from_rows([_row(1, 10.0, 10.05, geofence=two),
                                  _row(2, 10.0, 10.0, geofence=exact)])
    assert index.sites_at(10.0, 10.0) == [1, 2]
    assert index.sites_at(10.0, 10.1) == [1]
    assert index.sites_at(10.0, 10.05) == []
    assert index.sites_at(10.015, 10.0) == [2]


def test_nearest_measures_on_the_ground() -> None:
    # Site 1 is 0.02 degrees east (2.09 km at 20 N), site 2 0.019 degrees north (2.11 km):
    # in degrees site 2 is nearer, on the ground site 1 is.
    rows = [_row(1, 20.0, 10.02, radius=1), _row(2, 20.019, 10.0, radius=1)]
    nearest = FenceIndex.from_rows(rows).nearest(20.0, 10.0)
    assert nearest is not None and nearest.site_id == 1
    assert abs(nearest.distance_m - 2092) < 10
    inside = FenceIndex.from_rows([_row(3, 20.0, 10.0, radius=500)]).nearest(20.0, 10.001)
    assert inside is not None and inside.site_id == 3 and inside.distance_m == 0.0
    assert FenceIndex([]).nearest(1.0, 1.0) is None
    assert FenceIndex([]).sites_at(1.0, 1.0) == []


def test_circle_radius_is_metres() -> None:
    ring = circle(31.0, 121.0, 300.0)
    projected = shapely.transform(ring, lambda xy: xy * [95_340.0, 111_195.0])
    centre = shapely.transform(Point(121.0, 31.0), lambda xy: xy * [95_340.0, 111_195.0])
    assert abs(projected.exterior.distance(centre) - 300.0) < 3.0


def test_the_index_answers_from_its_tree_like_brute_force_but_fast() -> None:
    rng = random.Random(7)
    rows = []
    for i in range(5000):
        lat, lon = rng.uniform(20, 45), rng.uniform(100, 125)
        if i % 2:
            rows.append(_row(i, lat, lon, radius=rng.uniform(200, 5000)))
        else:
            rows.append(_row(i, lat, lon, geofence=square(lat, lon, rng.uniform(0.005, 0.05))))
    index = FenceIndex.from_rows(rows)
    fences = [fence_from_row(r) for r in rows]
    points = [(rng.uniform(20, 45), rng.uniform(100, 125)) for _ in range(300)]
    # Points placed inside fences as well, so hits are tested and not only misses.
    points += [(f.latitude, f.longitude) for f in rng.sample(fences, 300)]
    for lat, lon in points:
        brute = sorted(f.site_id for f in fences if f.shape.intersects(Point(lon, lat)))
        assert index.sites_at(lat, lon) == brute
    started = time.perf_counter()
    for lat, lon in points * 10:
        index.sites_at(lat, lon)
    per_lookup = (time.perf_counter() - started) / (len(points) * 10)
    started = time.perf_counter()
    for lat, lon in points[:20]:
        [f.site_id for f in fences if f.shape.intersects(Point(lon, lat))]
    per_scan = (time.perf_counter() - started) / 20
    # A linear scan of 5,000 shapes costs milliseconds; the tree answers in tens of µs.
    assert per_lookup < 0.5e-3
    assert per_lookup * 20 < per_scan


def test_a_short_excursion_confirms_nothing() -> None:
    p, events = step(None, True, T, "port")
    assert p == Presence(T, T, False) and events == []
    p, events = step(p, True, T + timedelta(minutes=29), "port")
    assert p is not None and not p.confirmed and events == []
    p, events = step(p, False, T + timedelta(minutes=31), "port")
    assert p is None and events == []


def test_a_long_stay_enters_at_the_entry_time_then_exits() -> None:
    p, _ = step(None, True, T, "plant")
    p, events = step(p, True, T + DWELL["plant"], "plant")
    assert events == [FenceEvent(ENTERED, T)]
    assert p == Presence(T, T + DWELL["plant"], True)
    p, events = step(p, True, T + timedelta(hours=2), "plant")
    assert events == []  # entered once
    p, events = step(p, False, T + timedelta(hours=3), "plant")
    assert p is None and events == [FenceEvent(EXITED, T + timedelta(hours=3))]


def test_a_gap_in_the_fixes_still_counts_the_stay() -> None:
    p, _ = step(None, True, T, "customer_warehouse")
    p, events = step(p, True, T + timedelta(hours=1), "customer_warehouse")
    assert events == [FenceEvent(ENTERED, T)]


def test_an_older_fix_changes_nothing() -> None:
    confirmed = Presence(T, T + timedelta(hours=1), True)
    for inside in (True, False):
        for at in (T + timedelta(minutes=30), T + timedelta(hours=1)):
            assert step(confirmed, inside, at, "plant") == (confirmed, [])
    pending = Presence(T, T + timedelta(minutes=4), False)
    assert step(pending, True, T + timedelta(minutes=3), "plant") == (pending, [])
    assert step(pending, False, T + timedelta(minutes=2), "plant") == (pending, [])
