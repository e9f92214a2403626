"""The pure check of an order's plan against the capacity left."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.capacity import atp
from domain.contracts.model import MIN_PRODUCTION_TIME
from domain.contracts.stage_routes import plan_stages

TODAY = date(2027, 1, 4)  # a Monday


def test_spread_keeps_every_tonne_and_splits_by_days() -> None:
    plans = plan_stages("cold_rolled", Decimal(300), TODAY, TODAY + timedelta(days=27))
    load = atp.spread(plans)
    for p in plans:
        total = sum(t for (stage, _), t in load.items() if stage == p.stage)
        assert abs(total - p.planned_t) < Decimal("0.000001"), p.stage
    assert all(week.weekday() == 0 for _, week in load)


def test_without_capacity_the_shortest_route_is_the_earliest() -> None:
    assert atp.earliest_finish("cold_rolled", Decimal(300), TODAY, {}, {}) == \
        TODAY + MIN_PRODUCTION_TIME


def test_a_short_week_moves_the_earliest_finish_and_is_named() -> None:
    finish = TODAY + MIN_PRODUCTION_TIME
    plans = plan_stages("cold_rolled", Decimal(300), TODAY, finish)
    rolling = next(p for p in plans if p.stage == "cold_rolling")
    week = atp.monday(rolling.planned_start)
    capacity = {("cold_rolling", week): Decimal(100)}
    answer = atp.check("cold_rolled", Decimal(300), TODAY, finish=finish,
                       latest_finish=finish, capacity=capacity, booked={})
    assert answer.feasible is False
    assert answer.shortfalls and answer.shortfalls[0].stage == "cold_rolling"
    assert "cold_rolling is" in (answer.reason or "") and week.isoformat() in (answer.reason or "")
    assert answer.earliest_finish is not None and answer.earliest_finish > finish
    # What others booked counts against it just the same.
    booked = {("cold_rolling", week): Decimal(3500)}
    crowded = atp.check("cold_rolled", Decimal(300), TODAY, finish=finish, latest_finish=finish,
                        capacity={("cold_rolling", week): Decimal(3600)}, booked=booked)
    assert crowded.feasible is False


def test_a_window_the_route_cannot_reach_is_infeasible_by_time() -> None:
    finish = TODAY + MIN_PRODUCTION_TIME
    answer = atp.check("galvanized", Decimal(50), TODAY, finish=finish,
                       latest_finish=finish - timedelta(days=3), capacity={}, booked={})
    assert answer.feasible is False and answer.earliest_finish == finish
    assert "shortest route" in (answer.reason or "")
