"""The net-demand calculation alone: the worked example of the README and its properties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.planning.calc import (
    Consumption,
    FirmnessZones,
    Period,
    PlanEntry,
    Scheduled,
    SpecInput,
    gross_requirements,
    net_demand,
    round_to_coils,
    with_schedule,
)

DAY0 = date(2026, 12, 1)


def example(ip: Decimal = Decimal(750)) -> SpecInput:
    plan = [PlanEntry("SAGITAR", DAY0, 30, 12_000), PlanEntry("MAGOTAN", DAY0, 30, 8_000)]
    table = [Consumption("SAGITAR", 1, Decimal(40)), Consumption("MAGOTAN", 1, Decimal("52.5"))]
    periods = gross_requirements(plan, table)[1]
    return SpecInput(spec_id=1, periods=periods, safety_days=Decimal(5), transport_days=7,
                     inventory_position_t=ip, coil_weight_t=Decimal(12))


def test_the_worked_example_of_the_design() -> None:
    result = net_demand(example(Decimal(320) + Decimal(180) + Decimal(250)))
    (p,) = result.periods
    assert p.gross_t == Decimal(900)
    assert p.daily_t == Decimal(30)
    assert p.safety_t == Decimal(150) and p.lead_time_t == Decimal(210)
    assert p.net_t == Decimal(510)
    assert (p.coils, p.order_t) == (43, Decimal(516))
    assert p.release_date == DAY0 + timedelta(days=13)
    assert p.need_date == DAY0 + timedelta(days=20)
    curve = {d.day: d for d in result.curve}
    assert curve[DAY0 + timedelta(days=19)].stock_t == Decimal(150)
    assert curve[DAY0 + timedelta(days=20)].receipt_t == Decimal(516)
    assert curve[DAY0 + timedelta(days=29)].stock_t == Decimal(750 + 516 - 900)


def test_yield_allowance_raises_the_gross() -> None:
    periods = gross_requirements([PlanEntry("M", DAY0, 7, 1000)],
                                 [Consumption("M", 9, Decimal(20), Decimal(5))])
    assert periods[9][0].gross_t == Decimal(21)


def test_minimum_order_is_taken_up_to_whole_coils() -> None:
    assert round_to_coils(Decimal(1), Decimal(12), Decimal(30)) == (3, Decimal(36))
    assert round_to_coils(Decimal(0), Decimal(12), Decimal(30)) == (0, Decimal(0))


def test_later_periods_net_what_the_earlier_ones_leave() -> None:
    plan = [PlanEntry("M", DAY0 + timedelta(weeks=w), 7, 700) for w in range(4)]
    periods = gross_requirements(plan, [Consumption("M", 1, Decimal(100))])[1]
    spec = SpecInput(1, periods, Decimal(2), 7, Decimal(0), Decimal(10))
    result = net_demand(spec)
    # 70 t a week, 10 t a day: the first week also builds the safety and transit cover.
    assert [p.order_t for p in result.periods] == [Decimal(160), Decimal(70), Decimal(70),
                                                   Decimal(70)]
    assert all(d.stock_t >= 0 for d in result.curve)
    # The first order arrives at once; the second when the stock would end a day under
    # the 20 t of safety stock (day 14), so it leaves the mill 7 days before.
    assert result.periods[0].need_date == DAY0
    assert result.periods[1].need_date == DAY0 + timedelta(days=14)
    assert result.periods[1].release_date == DAY0 + timedelta(days=7)


def test_firmness_zones_by_distance_from_the_plan_date() -> None:
    zones = FirmnessZones()
    assert [zones.of(DAY0, DAY0 + timedelta(days=d)) for d in (0, 30, 60, 120)] == [
        "firm", "commitment_production", "commitment_material", "forecast"]


tonnes = st.decimals(min_value=0, max_value=5000, places=3, allow_nan=False,
                     allow_infinity=False)
coil = st.decimals(min_value=1, max_value=30, places=1)


@st.composite
def specs(draw: st.DrawFn, min_order: bool = True) -> SpecInput:
    weeks = draw(st.integers(min_value=1, max_value=8))
    periods = [Period(DAY0 + timedelta(weeks=w), 7, draw(tonnes)) for w in range(weeks)]
    return SpecInput(
        spec_id=1, periods=periods,
        safety_days=Decimal(draw(st.integers(min_value=0, max_value=10))),
        transport_days=draw(st.integers(min_value=0, max_value=20)),
        inventory_position_t=draw(tonnes), coil_weight_t=draw(coil),
        min_order_t=draw(tonnes) if min_order else Decimal(0),
    )


def _with_ip(spec: SpecInput, ip: Decimal) -> SpecInput:
    return SpecInput(spec.spec_id, spec.periods, spec.safety_days, spec.transport_days, ip,
                     spec.coil_weight_t, spec.min_order_t)


@settings(max_examples=300, deadline=None)
@given(specs(min_order=False), tonnes)
def test_more_stock_never_raises_net_demand(spec: SpecInput, extra: Decimal) -> None:
    less = net_demand(spec)
    more = net_demand(_with_ip(spec, spec.inventory_position_t + extra))
    assert more.order_t <= less.order_t
    assert more.periods[0].net_t <= less.periods[0].net_t


@settings(max_examples=300, deadline=None)
@given(specs(), tonnes)
def test_more_stock_never_raises_the_first_period(spec: SpecInput, extra: Decimal) -> None:
    less = net_demand(spec).periods[0]
    more = net_demand(_with_ip(spec, spec.inventory_position_t + extra)).periods[0]
    assert more.net_t <= less.net_t and more.order_t <= less.order_t


@settings(max_examples=200, deadline=None)
@given(specs())
def test_a_zero_plan_with_enough_stock_needs_nothing(spec: SpecInput) -> None:
    zero = SpecInput(spec.spec_id, [Period(p.start, p.days, Decimal(0)) for p in spec.periods],
                     spec.safety_days, spec.transport_days, spec.inventory_position_t,
                     spec.coil_weight_t, spec.min_order_t)
    result = net_demand(zero)
    assert result.order_t == 0
    assert all(p.release_date is None for p in result.periods)


@settings(max_examples=300, deadline=None)
@given(specs())
def test_rounding_never_falls_below_the_net(spec: SpecInput) -> None:
    for p in net_demand(spec).periods:
        assert p.order_t >= p.net_t
        assert p.order_t == p.coils * spec.coil_weight_t
        if p.coils:
            assert p.order_t >= spec.min_order_t
            assert p.release_date is not None and p.need_date is not None
            assert (p.need_date - p.release_date).days == spec.transport_days


@settings(max_examples=300, deadline=None)
@given(specs())
def test_with_the_proposed_orders_no_day_ends_under_the_safety_stock(spec: SpecInput) -> None:
    result = net_demand(spec)
    for d in result.curve:
        assert d.stock_t >= d.safety_t - Decimal("0.001"), (d, result.periods)


def test_the_delivery_schedule_takes_precedence_within_its_horizon() -> None:
    # A car plan of two 10-day periods, 100 t each, for specs 1 and 2.
    car = {s: [Period(DAY0, 10, Decimal(100)), Period(DAY0 + timedelta(days=10), 10,
                                                      Decimal(100))] for s in (1, 2)}
    day = timedelta(days=1)
    merged = with_schedule(car, [
        # Overlapping periods are one: tonnes summed, the least firm firmness.
        Scheduled(1, DAY0 + 4 * day, DAY0 + 5 * day, Decimal(30), "firm"),
        Scheduled(1, DAY0 + 5 * day, DAY0 + 6 * day, Decimal(20), "commitment_production"),
        Scheduled(1, DAY0 + 12 * day, DAY0 + 12 * day, Decimal(70), "forecast"),
        Scheduled(3, DAY0, DAY0, Decimal(5), "firm"),
    ])
    assert [(p.start - DAY0).days for p in merged[1]] == [0, 4, 12, 13]
    assert [p.days for p in merged[1]] == [4, 8, 1, 7]
    # The car plan's days outside the horizon (days 4 to 12) keep their share.
    assert [p.gross_t for p in merged[1]] == [Decimal(40), Decimal(50), Decimal(70),
                                              Decimal(70)]
    assert [p.firmness for p in merged[1]] == [None, "commitment_production", "forecast", None]
    assert merged[2] == car[2]
    assert merged[3] == [Period(DAY0, 1, Decimal(5), "firm")]
    # Netting keeps the schedule's firmness on each period.
    netted = net_demand(SpecInput(spec_id=1, periods=merged[1], safety_days=Decimal(5),
                                  transport_days=7, inventory_position_t=Decimal(0),
                                  coil_weight_t=Decimal(12)))
    assert [p.firmness for p in netted.periods] == [None, "commitment_production",
                                                    "forecast", None]
    assert len(netted.curve) == 20
