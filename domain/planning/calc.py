"""Net steel demand: a pure function from a car build plan and the stock position to a
purchase proposal per spec and period. No I/O; every number is an exact Decimal.

Per spec s and planning period p of R days, with a transport cycle of L days:

- gross G = sum over car models of planned cars x kg per car x (1 + yield allowance);
  for a spec the customer's delivery schedule names, within the schedule's horizon,
  the tonnes the schedule states (:func:`with_schedule`);
- daily demand d = G / R; safety stock SS = safety days x d; lead-time demand LTD = L x d;
- available A: the inventory position IP for the first period, then what the previous
  period leaves (A + order - G);
- net N = max(0, G + LTD + SS - A), rounded up to whole coils and at least the minimum
  order (itself taken up to whole coils);
- the order is needed on the first day the projected stock would end under SS; it must
  leave the mill L days before that: the latest release date.

The worked example: 900 t over 30 days, SS 5 days, L 7 days, IP 750 t gives
N = 510 t, 43 coils of 12 t (516 t), release by day 13.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

ZERO = Decimal(0)
TONNE_KG = Decimal(1000)
# Tonnes are kept to the kilogram.
KG = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """Cars of one model to build in one period."""

    model: str
    period_start: date
    period_days: int
    units: int


@dataclass(frozen=True, slots=True)
class Consumption:
    """Kilograms of a spec that one car of a model takes, before the yield allowance."""

    model: str
    spec_id: int
    kg_per_car: Decimal
    # Extra share for blanking scrap and losses, in percent (5 = 5 % more).
    yield_allowance_pct: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    days: int
    gross_t: Decimal
    # The customer's own firmness, for a period its delivery schedule states; None for a
    # period of the car plan, which the firmness zones judge.
    firmness: str | None = None

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)


@dataclass(frozen=True, slots=True)
class SpecInput:
    """Everything the netting of one spec needs."""

    spec_id: int
    periods: Sequence[Period]
    safety_days: Decimal
    transport_days: int
    inventory_position_t: Decimal
    coil_weight_t: Decimal
    min_order_t: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class PeriodDemand:
    spec_id: int
    start: date
    end: date
    days: int
    gross_t: Decimal
    daily_t: Decimal
    safety_t: Decimal
    lead_time_t: Decimal
    available_t: Decimal
    net_t: Decimal
    order_t: Decimal
    coils: int
    # When the order must arrive, and the latest day it may leave the mill; None when
    # nothing is ordered.
    need_date: date | None
    release_date: date | None
    # The delivery schedule's firmness of the period, None for a car-plan period.
    firmness: str | None = None


@dataclass(frozen=True, slots=True)
class DayStock:
    day: date
    demand_t: Decimal
    receipt_t: Decimal
    # Projected stock at the end of the day, with the proposed orders arriving.
    stock_t: Decimal
    safety_t: Decimal


@dataclass(frozen=True, slots=True)
class SpecDemand:
    spec_id: int
    periods: tuple[PeriodDemand, ...]
    curve: tuple[DayStock, ...]

    @property
    def order_t(self) -> Decimal:
        return sum((p.order_t for p in self.periods), ZERO)


def gross_requirements(
    plan: Iterable[PlanEntry], consumption: Iterable[Consumption]
) -> dict[int, list[Period]]:
    """Gross tonnes per spec and period. Every spec of the consumption table gets every
    period of the plan, with zero where no car needs it, so periods stay contiguous."""
    by_model: dict[str, list[Consumption]] = {}
    for c in consumption:
        by_model.setdefault(c.model, []).append(c)
    spans: dict[date, int] = {}
    tonnes: dict[tuple[int, date], Decimal] = {}
    for e in plan:
        spans[e.period_start] = e.period_days
        for c in by_model.get(e.model, ()):
            kg = e.units * c.kg_per_car * (1 + c.yield_allowance_pct / 100)
            key = (c.spec_id, e.period_start)
            tonnes[key] = tonnes.get(key, ZERO) + kg / TONNE_KG
    specs = sorted({c.spec_id for cs in by_model.values() for c in cs})
    return {
        s: [Period(start, days, tonnes.get((s, start), ZERO).quantize(KG))
            for start, days in sorted(spans.items())]
        for s in specs
    }


@dataclass(frozen=True, slots=True)
class Scheduled:
    """Tonnes of a spec the customer's delivery schedule wants from ``start`` to ``end``
    (both included), and how firm the customer holds them."""

    spec_id: int
    start: date
    end: date
    quantity_t: Decimal
    firmness: str


def with_schedule(
    gross: dict[int, list[Period]], schedule: Iterable[Scheduled]
) -> dict[int, list[Period]]:
    """The gross requirements with the customer's delivery schedule taking precedence.

    For each spec the schedule names, the schedule's horizon runs from the first day of
    its first period for the spec to the last day of its last. Within it the schedule is
    the spec's whole demand: its periods, with their tonnes and firmness; the car plan's
    periods there are dropped, and one crossing an edge of the horizon keeps its days
    outside, with its tonnes in proportion (a car-plan period's demand is spread evenly
    over its days, as its daily demand is). Outside the horizon, and for every spec the
    schedule does not name, the car plan's periods stay as they are.

    A scheduled quantity lasts until the next period the schedule names for the spec: its
    period runs to the day before (the last to its own last day), so periods stay
    contiguous and the daily demand is the tonnes over the days they cover, not over a
    one-day delivery slot. Periods that overlap are one period spanning them, with their
    tonnes summed and the least firm of their firmnesses: no tonne is firmer than the
    customer made it.
    """
    out = dict(gross)
    by_spec: dict[int, list[Scheduled]] = {}
    for x in schedule:
        by_spec.setdefault(x.spec_id, []).append(x)
    for spec_id, found in by_spec.items():
        merged = _merged(found)
        first, last = merged[0].start, merged[-1].end
        periods = []
        for x, after in zip(merged, [*merged[1:], None], strict=True):
            end = after.start - timedelta(days=1) if after else x.end
            periods.append(Period(x.start, (end - x.start).days + 1, x.quantity_t, x.firmness))
        for p in gross.get(spec_id, ()):
            if p.start < first:
                periods.append(_part(p, p.start, min(p.end, first - timedelta(days=1))))
            if p.end > last:
                periods.append(_part(p, max(p.start, last + timedelta(days=1)), p.end))
        out[spec_id] = sorted(periods, key=lambda p: p.start)
    return out


def least_firm(a: str, b: str) -> str:
    return max(a, b, key=FIRMNESS_ORDER.index)


def _merged(found: list[Scheduled]) -> list[Scheduled]:
    ordered = sorted(found, key=lambda x: (x.start, x.end))
    merged = [ordered[0]]
    for x in ordered[1:]:
        m = merged[-1]
        if x.start <= m.end:
            merged[-1] = Scheduled(m.spec_id, m.start, max(m.end, x.end),
                                   m.quantity_t + x.quantity_t,
                                   least_firm(m.firmness, x.firmness))
        else:
            merged.append(x)
    return merged


def _part(p: Period, start: date, end: date) -> Period:
    """The days ``start`` to ``end`` of a car-plan period, with their share of its tonnes."""
    days = (end - start).days + 1
    if days == p.days:
        return p
    return Period(start, days, (p.gross_t * days / p.days).quantize(KG))


def round_to_coils(net_t: Decimal, coil_t: Decimal, min_order_t: Decimal) -> tuple[int, Decimal]:
    """Whole coils covering ``net_t``, and at least the minimum order (in whole coils)."""
    if net_t <= 0:
        return 0, ZERO
    coils = int((net_t / coil_t).to_integral_value(ROUND_CEILING))
    least = int((min_order_t / coil_t).to_integral_value(ROUND_CEILING))
    coils = max(coils, least)
    return coils, coils * coil_t


def net_demand(spec: SpecInput) -> SpecDemand:
    """Net the spec's gross requirements period by period against its stock position."""
    lines: list[PeriodDemand] = []
    available = spec.inventory_position_t
    for p in spec.periods:
        daily = p.gross_t / p.days
        safety = spec.safety_days * daily
        lead = spec.transport_days * daily
        net = max(ZERO, p.gross_t + lead + safety - available)
        coils, order = round_to_coils(net, spec.coil_weight_t, spec.min_order_t)
        lines.append(PeriodDemand(
            spec_id=spec.spec_id, start=p.start, end=p.end, days=p.days, gross_t=p.gross_t,
            daily_t=_t(daily), safety_t=_t(safety), lead_time_t=_t(lead),
            available_t=_t(available), net_t=_t(net), order_t=order, coils=coils,
            need_date=None, release_date=None, firmness=p.firmness,
        ))
        available = available + order - p.gross_t
    return _schedule(spec, lines)


def _t(value: Decimal) -> Decimal:
    return value.quantize(KG)


def _schedule(spec: SpecInput, lines: list[PeriodDemand]) -> SpecDemand:
    """Walk the days: each order, in period order, arrives on the first day the stock
    would otherwise end under the safety stock; orders never needed within the horizon
    arrive the day after it (they cover the transport cycle beyond it)."""
    pending = [i for i, line in enumerate(lines) if line.order_t > 0]
    need: dict[int, date] = {}
    curve: list[DayStock] = []
    stock = spec.inventory_position_t
    for line in lines:
        demand = line.gross_t / line.days
        shown = _t(demand)
        for k in range(line.days):
            day = line.start + timedelta(days=k)
            receipt = ZERO
            while pending and stock - demand + receipt < line.safety_t:
                i = pending.pop(0)
                need[i] = day
                receipt += lines[i].order_t
            stock = stock - demand + receipt
            curve.append(DayStock(day, shown, receipt, stock.quantize(KG), line.safety_t))
    after = (lines[-1].end + timedelta(days=1)) if lines else None
    for i in pending:
        assert after is not None
        need[i] = after
    done = []
    for i, line in enumerate(lines):
        n = need.get(i)
        done.append(PeriodDemand(**{
            **{f: getattr(line, f) for f in PeriodDemand.__slots__},
            "need_date": n,
            "release_date": n - timedelta(days=spec.transport_days) if n else None,
        }))
    return SpecDemand(spec.spec_id, tuple(done), tuple(curve))


FIRMNESS_ORDER = ("firm", "commitment_production", "commitment_material", "forecast")


@dataclass(frozen=True, slots=True)
class FirmnessZones:
    """Days from the plan date within which a period is firm, then committed for
    production, then committed for material; beyond them it is a forecast."""

    firm_days: int = 28
    production_days: int = 56
    material_days: int = 91

    def of(self, as_of: date, period_start: date) -> str:
        ahead = (period_start - as_of).days
        if ahead < self.firm_days:
            return "firm"
        if ahead < self.production_days:
            return "commitment_production"
        if ahead < self.material_days:
            return "commitment_material"
        return "forecast"
