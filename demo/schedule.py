"""Production timelines of the demo lines: the plan, what happened, the progress events.

A timeline is simulated in days from the start of production: each stage takes its
planned length give or take a day, cannot start before its planned start nor before
the previous stage ends, and a disrupted line loses extra days in one stage. The
start date is then chosen so that "today" falls where the line is meant to stand.
Events are only ever dated on days before today, so the data does not depend on
the hour the seed runs.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from domain.calendar import MILL_TZ
from domain.contracts.stage_routes import plan_stages, route

from .model import Event, Timeline

# China Standard Time has no daylight saving: a fixed offset is exact.
CST = MILL_TZ
_TONNE = Decimal("0.001")

_RECORDER = {
    "steelmaking": "prod.zhou", "casting": "prod.zhou", "hot_rolling": "prod.li",
    "pickling": "prod.wang", "cold_rolling": "prod.wang", "annealing": "prod.wang",
    "coating": "prod.chen", "finishing": "prod.sun", "inspection": "qa.zhao",
    "packing": "prod.sun", "warehoused": "wh.liu",
}
_DISRUPTION = {
    "steelmaking": "Converter relining overran; heats re-sequenced",
    "casting": "Caster segment change; cast sequence broken",
    "hot_rolling": "Hot strip mill work-roll change and unplanned stop",
    "pickling": "Pickling line acid tank maintenance",
    "cold_rolling": "Tandem mill strip break, rolls reground",
    "annealing": "Batch annealing furnace base out of service",
    "coating": "Zinc pot changeover on the galvanizing line",
    "finishing": "Tension leveller backlog",
    "inspection": "Re-inspection after surface defect alarm",
    "packing": "Packing material shortage",
    "warehoused": "Warehouse crane breakdown",
}


def at(day: date, rng: random.Random, start_hour: int = 6, end_hour: int = 21) -> datetime:
    """A time on ``day`` in the mill's working hours (China time)."""
    minute = rng.randrange(start_hour * 60, end_hour * 60)
    return datetime.combine(day, time(minute // 60, minute % 60), CST)


def lead_days(rng: random.Random, product: str) -> int:
    """Planned days from steelmaking to warehouse."""
    return rng.randint(24, 38) + (len(route(product)) - 9) * 2


def _simulate(rng: random.Random, product: str, quantity: Decimal, days: int,
              disrupted: int | None, extra: int) -> tuple[list[int], list[int], list[int]]:
    """Planned end offsets, actual start and end offsets of each stage (day 0 = start)."""
    origin = date(2000, 1, 1)
    plans = plan_stages(product, quantity, origin, origin + timedelta(days=days - 1))
    planned_start = [(p.planned_start - origin).days for p in plans]
    planned_end = [(p.planned_end - origin).days for p in plans]
    starts: list[int] = []
    ends: list[int] = []
    prev_end = -1
    for i in range(len(plans)):
        length = planned_end[i] - planned_start[i] + 1
        jitter = rng.choices((-1, 0, 1), (15, 70, 15))[0] if length > 1 else 0
        length = max(1, length + jitter + (extra if i == disrupted else 0))
        first = max(planned_start[i], prev_end + 1)
        starts.append(first)
        ends.append(first + length - 1)
        prev_end = ends[-1]
    return planned_end, starts, ends


def _timeline(product: str, quantity: Decimal, start: date, days: int,
              starts: list[int], ends: list[int], today: date,
              disrupted: int | None) -> Timeline:
    plans = plan_stages(product, quantity, start, start + timedelta(days=days - 1))
    actual: list[tuple[date, date | None] | None] = []
    for a, b in zip(starts, ends, strict=True):
        first, last = start + timedelta(days=a), start + timedelta(days=b)
        if first >= today:
            actual.append(None)
        else:
            actual.append((first, last if last < today else None))
    return Timeline(plans, actual, disrupted)


def finished(rng: random.Random, product: str, quantity: Decimal, today: date,
             finish_on: date, late_by: int = 0) -> Timeline:
    """A line whose last stage completed on ``finish_on`` (before today)."""
    days = lead_days(rng, product)
    n = len(route(product))
    disrupted = rng.randrange(n - 1) if late_by else None
    _, starts, ends = _simulate(rng, product, quantity, days, disrupted, late_by)
    start = finish_on - timedelta(days=ends[-1])
    return _timeline(product, quantity, start, days, starts, ends, today, disrupted)


def running(rng: random.Random, product: str, quantity: Decimal, today: date,
            stage: int, late_by: int = 0) -> Timeline:
    """A line whose first unfinished stage today is ``stage`` (an index into the route)."""
    days = lead_days(rng, product)
    disrupted = rng.randint(max(0, stage - 3), stage) if late_by else None
    planned_end, starts, ends = _simulate(rng, product, quantity, days, disrupted, late_by)
    # Today must fall after the previous stage's last day and no later than this one's.
    low = ends[stage - 1] + 1 if stage else starts[0]
    high = ends[stage]
    if disrupted == stage and planned_end[stage] + 1 <= high:
        # Make the stoppage visible: the stage is already past its planned end.
        low = max(low, planned_end[stage] + 1)
    offset = rng.randint(low, high)
    start = today - timedelta(days=offset)
    return _timeline(product, quantity, start, days, starts, ends, today, disrupted)


def planned(product: str, quantity: Decimal, start: date, days: int) -> Timeline:
    """A confirmed line: planned, nothing reported yet."""
    plans = plan_stages(product, quantity, start, start + timedelta(days=days - 1))
    return Timeline(plans, [None] * len(plans))


def events(rng: random.Random, timeline: Timeline, today: date) -> list[Event]:
    """The progress reports the mill would have recorded for this timeline."""
    out: list[Event] = []
    for i, (plan, span) in enumerate(zip(timeline.plans, timeline.actual, strict=True)):
        if span is None:
            continue
        first, last = span
        target = plan.planned_t
        if last is None:
            # Running: one interim report on an earlier day, unless it only started today.
            days_in = (today - first).days
            if days_in >= 1:
                day = first + timedelta(days=rng.randrange(days_in))
                share = Decimal(rng.randint(15, 80)) / 100
                out.append(_event(rng, plan.stage, target * share, False, day))
            continue
        note = _DISRUPTION[plan.stage] if timeline.disrupted == i else None
        if last > first and rng.random() < 0.6:
            share = Decimal(rng.randint(30, 70)) / 100
            part = (target * share).quantize(_TONNE, rounding=ROUND_HALF_UP)
            out.append(_event(rng, plan.stage, part, False, first))
            target -= part
        out.append(_event(rng, plan.stage, target, True, last, note))
    return out


def _event(rng: random.Random, stage: str, tonnes: Decimal, completes: bool, day: date,
           note: str | None = None) -> Event:
    occurred = at(day, rng, 6, 22)
    recorded = occurred + timedelta(minutes=rng.randint(2, 90))
    # Recording never spills past midnight: every report stays on a day before today.
    recorded = min(recorded, datetime.combine(day, time(23, 59), CST))
    return Event(stage, tonnes.quantize(_TONNE, rounding=ROUND_HALF_UP), completes,
                 occurred.astimezone(UTC), _RECORDER[stage], recorded.astimezone(UTC), note)
