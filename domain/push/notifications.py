"""The inbox: notifications addressed to a user or to a whole organization.

Read state is each user's own: a notification for one user keeps its read time on its
row; one for a whole organization is read by each of its users for themselves
(``notification_read``), so one colleague reading it leaves it unread for the rest.

Ids are the inbox's sequence: a subscriber follows them like the outbox's. As with the
outbox, id order must be commit order, so writers take a transaction-scoped advisory
lock before inserting and hold it to commit (see ``domain.events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.actor import Actor
from domain.db import Executor
from domain.tenancy import Scope

# "INBOX" as bytes.
_INBOX_LOCK = 0x494E424F58

# The viewer's ($2) own read time of each notification.
_READ_AT = ("CASE WHEN n.user_subject IS NULL THEN coalesce(r.read_at, n.read_at)"
            " ELSE n.read_at END")
_COLS = ("n.id, n.org_id, n.user_subject, n.event_seq, n.event_type, n.title, n.body, n.data,"
         f" n.created_at, {_READ_AT} AS read_at")
_FROM = ("notification n LEFT JOIN notification_read r"
         " ON r.notification_id = n.id AND r.subject = $2")


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    org_id: int | None
    user_subject: str | None
    event_seq: int | None
    event_type: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


# $1: the organization, $2: the user.
_MINE = Scope.inbox("n")


async def lock_inbox(tx: Executor) -> None:
    await tx.execute("SELECT pg_advisory_xact_lock($1)", _INBOX_LOCK)


async def page(
    db: Executor, who: Actor, *, first: int, after: int | None, unread_only: bool
) -> list[Notification]:
    """Newest first, up to ``first`` (the caller asks one more to see if a page follows)."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM {_FROM} WHERE {_MINE}"
        f" AND ($3::bigint IS NULL OR n.id < $3) AND (NOT $4 OR {_READ_AT} IS NULL)"
        " ORDER BY n.id DESC LIMIT $5",
        who.org_id, who.subject, after, unread_only, first)
    return [Notification(**dict(r)) for r in rows]


async def after(db: Executor, who: Actor, seq: int, limit: int) -> list[Notification]:
    """Oldest first, those after ``seq``: what a subscriber has not seen yet."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM {_FROM} WHERE {_MINE} AND n.id > $3"
        " ORDER BY n.id LIMIT $4", who.org_id, who.subject, seq, limit)
    return [Notification(**dict(r)) for r in rows]


async def by_ids(db: Executor, who: Actor, ids: Sequence[int]) -> list[Notification]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM {_FROM} WHERE {_MINE} AND n.id = ANY($3)",
        who.org_id, who.subject, list(ids))
    return [Notification(**dict(r)) for r in rows]


async def unread_count(db: Executor, who: Actor) -> int:
    count: int = await db.fetchval(
        f"SELECT count(*) FROM {_FROM} WHERE {_MINE} AND {_READ_AT} IS NULL",
        who.org_id, who.subject)
    return count


async def last_id(db: Executor) -> int:
    value: int = await db.fetchval("SELECT coalesce(max(id), 0) FROM notification")
    return value


async def mark_read(
    db: Executor, who: Actor, *, ids: Sequence[int], up_to: int | None
) -> list[int]:
    """Mark the viewer's notifications read (those named, and all up to a sequence);
    returns the ids newly marked. Already-read ones keep their first read time."""
    rows = await db.fetch(
        f"""WITH chosen AS (SELECT n.id, n.user_subject FROM {_FROM} WHERE {_MINE}
                            AND {_READ_AT} IS NULL AND (n.id = ANY($3) OR n.id <= $4)),
                own AS (UPDATE notification n SET read_at = now() FROM chosen c
                        WHERE n.id = c.id AND c.user_subject IS NOT NULL
                        AND n.read_at IS NULL RETURNING n.id),
                shared AS (INSERT INTO notification_read (notification_id, subject)
                           SELECT c.id, $2 FROM chosen c WHERE c.user_subject IS NULL
                           ON CONFLICT DO NOTHING RETURNING notification_id AS id)
           SELECT id FROM own UNION ALL SELECT id FROM shared""",
        who.org_id, who.subject, list(ids), up_to if up_to is not None else 0)
    return sorted(r["id"] for r in rows)


async def deliver_inbox(tx: Executor, delivery_ids: Sequence[int]) -> int:
    """Turn queued inbox deliveries into notifications and mark them delivered; in the
    caller's transaction, which must commit soon after (it holds the inbox lock)."""
    if not delivery_ids:
        return 0
    await lock_inbox(tx)
    inserted = await tx.fetch(
        "INSERT INTO notification (org_id, user_subject, delivery_id, event_seq, event_type,"
        " title, body, data)"
        " SELECT d.org_id, d.user_subject, d.id, d.event_seq, d.event_type, d.title, d.body,"
        " d.data FROM push_delivery d WHERE d.id = ANY($1) ORDER BY d.id"
        " ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id", list(delivery_ids))
    await tx.execute(
        "UPDATE push_delivery SET status = 'delivered', delivered_at = now()"
        " WHERE id = ANY($1)", list(delivery_ids))
    return len(inserted)
