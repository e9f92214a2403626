"""Domain events: the outbox as a subscription, resumable from a sequence number."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import events
from resolvers.common import ctx, viewer

# How many events a subscriber is sent per read of the outbox.
BATCH = 200


@strawberry.type(description="Something that happened, as recorded in the outbox.")
class DomainEvent:
    seq: int = strawberry.field(
        description="Position in the outbox; resume with `events(after: seq)`."
    )
    event_type: str = strawberry.field(
        description="What happened, e.g. `production.milestone_reached`."
    )
    aggregate_type: str = strawberry.field(description="Kind of object it happened to.")
    aggregate_id: int = strawberry.field(description="Primary key of that object.")
    payload: JSON = strawberry.field(description="Details, by event type.")
    actor: str | None = strawberry.field(description="Who caused it.")
    occurred_at: dt.datetime = strawberry.field(description="When it happened.")

    @classmethod
    def of(cls, e: events.DomainEvent) -> DomainEvent:
        return cls(seq=e.seq, event_type=e.event_type, aggregate_type=e.aggregate_type,
                   aggregate_id=e.aggregate_id, payload=JSON(e.payload), actor=e.actor,
                   occurred_at=e.occurred_at)


@strawberry.type
class EventSubscriptions:
    @strawberry.subscription(
        description="Events concerning the viewer's organization (all, for the mill), in "
        "order. With `after`, first every event after that sequence, then new ones as they "
        "commit: a client that reconnects with the last `seq` it saw misses nothing."
    )
    async def events(
        self, info: Info[Any, Any],
        after: Annotated[int | None, strawberry.argument(
            description="Last sequence already seen; omit to get only new events.")] = None,
    ) -> AsyncGenerator[DomainEvent, None]:
        who = await viewer(info)
        context = ctx(info)
        db = context.db
        last = after if after is not None else await events.last_seq(db)
        while True:
            who.check_unexpired()
            batch = await events.read_after(db, last, scope=who.scope, limit=BATCH)
            for e in batch:
                last = e.seq
                yield DomainEvent.of(e)
            if len(batch) < BATCH:
                await context.services.wait_for_events()
