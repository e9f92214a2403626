from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.shipments.eta import (
    CRAWL_KMH,
    CRUISE_KMH,
    DETOUR,
    _median,
    _steadiness,
    estimate,
    typical_speed,
)
from domain.shipments.lateness import BACK_ON_TIME_MARGIN, is_delayed
from tracking.model import MAX_SPEED_KMH, Mode

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_eta_is_route_distance_over_robust_speed() -> None:
    # 20 steady samples at 60 km/h: the cruise prior (55) barely moves the median.
    est = estimate(remaining_km=100, recent_speeds_kmh=[60.0] * 20, mode=Mode.ROAD,
                   now=NOW, fix_age=timedelta(0))
    speed = (20 * 60 + 3 * CRUISE_KMH[Mode.ROAD]) / 23
    assert est.route_km == pytest.approx(130.0)
    assert est.speed_kmh == pytest.approx(speed)
    assert est.eta == NOW + timedelta(hours=130 / speed)


def test_a_speed_spike_does_not_move_the_median() -> None:
    calm = typical_speed([60, 61, 59, 60, 62], Mode.ROAD)
    spiked = typical_speed([60, 61, 59, 60, 155], Mode.ROAD)
    assert spiked == pytest.approx(calm, abs=0.5)


def test_few_samples_lean_on_the_cruise_speed() -> None:
    assert typical_speed([], Mode.RAIL) == CRUISE_KMH[Mode.RAIL]
    one = typical_speed([100.0], Mode.ROAD)
    assert CRUISE_KMH[Mode.ROAD] < one < 100.0


def test_speed_is_floored_at_crawl_and_capped() -> None:
    assert typical_speed([0.0] * 30, Mode.WATER) == CRAWL_KMH[Mode.WATER]
    assert typical_speed([900.0] * 30, Mode.ROAD) == MAX_SPEED_KMH[Mode.ROAD]
    stopped = estimate(remaining_km=10, recent_speeds_kmh=[0.0] * 30, mode=Mode.ROAD, now=NOW,
                       fix_age=timedelta(0))
    assert stopped.eta == NOW + timedelta(hours=13 / CRAWL_KMH[Mode.ROAD])


def test_detour_per_mode() -> None:
    assert DETOUR == {Mode.ROAD: 1.3, Mode.RAIL: 1.25, Mode.WATER: 1.15}
    for mode in Mode:
        est = estimate(remaining_km=50, recent_speeds_kmh=[], mode=mode, now=NOW,
                       fix_age=timedelta(0))
        assert est.route_km == pytest.approx(50 * DETOUR[mode])


def test_the_journey_is_timed_from_the_fix() -> None:
    fresh = estimate(remaining_km=100, recent_speeds_kmh=[50.0] * 10, mode=Mode.ROAD, now=NOW,
                     fix_age=timedelta(0))
    old = estimate(remaining_km=100, recent_speeds_kmh=[50.0] * 10, mode=Mode.ROAD, now=NOW,
                   fix_age=timedelta(minutes=40))
    assert old.eta == fresh.eta - timedelta(minutes=40)
    # Due long ago but not seen arriving: no earlier than now.
    overdue = estimate(remaining_km=1, recent_speeds_kmh=[50.0], mode=Mode.ROAD, now=NOW,
                       fix_age=timedelta(hours=5))
    assert overdue.eta == NOW


def test_confidence_falls_with_age_scatter_and_distance() -> None:
    def conf(km: float = 50, speeds: list[float] | None = None, age_min: float = 0) -> float:
        return estimate(remaining_km=km, recent_speeds_kmh=speeds or [60.0] * 10,
                        mode=Mode.ROAD, now=NOW, fix_age=timedelta(minutes=age_min)).confidence

    base = conf()
    assert 0 < base <= 1
    assert conf(age_min=30) == pytest.approx(base / 2, abs=0.002)
    assert conf(speeds=[10, 90, 20, 80, 60, 5, 100, 40, 70, 30]) < base
    assert conf(km=500) < conf(km=50) < conf(km=1)
    assert conf(km=0, age_min=0) <= 1.0
    assert conf(age_min=24 * 60) == 0.0
    assert round(base, 3) == base  # fits numeric(4, 3)


def test_delay_against_the_promise_with_margin_to_come_back() -> None:
    promise, plan = NOW + timedelta(hours=4), NOW + timedelta(hours=1)
    assert not is_delayed(promise, promise, plan)  # behind the plan, inside the promise
    assert is_delayed(promise + timedelta(seconds=1), promise, plan)
    # Once delayed, an ETA just inside the promise is not yet back on time.
    assert is_delayed(promise - timedelta(minutes=5), promise, plan, was_delayed=True)
    assert not is_delayed(promise - BACK_ON_TIME_MARGIN, promise, plan, was_delayed=True)
    # Without a promise, the plan is what the arrival is held to.
    assert is_delayed(plan + timedelta(seconds=1), None, plan)
    assert not is_delayed(plan, None, plan)



@given(st.lists(st.floats(min_value=0.1, max_value=900.0), min_size=2, max_size=40))
def test_float_median_and_scatter_agree_with_the_statistics_module(speeds: list[float]) -> None:
    assert _median(speeds) == pytest.approx(statistics.median(speeds))
    expected = 1.0 / (1.0 + statistics.pstdev(speeds) / statistics.fmean(speeds))
    assert _steadiness(speeds) == pytest.approx(expected, rel=1e-9, abs=1e-12)
