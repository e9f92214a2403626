"""The mill's capacity per production stage and week in the demo, from a few weeks back
to the end of the horizon the order enquiry looks ahead.

The demo's mill is sized to its order book, whatever the number of contracts seeded:
each stage can take a third more than the busiest week its confirmed lines book (and at
least its floor), and the cold-rolling mill is down to a third in the fourth week for a
planned roll-stand overhaul, so that an enquiry for cold-rolled steel whose rolling
falls in that week finds the stage short.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from domain.capacity import reads as capacity_reads
from domain.contracts.stage_routes import STAGES
from domain.db import Executor

# The least a stage can take in a week, in tonnes.
FLOOR_T = 1500
HEADROOM = Decimal("1.35")
WEEKS_BACK = 4
WEEKS_AHEAD = 27
OVERHAUL_STAGE = "cold_rolling"
OVERHAUL_WEEK = 3


async def write(tx: Executor, day: date, step: Callable[[str], None]) -> None:
    monday = day - timedelta(days=day.weekday())
    booked = await capacity_reads.booked(tx, day, monday + timedelta(weeks=WEEKS_AHEAD))
    busiest = {s: max([t for (stage, _), t in booked.items() if stage == s] or [Decimal(0)])
               for s in STAGES}
    weekly = {s: max(FLOOR_T, math.ceil(busiest[s] * HEADROOM / 100) * 100) for s in STAGES}
    rows = []
    for w in range(-WEEKS_BACK, WEEKS_AHEAD):
        for stage in STAGES:
            t = weekly[stage]
            if stage == OVERHAUL_STAGE and w == OVERHAUL_WEEK:
                t //= 3
            rows.append((stage, monday + timedelta(weeks=w), t))
    await tx.execute(
        "INSERT INTO stage_capacity (stage, week_start, capacity_t, set_by)"
        " SELECT s, w, t, 'demo' FROM unnest($1::text[], $2::date[], $3::numeric[]) AS u(s, w, t)",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    step(f"capacity: {len(STAGES)} stages over {WEEKS_BACK + WEEKS_AHEAD} weeks")
