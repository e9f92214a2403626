"""The inbox: notifications addressed to a user or to a whole organization.

Ids are the inbox's sequence: a subscriber follows them like the outbox's. As with the
outbox, id order must be commit order, so writers take a transaction-scoped advisory
lock before inserting and hold it to commit (see ``domain.events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.db import Executor
from domain.tenancy import Scope

# "INBOX" as bytes.
_INBOX_LOCK = 0x494E424F58

_COLS = "id, org_id, user_subject, event_seq, event_type, title, body, data, created_at, read_at"


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


@dataclass(frozen=True, slots=True)
class Recipient:
    """The viewer of an inbox: its user and its organization."""

    subject: str
    org_id: int


# $1: the organization, $2: the user.
_MINE = Scope.inbox("n")


async def lock_inbox(tx: Executor) -> None:
    await tx.execute("SELECT pg_advisory_xact_lock($1)", _INBOX_LOCK)


async def page(
    db: Executor, who: Recipient, *, first: int, after: int | None, unread_only: bool
) -> list[Notification]:
    """Newest first, up to ``first`` (the caller asks one more to see if a page follows)."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM notification n WHERE {_MINE}"
        " AND ($3::bigint IS NULL OR n.id < $3) AND (NOT $4 OR n.read_at IS NULL)"
        " ORDER BY n.id DESC LIMIT $5",
        who.org_id, who.subject, after, unread_only, first)
    return [Notification(**dict(r)) for r in rows]


async def after(db: Executor, who: Recipient, seq: int, limit: int) -> list[Notification]:
    """Oldest first, those after ``seq``: what a subscriber has not seen yet."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM notification n WHERE {_MINE} AND n.id > $3"
        " ORDER BY n.id LIMIT $4", who.org_id, who.subject, seq, limit)
    return [Notification(**dict(r)) for r in rows]


async def by_ids(db: Executor, who: Recipient, ids: Sequence[int]) -> list[Notification]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM notification n WHERE {_MINE} AND n.id = ANY($3)",
        who.org_id, who.subject, list(ids))
    return [Notification(**dict(r)) for r in rows]


async def unread_count(db: Executor, who: Recipient) -> int:
    count: int = await db.fetchval(
        f"SELECT count(*) FROM notification n WHERE {_MINE} AND n.read_at IS NULL",
        who.org_id, who.subject)
    return count


async def last_id(db: Executor) -> int:
    value: int = await db.fetchval("SELECT coalesce(max(id), 0) FROM notification")
    return value


async def mark_read(
    db: Executor, who: Recipient, *, ids: Sequence[int], up_to: int | None
) -> list[int]:
    """Mark the viewer's notifications read (those named, and all up to a sequence);
    returns the ids newly marked. Already-read ones keep their first read time."""
    rows = await db.fetch(
        f"UPDATE notification n SET read_at = now() WHERE {_MINE} AND n.read_at IS NULL"
        " AND (n.id = ANY($3) OR n.id <= $4) RETURNING n.id",
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
