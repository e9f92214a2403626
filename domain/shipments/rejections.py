"""Reading the MQTT messages the ingester rejected (`tracking.store.insert_rejections`
writes them).

They may name any device and carry any payload, so they are the mill's alone: every
statement binds the viewer's scope as ``$1`` and a customer's scope finds none. Which of
the mill's staff may read them (logistics, admin) is the resolvers' rule, since roles
are not part of the scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.actor import Actor, Permissions
from domain.db import Executor
from domain.tenancy import P, Scope

COLS = ("r.id, r.received_at, r.topic, r.payload, r.payload_bytes, r.reason, r.detail,"
        " r.device_code")
# Rejected messages are the mill's: the staff's scope binds NULL, a customer's its id.
_MILLS_ONLY = f"{P} IS NULL"

# The mill's staff who look after the fleet and its devices; never a customer (whose
# roles never carry these).
PERMISSIONS = Permissions({
    "read": ("logistics", "admin"),
})


def reads_rejections(actor: Actor) -> bool:
    """Whether ``actor`` may read rejected messages and unknown vessels."""
    return PERMISSIONS.allows(actor, "read")


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    id: int
    received_at: datetime
    topic: str
    payload: bytes  # the first 4 KiB
    payload_bytes: int  # the whole message's size
    reason: str  # a tracking.model.Reason value
    detail: str | None
    device_code: str | None  # the device the topic names, if it names one


@dataclass(frozen=True, slots=True)
class RejectionFilter:
    """All given conditions must hold; an empty one matches everything."""

    reasons: Sequence[str] = ()
    device_code: str | None = None
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received at or before


def _rows(rows: Sequence[Any]) -> list[RejectedMessage]:
    return [RejectedMessage(**dict(r)) for r in rows]


async def list_rejections(
    db: Executor, scope: Scope, flt: RejectionFilter, limit: int, before_id: int | None
) -> list[RejectedMessage]:
    """One keyset page of rejected messages, newest (highest id, the order they were
    recorded in) first, in one statement."""
    where = scope.where(_MILLS_ONLY)
    where.any_of("r.reason", flt.reasons)
    where.given(flt.device_code, "r.device_code = {}::text")
    where.given(flt.since, "r.received_at >= {}::timestamptz")
    where.given(flt.until, "r.received_at <= {}::timestamptz")
    rows = await where.newest(db, f"SELECT {COLS} FROM rejected_message r", "r", before_id,
                              limit)
    return _rows(rows)


async def rejections_by_ids(
    db: Executor, scope: Scope, ids: Sequence[int]
) -> list[RejectedMessage]:
    rows = await db.fetch(
        f"SELECT {COLS} FROM rejected_message r WHERE r.id = ANY($2::bigint[])"
        f" AND {_MILLS_ONLY}", scope.org_id, list(ids))
    return _rows(rows)


@dataclass(frozen=True, slots=True)
class UnknownVessel:
    """A vessel AIS gateways heard that the registry lacks (``ais_unknown_vessel``,
    written by ``tracking.unknown_vessels``): its messages are counted here, and only
    sampled into the rejected messages."""

    mmsi: int
    first_seen: datetime
    last_seen: datetime
    messages: int
    gateway: str | None


async def list_unknown_vessels(
    db: Executor, scope: Scope, limit: int, after: tuple[datetime, int] | None,
) -> list[UnknownVessel]:
    """One keyset page, the vessel heard last first (then by MMSI); the mill's alone."""
    rows = await db.fetch(
        "SELECT v.mmsi, v.first_seen, v.last_seen, v.messages, v.gateway"
        f" FROM ais_unknown_vessel v WHERE {_MILLS_ONLY}"
        " AND ($2::timestamptz IS NULL OR (v.last_seen, v.mmsi) < ($2, $3::bigint))"
        " ORDER BY v.last_seen DESC, v.mmsi DESC LIMIT $4",
        scope.org_id, after[0] if after else None, after[1] if after else None, limit)
    return [UnknownVessel(**dict(r)) for r in rows]
