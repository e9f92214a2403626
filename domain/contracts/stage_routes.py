"""Production routes: which stages each product passes through, and the planned schedule.

A route is the ordered tuple of ``production_stage`` codes a product goes through at
the mill. :func:`plan_stages` turns a route, a tonnage and a production window into
the planned dates and tonnes of every stage. It is pure (no clock, no database), so
confirming a contract, the demo data and the tests all plan the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

# Every stage in the order of the production_stage table (its ``seq``).
STAGES: tuple[str, ...] = (
    "steelmaking", "casting", "hot_rolling", "pickling", "cold_rolling", "annealing",
    "coating", "finishing", "inspection", "packing", "warehoused",
)

_UPSTREAM = ("steelmaking", "casting", "hot_rolling")
_COLD = (*_UPSTREAM, "pickling", "cold_rolling")
_DOWNSTREAM = ("finishing", "inspection", "packing", "warehoused")

ROUTES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # Hot band goes to the finishing line (edge trim, recoil, skin pass) straight off the mill.
    "hot_rolled": (*_UPSTREAM, *_DOWNSTREAM),
    # Batch or continuous annealing restores ductility after cold reduction.
    "cold_rolled": (*_COLD, "annealing", *_DOWNSTREAM),
    # A continuous hot-dip line anneals inline ahead of the zinc pot: no separate annealing.
    "galvanized": (*_COLD, "coating", *_DOWNSTREAM),
    # Galvannealing is the same hot-dip line with an alloying furnace after the pot.
    "galvannealed": (*_COLD, "coating", *_DOWNSTREAM),
    # Electroplating lines take strip that is already annealed.
    "electrogalvanized": (*_COLD, "annealing", "coating", *_DOWNSTREAM),
    # Tin plating follows annealing (and temper or double reduction, part of finishing).
    "tinplate": (*_COLD, "annealing", "coating", *_DOWNSTREAM),
    # Decarburizing anneal, then the insulation coating.
    "electrical": (*_COLD, "annealing", "coating", *_DOWNSTREAM),
})

# Relative length of each stage, in rough days of a typical mill lead time. Annealing is
# the longest (batch annealing holds a stack of coils for days); packing is the shortest.
_WEIGHT: Mapping[str, Decimal] = MappingProxyType({
    "steelmaking": Decimal(2), "casting": Decimal("1.5"), "hot_rolling": Decimal(3),
    "pickling": Decimal(2), "cold_rolling": Decimal(3), "annealing": Decimal(4),
    "coating": Decimal(3), "finishing": Decimal(2), "inspection": Decimal("1.5"),
    "packing": Decimal(1), "warehoused": Decimal(2),
})

# Output over input of each stage. Upstream stages must process more than the ordered
# tonnes so that what reaches the warehouse is the ordered tonnes: crop ends and
# scale at the caster and hot strip mill, scale at pickling, edge trim at cold rolling
# and finishing. Stages not listed lose nothing.
YIELD: Mapping[str, Decimal] = MappingProxyType({
    "casting": Decimal("0.980"), "hot_rolling": Decimal("0.975"), "pickling": Decimal("0.990"),
    "cold_rolling": Decimal("0.985"), "coating": Decimal("0.995"), "finishing": Decimal("0.990"),
})

_TONNE = Decimal("0.001")


@dataclass(frozen=True)
class StagePlan:
    stage: str
    planned_start: date
    planned_end: date
    # Tonnes the stage must process (its input), so that the last stage holds the order.
    planned_t: Decimal


def route(product: str) -> tuple[str, ...]:
    """The stages of ``product`` in production order; ValueError for an unknown product."""
    try:
        return ROUTES[product]
    except KeyError:
        raise ValueError(f"unknown product {product!r}") from None


def coil_stage(product: str) -> str:
    """The stage after which the product's finished coil exists (it can be allocated)."""
    stages = route(product)
    for candidate in ("coating", "cold_rolling", "hot_rolling"):
        if candidate in stages:
            return candidate
    raise AssertionError("every route rolls")  # pragma: no cover


def plan_stages(product: str, quantity_t: Decimal, start: date, finish: date) -> list[StagePlan]:
    """Spread the window ``start..finish`` (both inclusive) over the product's route.

    Stages follow each other without gaps: each starts the day after the previous one
    ends, lasts at least one day and gets a share of the window proportional to its
    typical length; the last stage ends on ``finish``. When the window has fewer days
    than the route has stages, several stages share a day (still in order) rather than
    failing: a rush order is planned, not refused.

    ``planned_t`` is the ordered quantity at the last stage and grows upstream by the
    stage yields (see ``YIELD``), rounded to the kilogram.
    """
    stages = route(product)
    if finish < start:
        raise ValueError(f"finish {finish} is before start {start}")
    if quantity_t <= 0:
        raise ValueError(f"quantity must be positive, got {quantity_t}")
    days = (finish - start).days + 1
    tonnes = _planned_tonnes(stages, quantity_t)
    if days < len(stages):
        # Stage i lands on day floor(i * days / n): in order, every day used, last on finish.
        offsets = [(i * days // len(stages),) * 2 for i in range(len(stages))]
    else:
        offsets = []
        first = 0
        for length in _lengths(stages, days):
            offsets.append((first, first + length - 1))
            first += length
    return [
        StagePlan(stage, start + timedelta(days=a), start + timedelta(days=b), t)
        for stage, (a, b), t in zip(stages, offsets, tonnes, strict=True)
    ]


def _lengths(stages: tuple[str, ...], days: int) -> list[int]:
    """Whole days per stage, each >= 1, summing to ``days``, close to the weighted share."""
    total = sum(_WEIGHT[s] for s in stages)
    ideal = [Decimal(days) * _WEIGHT[s] / total for s in stages]
    lengths = [max(1, int(x)) for x in ideal]
    # Largest remainder: hand out missing days to the stages furthest below their share,
    # take surplus days (from the one-day minimum) from those furthest above it.
    while sum(lengths) < days:
        i = max(range(len(stages)), key=lambda j: (ideal[j] - lengths[j], -j))
        lengths[i] += 1
    while sum(lengths) > days:
        shrinkable = [j for j in range(len(stages)) if lengths[j] > 1]
        i = max(shrinkable, key=lambda j: (lengths[j] - ideal[j], j))
        lengths[i] -= 1
    return lengths


def _planned_tonnes(stages: tuple[str, ...], quantity_t: Decimal) -> list[Decimal]:
    needed = quantity_t
    out: list[Decimal] = []
    for stage in reversed(stages):
        needed = needed / YIELD.get(stage, Decimal(1))
        out.append(needed.quantize(_TONNE, rounding=ROUND_HALF_UP))
    out.reverse()
    return out
