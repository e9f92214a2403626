"""The inbox: `notifications`, `unreadNotificationCount`, `markNotificationsRead` and the
`notifications` subscription, which resumes after the last sequence a client saw."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.push import notifications as inbox
from resolvers.common import INPUT, ErrorCode, UserError, ctx, viewer
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    Node,
    after_id,
    check_first,
    connection,
    expect_id,
)

# How many notifications a subscriber is sent per read of the inbox.
BATCH = 200


@strawberry.type(description="A message in the viewer's inbox, about one domain event (or a "
                 "digest of several).")
class Notification(Node):
    sequence: int = strawberry.field(
        description="Position in the inbox, increasing; resume the `notifications` "
        "subscription with `after: sequence`.")
    event_type: str = strawberry.field(
        description="Type of the event it is about, e.g. `shipment.delayed`; `digest` for a "
        "digest of several.")
    title: str = strawberry.field(description="One line, in the recipient's language.")
    body: str = strawberry.field(
        description="The message, in the recipient's language and units, times in its zone.")
    created_at: dt.datetime = strawberry.field(description="When it reached the inbox.")
    read_at: dt.datetime | None = strawberry.field(description="When it was marked read.")
    event_sequence: int | None = strawberry.field(
        description="Sequence of the domain event in the outbox (`events` subscription).")
    data: JSON = strawberry.field(
        description="The event as delivered: sequence, type, time, aggregate and payload "
        "(for a digest, its items).")
    for_user: bool = strawberry.field(
        description="Addressed to the viewer's user alone (false: to its whole "
        "organization, whose users each mark it read for themselves).")

    @classmethod
    def of(cls, n: inbox.Notification) -> Notification:
        return cls(pk=n.id, sequence=n.id, event_type=n.event_type, title=n.title,
                   body=n.body, created_at=n.created_at, read_at=n.read_at,
                   event_sequence=n.event_seq, data=JSON(n.data),
                   for_user=n.user_subject is not None)


@strawberry.input(description="Which notifications to mark read: those named, all up to a "
                  "sequence, or both.")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Notification ids.")
    up_to_sequence: int | None = strawberry.field(
        default=None, description="Every notification with this sequence or a lower one.")


@strawberry.type(description="Result of `markNotificationsRead`.")
class MarkNotificationsReadPayload:
    marked: list[Notification] = strawberry.field(
        description="The notifications this call marked read (not those read before).")
    unread_count: int = strawberry.field(description="The viewer's unread count after it.")
    errors: list[UserError] = strawberry.field(description="Why nothing was marked, if so.")


@strawberry.type
class InboxQueries:
    @strawberry.field(description="The viewer's inbox, newest first: notifications addressed "
                      "to its user and to its whole organization.")
    async def notifications(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(
            description="`endCursor` of the previous page.")] = None,
        unread_only: Annotated[bool, strawberry.argument(
            description="Only those not yet read.")] = False,
    ) -> Connection[Notification]:
        check_first(first)
        found = await inbox.page(ctx(info).db, await ctx(info).actor(), first=first + 1,
                                 after=after_id(after), unread_only=unread_only)
        return connection([(Notification.of(n), [n.id]) for n in found], first,
                          after is not None)

    @strawberry.field(description="How many of the viewer's notifications are unread.")
    async def unread_notification_count(self, info: Info[Any, Any]) -> int:
        return await inbox.unread_count(ctx(info).db, await ctx(info).actor())


@strawberry.type
class InboxMutations:
    @strawberry.mutation(description="Mark notifications of the viewer's inbox read. Ids not "
                         "in the inbox are reported; those already read are left as they were.")
    async def mark_notifications_read(
        self, info: Info[Any, Any], input: Annotated[MarkNotificationsReadInput, INPUT]
    ) -> MarkNotificationsReadPayload:
        db = ctx(info).db
        me = await ctx(info).actor()
        if not input.ids and input.up_to_sequence is None:
            return MarkNotificationsReadPayload(
                marked=[], unread_count=await inbox.unread_count(db, me),
                errors=[UserError(field=None, message="give `ids`, `upToSequence` or both",
                                  code=_code("INVALID"))])
        try:
            ids = [expect_id(i, "Notification") for i in input.ids or []]
        except BadInput as exc:
            return MarkNotificationsReadPayload(
                marked=[], unread_count=await inbox.unread_count(db, me),
                errors=[UserError(field="ids", message=str(exc),
                                  code=_code("BAD_USER_INPUT"))])
        errors = []
        if ids:
            mine = {n.id for n in await inbox.by_ids(db, me, ids)}
            missing = [i for i in ids if i not in mine]
            if missing:
                errors.append(UserError(
                    field="ids", message=f"{len(missing)} id(s) are not in your inbox",
                    code=_code("NOT_FOUND")))
            ids = [i for i in ids if i in mine]
        marked = await inbox.mark_read(db, me, ids=ids, up_to=input.up_to_sequence)
        found = await inbox.by_ids(db, me, marked) if marked else []
        return MarkNotificationsReadPayload(
            marked=[Notification.of(n) for n in sorted(found, key=lambda n: n.id)],
            unread_count=await inbox.unread_count(db, me), errors=errors)


def _code(name: str) -> ErrorCode:
    return ErrorCode[name]


@strawberry.type
class InboxSubscriptions:
    @strawberry.subscription(
        description="The viewer's notifications as they arrive, oldest first. With `after`, "
        "first every notification after that sequence, then new ones: a client that "
        "reconnects with the last `sequence` it saw misses nothing and gets nothing twice.")
    async def notifications(
        self, info: Info[Any, Any],
        after: Annotated[int | None, strawberry.argument(
            description="Last sequence already seen; omit to get only new ones.")] = None,
    ) -> AsyncGenerator[Notification, None]:
        who = await viewer(info)
        context = ctx(info)
        db = context.db
        me = await context.actor()
        last = after if after is not None else await inbox.last_id(db)
        while True:
            who.check_unexpired()
            batch = await inbox.after(db, me, last, BATCH)
            for n in batch:
                last = n.id
                yield Notification.of(n)
            if len(batch) < BATCH:
                await context.services.wait_for_events()
