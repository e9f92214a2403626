"""Available to promise: whether an order's production plan fits what the stages can
still take, week by week, and the earliest finish that does.

Pure: capacity and booked load in, answers out (no clock, no database), so the order
enquiry, the check at confirmation and the tests judge the same way. An order is planned
by the contracts' own :func:`domain.contracts.stage_routes.plan_stages`, from today to its
finish as confirmation writes it or, failing that, on the shortest route ending on its
finish (:func:`plan`), and each stage's planned tonnes are spread evenly over its days. A
stage and week the mill has given no capacity for is not bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.contracts.model import MIN_PRODUCTION_TIME
from domain.contracts.stage_routes import StagePlan, plan_stages

# (stage, Monday of the week) -> tonnes
Load = dict[tuple[str, date], Decimal]
# How far ahead an earliest finish is looked for.
HORIZON = timedelta(weeks=26)
_TONNE = Decimal("0.001")


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def spread(plans: list[StagePlan]) -> Load:
    """Each stage's planned tonnes over its days, summed by week."""
    out: Load = {}
    for p in plans:
        days = (p.planned_end - p.planned_start).days + 1
        week = monday(p.planned_start)
        while week <= p.planned_end:
            first = max(week, p.planned_start)
            last = min(week + timedelta(days=6), p.planned_end)
            share = p.planned_t * ((last - first).days + 1) / days
            key = (p.stage, week)
            out[key] = out.get(key, Decimal(0)) + share
            week += timedelta(weeks=1)
    return out


def add(into: Load, more: Mapping[tuple[str, date], Decimal]) -> None:
    for key, tonnes in more.items():
        into[key] = into.get(key, Decimal(0)) + tonnes


@dataclass(frozen=True, slots=True)
class Shortfall:
    stage: str
    week_start: date
    needed_t: Decimal
    available_t: Decimal

    def __str__(self) -> str:
        short = (self.needed_t - self.available_t).quantize(_TONNE)
        return (f"{self.stage} is {short} t short in the week of "
                f"{self.week_start.isoformat()}")


def shortfalls(load: Mapping[tuple[str, date], Decimal],
               capacity: Mapping[tuple[str, date], Decimal],
               booked: Mapping[tuple[str, date], Decimal]) -> list[Shortfall]:
    """Stage-weeks where ``load`` exceeds what capacity leaves after ``booked``, in
    week then route order of the load."""
    out = []
    for key in sorted(load, key=lambda k: (k[1],)):
        cap = capacity.get(key)
        if cap is None:
            continue
        left = max(Decimal(0), cap - booked.get(key, Decimal(0)))
        if load[key].quantize(_TONNE) > left.quantize(_TONNE):
            out.append(Shortfall(key[0], key[1], load[key], left))
    return out


@dataclass(frozen=True, slots=True)
class Answer:
    """What the stages can do for one order."""

    # Whether the order, planned to finish on ``requested_finish``, fits and arrives by
    # the last day it may; None when no finish was asked for.
    feasible: bool | None
    requested_finish: date | None
    # The first finish (from the shortest route through the mill on) that fits.
    earliest_finish: date | None
    shortfalls: list[Shortfall]
    reason: str | None


def plan(product: str, quantity_t: Decimal, today: date, finish: date,
         capacity: Mapping[tuple[str, date], Decimal],
         booked: Mapping[tuple[str, date], Decimal]) -> tuple[list[StagePlan], list[Shortfall]]:
    """The order's plan to ``finish`` that fits, if one does, else the first tried, with
    its shortfalls. Tried in turn: spread from today (as confirmation writes it), then the
    shortest route ending on ``finish`` (as production schedules an order released
    later), so that a week booked full now does not bar every later finish."""
    tried = []
    starts = [today]
    if finish - MIN_PRODUCTION_TIME > today:
        starts.append(finish - MIN_PRODUCTION_TIME)
    for start in starts:
        plans = plan_stages(product, quantity_t, start, finish)
        short = shortfalls(spread(plans), capacity, booked)
        if not short:
            return plans, []
        tried.append((plans, short))
    return tried[0]


def earliest_finish(product: str, quantity_t: Decimal, today: date,
                    capacity: Mapping[tuple[str, date], Decimal],
                    booked: Mapping[tuple[str, date], Decimal]) -> date | None:
    """The first finish, from ``today`` plus the shortest route on, for which a plan
    fits (see :func:`plan`); None if none does within :data:`HORIZON`."""
    finish = today + MIN_PRODUCTION_TIME
    while finish <= today + HORIZON:
        if not plan(product, quantity_t, today, finish, capacity, booked)[1]:
            return finish
        finish += timedelta(days=1)
    return None


def check(product: str, quantity_t: Decimal, today: date, *, finish: date,
          latest_finish: date, capacity: Mapping[tuple[str, date], Decimal],
          booked: Mapping[tuple[str, date], Decimal]) -> Answer:
    """Whether the order planned from ``today`` to ``finish`` fits, and is done by
    ``latest_finish`` (the last day it may leave the mill to arrive in time)."""
    _, short = plan(product, quantity_t, today, finish, capacity, booked)
    reasons = []
    if finish > latest_finish:
        reasons.append(
            f"the shortest route through the mill ends on {finish.isoformat()}, after the "
            f"last day it may leave, {latest_finish.isoformat()}")
    reasons += [str(s) for s in short]
    earliest = finish if not reasons else earliest_finish(
        product, quantity_t, today, capacity, booked)
    if reasons and earliest is None:
        reasons.append(f"no finish within {HORIZON.days // 7} weeks fits the capacity left")
    return Answer(feasible=not reasons, requested_finish=finish, earliest_finish=earliest,
                  shortfalls=short, reason="; ".join(reasons) or None)
