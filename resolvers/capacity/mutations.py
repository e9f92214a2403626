"""Setting the stages' capacity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.calendar import mill_today
from domain.capacity import reads as capacity_reads
from domain.capacity import writes as capacity_writes
from domain.capacity.model import CapacityEntry
from resolvers.capacity.types import StageWeek
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.contracts.types import ProductionStage


@strawberry.input(description="What a stage can take in a week.")
class StageCapacityInput:
    stage: ProductionStage = strawberry.field(description="The stage.")
    week_start: dt.date = strawberry.field(description="Monday of the week.")
    capacity_t: Decimal = strawberry.field(description="Tonnes, zero or more.")


@strawberry.input(description="Stage-weeks to set, each replacing what was set before.")
class SetStageCapacityInput:
    entries: list[StageCapacityInput] = strawberry.field(
        description="At most 2,000; all or nothing.")


@strawberry.type(description="Result of `setStageCapacity`.")
class SetStageCapacityPayload:
    entries: list[StageWeek] | None = strawberry.field(
        description="The stage-weeks set, as they read now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was set.")


@strawberry.type
class CapacityMutations:
    @strawberry.mutation(description="Production planning sets what each stage can take in "
                         "a week (roles: production, admin).")
    async def set_stage_capacity(
        self, info: Info[Any, Any], input: Annotated[SetStageCapacityInput, INPUT],
    ) -> SetStageCapacityPayload:
        async def run(who: Actor) -> list[StageWeek]:
            entries = [CapacityEntry(e.stage.value, e.week_start, e.capacity_t)
                       for e in input.entries]
            await capacity_writes.set_capacity(ctx(info).db, entries, actor=who)
            weeks = sorted({e.week_start for e in entries})
            wanted = {(e.stage, e.week_start) for e in entries}
            found = await capacity_reads.stage_weeks(
                ctx(info).db, mill_today(), weeks[0], weeks[-1],
                sorted({e.stage for e in entries}))
            return [StageWeek.of(s) for s in found if (s.stage, s.week_start) in wanted]

        done, errors = await act(info, run)
        return SetStageCapacityPayload(entries=done, errors=errors)
