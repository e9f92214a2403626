"""Production routes and the planned schedule of a line."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contracts.stage_routes import (
    ROUTES,
    STAGES,
    YIELD,
    StagePlan,
    coil_stage,
    plan_stages,
    route,
)

# The product values the steel_spec table accepts.
PRODUCTS = ("hot_rolled", "cold_rolled", "galvanized", "electrogalvanized", "galvannealed",
            "tinplate", "electrical")


def test_every_product_has_a_route_in_stage_order() -> None:
    assert set(ROUTES) == set(PRODUCTS)
    for product, stages in ROUTES.items():
        positions = [STAGES.index(s) for s in stages]
        assert positions == sorted(set(positions)), product
        assert stages[:3] == ("steelmaking", "casting", "hot_rolling")
        assert stages[-3:] == ("inspection", "packing", "warehoused")


def test_routes_of_the_traded_products() -> None:
    assert route("cold_rolled") == (
        "steelmaking", "casting", "hot_rolling", "pickling", "cold_rolling", "annealing",
        "finishing", "inspection", "packing", "warehoused")
    # The hot-dip line anneals inline: no separate annealing stage.
    assert route("galvanized") == (
        "steelmaking", "casting", "hot_rolling", "pickling", "cold_rolling", "coating",
        "finishing", "inspection", "packing", "warehoused")
    assert route("hot_rolled") == (
        "steelmaking", "casting", "hot_rolling", "finishing", "inspection", "packing",
        "warehoused")
    assert coil_stage("galvanized") == "coating"
    assert coil_stage("cold_rolled") == "cold_rolling"
    assert coil_stage("hot_rolled") == "hot_rolling"


def test_plan_fills_the_window_stage_after_stage() -> None:
    start, finish = date(2026, 3, 2), date(2026, 4, 10)
    plans = plan_stages("cold_rolled", Decimal("240"), start, finish)
    assert [p.stage for p in plans] == list(route("cold_rolled"))
    assert plans[0].planned_start == start
    assert plans[-1].planned_end == finish
    for before, after in pairwise(plans):
        assert after.planned_start == before.planned_end + timedelta(days=1)
    lengths = {p.stage: (p.planned_end - p.planned_start).days + 1 for p in plans}
    assert min(lengths.values()) >= 1
    # Relative lengths follow the mill: annealing takes longer than packing.
    assert lengths["annealing"] > lengths["packing"]


def test_upstream_stages_plan_for_the_yield_loss() -> None:
    plans = plan_stages("galvanized", Decimal("100"), date(2026, 1, 1), date(2026, 1, 31))
    tonnes = [p.planned_t for p in plans]
    assert tonnes[-1] == Decimal("100.000")
    assert tonnes == sorted(tonnes, reverse=True)
    expected = Decimal(100)
    for stage in reversed(route("galvanized")):
        expected /= YIELD.get(stage, Decimal(1))
    assert tonnes[0] == expected.quantize(Decimal("0.001"))
    assert Decimal(105) < tonnes[0] < Decimal(112)


def test_short_window_shares_days_in_order() -> None:
    start = date(2026, 5, 4)
    plans = plan_stages("cold_rolled", Decimal(60), start, start + timedelta(days=2))
    assert plans[0].planned_start == start
    assert plans[-1].planned_end == start + timedelta(days=2)
    days = [p.planned_start for p in plans]
    assert days == sorted(days)
    assert len(set(days)) == 3
    same_day = plan_stages("hot_rolled", Decimal(60), start, start)
    assert {(p.planned_start, p.planned_end) for p in same_day} == {(start, start)}


def test_refuses_what_cannot_be_planned() -> None:
    day = date(2026, 1, 10)
    with pytest.raises(ValueError, match="unknown product"):
        plan_stages("wire_rod", Decimal(10), day, day)
    with pytest.raises(ValueError, match="before start"):
        plan_stages("cold_rolled", Decimal(10), day, day - timedelta(days=1))
    with pytest.raises(ValueError, match="positive"):
        plan_stages("cold_rolled", Decimal(0), day, day)


def test_plans_are_pure_values() -> None:
    args = ("tinplate", Decimal("75.5"), date(2026, 2, 1), date(2026, 3, 15))
    assert plan_stages(*args) == plan_stages(*args)
    plan = plan_stages(*args)[0]
    with pytest.raises(FrozenInstanceError):
        plan.stage = "casting"  # type: ignore[misc]
    assert isinstance(plan, StagePlan)


@given(
    product=st.sampled_from(PRODUCTS),
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(5000), places=3),
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)),
    days=st.integers(min_value=0, max_value=400),
)
def test_any_window_gives_an_ordered_covering_plan(
        product: str, quantity: Decimal, start: date, days: int) -> None:
    finish = start + timedelta(days=days)
    plans = plan_stages(product, quantity, start, finish)
    assert [p.stage for p in plans] == list(route(product))
    assert plans[0].planned_start == start and plans[-1].planned_end == finish
    assert plans[-1].planned_t == quantity
    for before, after in pairwise(plans):
        assert before.planned_end <= after.planned_start
        assert after.planned_start <= before.planned_end + timedelta(days=1)
        assert before.planned_t >= after.planned_t
    for p in plans:
        assert p.planned_start <= p.planned_end
        assert p.planned_t > 0
    if days + 1 >= len(plans):
        # Enough days: no two stages share one.
        assert all(b.planned_start > a.planned_end for a, b in pairwise(plans))
