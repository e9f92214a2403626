"""Filters: each reason they give, triggered by a fix that earns it."""

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import pytest

from tracking.decoders import decode
from tracking.filters import FilterLimits, check_fix, haversine_km, is_out_of_order
from tracking.model import MAX_SPEED_KMH, Fix, Mode, Reason, Rejection, Source

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
# Baoshan works' dock, Shanghai.
BASE = Fix(device="TRK-0042", fix_time=NOW - timedelta(minutes=1), latitude=31.4,
           longitude=121.5, speed_kmh=50.0, heading=90.0, accuracy_m=8.0, source=Source.NATIVE)


def moved(km_east: float, seconds: float, **changes: object) -> Fix:
    """BASE shifted east by ``km_east`` (along the parallel) and ``seconds`` later."""
    per_degree = haversine_km(BASE.latitude, 0.0, BASE.latitude, 1.0)
    return dataclasses.replace(BASE, longitude=BASE.longitude + km_east / per_degree,
                               fix_time=BASE.fix_time + timedelta(seconds=seconds),
                               **changes)  # type: ignore[arg-type]


def reason(fix: Fix, previous: Fix | None = None, mode: Mode = Mode.ROAD,
           limits: FilterLimits = FilterLimits()) -> Reason:
    with pytest.raises(Rejection) as caught:
        check_fix(fix, now=NOW, previous=previous, mode=mode, limits=limits)
    return caught.value.reason


def test_a_plausible_fix_passes() -> None:
    check_fix(moved(1.0, 60), now=NOW, previous=BASE, mode=Mode.ROAD)
    check_fix(BASE, now=NOW, previous=None, mode=Mode.WATER)


def test_haversine_matches_known_distances() -> None:
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.195, abs=1e-3)
    assert haversine_km(0, 0, 90, 0) == pytest.approx(math.pi / 2 * 6371.0088)  # a quadrant
    assert haversine_km(31.4, 121.5, 40.1, 116.6) == haversine_km(40.1, 116.6, 31.4, 121.5)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371.0088)
    assert haversine_km(10, 20, 10, 20) == 0.0


@pytest.mark.parametrize(("lat", "lon"), [
    (math.nan, 121.5), (31.4, math.nan), (math.inf, 121.5), (31.4, -math.inf),
    (91.0, 121.5), (-90.5, 121.5), (31.4, 181.0), (31.4, -180.01),
])
def test_invalid_coordinates(lat: float, lon: float) -> None:
    assert reason(dataclasses.replace(BASE, latitude=lat, longitude=lon)) is (
        Reason.INVALID_COORDINATES)


def test_nan_from_a_native_payload_is_rejected_not_raised() -> None:
    (fix,) = decode("keylink/v1/devices/TRK-0042/position",
                    b'{"ts": "2026-11-25T07:59:00Z", "lat": NaN, "lon": 121.5}', NOW)
    assert isinstance(fix, Fix) and reason(fix) is Reason.INVALID_COORDINATES


def test_edges_of_the_globe_are_valid() -> None:
    for lat, lon in [(90.0, 180.0), (-90.0, -180.0), (0.0, 1e-9)]:
        check_fix(dataclasses.replace(BASE, latitude=lat, longitude=lon), now=NOW,
                  previous=None, mode=Mode.ROAD)


def test_null_island() -> None:
    assert reason(dataclasses.replace(BASE, latitude=0.0, longitude=0.0)) is Reason.NULL_ISLAND


@pytest.mark.parametrize("changes", [
    {"speed_kmh": -1.0}, {"speed_kmh": math.nan}, {"speed_kmh": math.inf},
    {"speed_kmh": 1e300}, {"heading": -0.5}, {"heading": 360.0}, {"heading": math.nan},
    {"accuracy_m": -3.0}, {"accuracy_m": math.nan},
    {"fix_time": datetime(2026, 11, 25, 7, 59)},  # naive
])
def test_impossible_values_are_malformed(changes: dict[str, object]) -> None:
    assert reason(dataclasses.replace(BASE, **changes)) is Reason.MALFORMED  # type: ignore[arg-type]


def test_future_fix_beyond_the_skew() -> None:
    check_fix(dataclasses.replace(BASE, fix_time=NOW + timedelta(minutes=2)), now=NOW,
              previous=None, mode=Mode.ROAD)
    late = dataclasses.replace(BASE, fix_time=NOW + timedelta(minutes=2, seconds=1))
    assert reason(late) is Reason.FUTURE_FIX


def test_stale_fix_beyond_the_age() -> None:
    old = dataclasses.replace(BASE, fix_time=NOW - timedelta(days=7, seconds=1))
    assert reason(old) is Reason.STALE_FIX
    assert reason(BASE, limits=FilterLimits(max_age=timedelta(seconds=30))) is Reason.STALE_FIX


def test_poor_accuracy() -> None:
    check_fix(dataclasses.replace(BASE, accuracy_m=500.0), now=NOW, previous=None,
              mode=Mode.ROAD)
    assert reason(dataclasses.replace(BASE, accuracy_m=501.0)) is Reason.POOR_ACCURACY
    assert reason(BASE, limits=FilterLimits(max_accuracy_m=5.0)) is Reason.POOR_ACCURACY


@pytest.mark.parametrize("mode", list(Mode))
def test_impossible_speed_for_each_mode(mode: Mode) -> None:
    limit = MAX_SPEED_KMH[mode]
    # One hour at 98 % of the limit passes; at 102 % it is a jump.
    check_fix(moved(limit * 0.98, 3600), now=NOW + timedelta(hours=1), previous=BASE,
              mode=mode)
    with pytest.raises(Rejection) as caught:
        check_fix(moved(limit * 1.02, 3600), now=NOW + timedelta(hours=1), previous=BASE,
                  mode=mode)
    assert caught.value.reason is Reason.IMPOSSIBLE_SPEED


def test_water_limit_stops_what_road_allows() -> None:
    fix = moved(100 / 60, 60)  # 100 km/h
    check_fix(fix, now=NOW, previous=BASE, mode=Mode.ROAD)
    assert reason(fix, BASE, Mode.WATER) is Reason.IMPOSSIBLE_SPEED


def test_out_of_order_fix_is_judged_by_the_absolute_interval() -> None:
    earlier = moved(-1.0, -60)  # a minute before BASE, a kilometre west: 60 km/h
    check_fix(earlier, now=NOW, previous=BASE, mode=Mode.ROAD)
    assert is_out_of_order(earlier, BASE)
    assert reason(moved(-5.0, -60), BASE) is Reason.IMPOSSIBLE_SPEED  # 300 km/h


def test_under_a_second_distance_decides() -> None:
    check_fix(moved(0.9, 0.5), now=NOW, previous=BASE, mode=Mode.ROAD)
    check_fix(moved(0.2, 0), now=NOW, previous=BASE, mode=Mode.WATER)  # a redelivery nearby
    assert reason(moved(1.5, 0.5), BASE) is Reason.IMPOSSIBLE_SPEED
    assert reason(moved(1.5, 0), BASE) is Reason.IMPOSSIBLE_SPEED


def test_out_of_order_detection() -> None:
    assert not is_out_of_order(BASE, None)
    assert not is_out_of_order(moved(0.1, 1), BASE)
    assert is_out_of_order(moved(0.1, 0), BASE)
    assert is_out_of_order(moved(0.1, -1), BASE)


def test_a_naive_clock_is_a_bug_not_a_rejection() -> None:
    with pytest.raises(ValueError):
        check_fix(BASE, now=NOW.replace(tzinfo=None), previous=None, mode=Mode.ROAD)
