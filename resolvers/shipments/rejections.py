"""The MQTT messages the ingester rejected, for the mill's logistics staff:
`rejectedMessages` (filtered keyset pages) and `RejectedMessage` nodes.

A rejected message may name any device and carry any payload, so only the mill's staff
with the role logistics or admin read them; to anyone else the list is empty and their
ids read like ids that do not exist.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.shipments import rejections
from resolvers.common import ctx, viewer
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    Node,
    after_id,
    after_time_key,
    check_first,
    connection,
)
from resolvers.shipments.loaders import RejectionByIdLoader
from resolvers.shipments.types import AFTER, FIRST

if TYPE_CHECKING:
    pass

@strawberry.enum(description="Why the ingester rejected a message (the `reason` label of "
                 "`keylink_ingest_messages_total` in lower case).")
class RejectionReason(enum.Enum):
    MALFORMED = strawberry.enum_value(
        "malformed", description="Not parseable in its topic's format.")
    OVERSIZED = strawberry.enum_value(
        "oversized", description="Larger than the ingester accepts.")
    UNKNOWN_TOPIC = strawberry.enum_value(
        "unknown_topic", description="A topic outside the protocol.")
    UNKNOWN_DEVICE = strawberry.enum_value(
        "unknown_device", description="No such device in the registry.")
    DISABLED_DEVICE = strawberry.enum_value(
        "disabled_device", description="The device is registered but switched off.")
    TOPIC_MISMATCH = strawberry.enum_value(
        "topic_mismatch", description="The payload names another device or vessel than the "
        "topic.")
    WRONG_DEVICE_KIND = strawberry.enum_value(
        "wrong_device_kind", description="A device publishing what its kind does not (a "
        "scanner publishing positions).")
    UNBOUND_DEVICE = strawberry.enum_value(
        "unbound_device", description="A GPS unit bound to no vehicle.")
    INVALID_COORDINATES = strawberry.enum_value(
        "invalid_coordinates", description="Coordinates that are NaN, infinite or out of "
        "range.")
    NULL_ISLAND = strawberry.enum_value(
        "null_island", description="Exactly 0/0: a receiver without a fix.")
    FUTURE_FIX = strawberry.enum_value(
        "future_fix", description="A fix time ahead of now beyond the allowed skew.")
    STALE_FIX = strawberry.enum_value(
        "stale_fix", description="A fix time older than the accepted age.")
    IMPOSSIBLE_SPEED = strawberry.enum_value(
        "impossible_speed", description="An implied speed no vehicle of the mode reaches.")
    POOR_ACCURACY = strawberry.enum_value(
        "poor_accuracy", description="A reported accuracy worse than the accepted bound.")
    UNKNOWN_STEP = strawberry.enum_value(
        "unknown_step", description="A scan step outside the protocol.")
    UNKNOWN_SITE = strawberry.enum_value(
        "unknown_site", description="A scan naming a site the registry lacks.")
    INCOMPLETE = strawberry.enum_value(
        "incomplete", description="An AIS message whose other sentences never came.")
    UNKNOWN_VESSEL = strawberry.enum_value(
        "unknown_vessel", description="AIS from a vessel the registry lacks (a ship passing "
        "the gateway): every such message is counted, and one of each vessel is kept an "
        "hour as a sample.")


@strawberry.type(description="An MQTT message the ingester could not accept, as it was "
                 "stored: the first 4 KiB of its payload, why, and from which device.")
class RejectedMessage(Node):
    received_at: dt.datetime = strawberry.field(description="When the ingester received it.")
    topic: str = strawberry.field(description="The MQTT topic it was published on.")
    device_code: str | None = strawberry.field(
        description="The device its topic names (`user/device` for OwnTracks); null when "
        "the topic names none.")
    reason: RejectionReason = strawberry.field(
        description="Why it was rejected; for a message of several readings, why the first "
        "of them was (`detail` lists more).")
    detail: str | None = strawberry.field(
        description="What exactly was wrong, for a person to read; null when nothing more "
        "is known.")
    payload_bytes: int = strawberry.field(
        description="The size of the whole payload in bytes, stored or not.")
    payload: str = strawberry.field(
        description="The stored payload (its first 4 KiB) decoded as UTF-8, with U+FFFD in "
        "place of bytes that are not UTF-8 (binary payloads, a character cut at 4 KiB).")
    payload_truncated: bool = strawberry.field(
        description="Only the first part of the payload was stored: `payloadBytes` is more "
        "than was kept.")

    @classmethod
    def of(cls, r: rejections.RejectedMessage) -> RejectedMessage:
        return cls(
            pk=r.id, received_at=r.received_at, topic=r.topic, device_code=r.device_code,
            reason=RejectionReason(r.reason), detail=r.detail, payload_bytes=r.payload_bytes,
            payload=r.payload.decode("utf-8", errors="replace"),
            payload_truncated=len(r.payload) < r.payload_bytes,
        )


@strawberry.input(description="Narrows `rejectedMessages`; all given conditions must hold.")
class RejectedMessageFilter:
    reasons: list[RejectionReason] | None = strawberry.field(
        default=None, description="Rejected for any of these reasons.")
    device_code: str | None = strawberry.field(
        default=None, description="Its topic names this device (the registry code, or "
        "`user/device` for OwnTracks).")
    since: dt.datetime | None = strawberry.field(
        default=None, description="Received at or after this time (without an offset: UTC).")
    until: dt.datetime | None = strawberry.field(
        default=None, description="Received at or before this time (without an offset: UTC).")


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    return at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at


def _filter(flt: RejectedMessageFilter | None) -> rejections.RejectionFilter:
    if flt is None:
        return rejections.RejectionFilter()
    since, until = _utc(flt.since), _utc(flt.until)
    if since is not None and until is not None and until < since:
        raise BadInput("`until` is before `since`")
    return rejections.RejectionFilter(
        reasons=[str(r.value) for r in flt.reasons or []], device_code=flt.device_code,
        since=since, until=until,
    )


@strawberry.type(description="A vessel AIS gateways heard that the registry lacks (a ship "
                 "passing a gateway on a quay or river bank): its messages are counted here, "
                 "and one of them an hour is kept among the rejected messages "
                 "(`UNKNOWN_VESSEL`). Vessels not heard for 30 days are forgotten.")
class UnknownVessel:
    mmsi: int = strawberry.field(description="Its MMSI: register a vessel with it to have "
                                 "its positions stored.")
    first_heard_at: dt.datetime = strawberry.field(
        description="When a gateway first heard it (within the 30 days kept).")
    last_heard_at: dt.datetime = strawberry.field(description="When a gateway last heard it.")
    messages: int = strawberry.field(
        description="How many AIS readings (position reports, static and voyage data) "
        "were heard from it.")
    gateway_code: str | None = strawberry.field(
        description="The AIS gateway (device code) that heard it last.")

    @classmethod
    def of(cls, v: rejections.UnknownVessel) -> UnknownVessel:
        return cls(mmsi=v.mmsi, first_heard_at=v.first_seen, last_heard_at=v.last_seen,
                   messages=v.messages, gateway_code=v.gateway)


@strawberry.type
class RejectionQueries:
    @strawberry.field(description="MQTT messages the ingester rejected, newest first (in the "
                      "order they were recorded), a keyset page at a time: for the mill's "
                      "staff with the role logistics or admin; anyone else gets an empty "
                      "page.")
    async def rejected_messages(
        self, info: Info[Any, Any],
        filter: Annotated[RejectedMessageFilter | None, strawberry.argument(
            description="Conditions the messages must meet.")] = None,
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[RejectedMessage]:
        who = await viewer(info)
        check_first(first)
        before, flt = after_id(after), _filter(filter)
        if not rejections.reads_rejections(await ctx(info).actor()):
            return connection([], first, after is not None)
        rows = await rejections.list_rejections(ctx(info).db, who.scope, flt, first + 1, before)
        cache = ctx(info).loaders.get(RejectionByIdLoader)
        for row in rows:
            cache.prime(row.id, row)
        return connection([(RejectedMessage.of(r), [r.id]) for r in rows], first,
                          after is not None)

    @strawberry.field(description="Vessels AIS gateways heard that the registry lacks, the "
                      "one heard last first, with how often each was heard: for the mill's "
                      "staff with the role logistics or admin; anyone else gets an empty "
                      "page.")
    async def unknown_vessels(
        self, info: Info[Any, Any],
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[UnknownVessel]:
        who = await viewer(info)
        check_first(first)
        cursor = after_time_key(after)
        if not rejections.reads_rejections(await ctx(info).actor()):
            return connection([], first, after is not None)
        rows = await rejections.list_unknown_vessels(ctx(info).db, who.scope, first + 1, cursor)
        return connection([(UnknownVessel.of(v), [v.last_seen.isoformat(), v.mmsi])
                           for v in rows], first, after is not None)
