"""Setting what each stage can take in a week."""

from __future__ import annotations

from collections.abc import Sequence

from domain.actor import Actor
from domain.capacity.model import MAX_ENTRIES, PERMISSIONS, CapacityEntry
from domain.contracts.stage_routes import STAGES
from domain.db import Database
from domain.errors import Invalid

# numeric(12, 3)
_MOST = 999_999_999


async def set_capacity(db: Database, entries: Sequence[CapacityEntry], *,
                       actor: Actor) -> int:
    """Set (or replace) the capacity of each stage-week given; returns how many. All or
    nothing: one bad entry refuses the request."""
    PERMISSIONS.check(actor, "set_capacity")
    if not entries:
        raise Invalid("give at least one stage and week", field="entries")
    if len(entries) > MAX_ENTRIES:
        raise Invalid(f"at most {MAX_ENTRIES} stage-weeks at a time", field="entries")
    seen = set()
    for i, e in enumerate(entries):
        at = f"entries.{i}."
        if e.stage not in STAGES:
            raise Invalid(f"no production stage {e.stage!r}", field=f"{at}stage")
        if e.week_start.weekday() != 0:
            raise Invalid("a week starts on a Monday", field=f"{at}weekStart")
        t = e.capacity_t
        if not t.is_finite() or t < 0 or t > _MOST or t != round(t, 3):
            raise Invalid("capacity is zero or more tonnes, to the kilogram",
                          field=f"{at}capacityT")
        if (e.stage, e.week_start) in seen:
            raise Invalid("this stage and week are given twice", field=f"{at}weekStart")
        seen.add((e.stage, e.week_start))
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO stage_capacity (stage, week_start, capacity_t, set_by)"
            " SELECT * FROM unnest($1::text[], $2::date[], $3::numeric[], $4::text[])"
            " ON CONFLICT (stage, week_start) DO UPDATE SET capacity_t = EXCLUDED.capacity_t,"
            " set_by = EXCLUDED.set_by, set_at = now()",
            [e.stage for e in entries], [e.week_start for e in entries],
            [e.capacity_t for e in entries], [actor.subject] * len(entries))
    return len(entries)
