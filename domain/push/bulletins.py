"""Bulletins: the mill's notes on new materials and techniques, tagged by grade and topic.

Publishing one appends a ``bulletin.published`` event for each customer whose interests
share a grade or a topic with it; the event asks for the customer's inbox
(``notify_org``), and the customer's push rules may send it further (webhook, e-mail).
Every customer may read every bulletin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import events
from domain.actor import Actor, Permissions
from domain.db import Database, Executor
from domain.errors import Invalid

_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+ ._/-]{0,39}$")
MAX_TAGS = 20
_COLS = "id, title, body, grades, topics, published_by, published_at"


@dataclass(frozen=True, slots=True)
class Bulletin:
    id: int
    title: str
    body: str
    grades: list[str]
    topics: list[str]
    published_by: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Interests:
    grades: list[str]
    topics: list[str]


def _tags(values: Sequence[str], field: str) -> list[str]:
    tags = sorted({v.strip() for v in values if v.strip()})
    if len(tags) > MAX_TAGS or not all(_TAG.match(t) for t in tags):
        raise Invalid(f"at most {MAX_TAGS} tags of letters, digits and + . _ / -",
                      field=field)
    return tags


def _topics(values: Sequence[str]) -> list[str]:
    return [t.lower() for t in _tags(values, "topics")]


# Who may speak in bulletins: the mill's staff publish, a customer says what it wants.
PERMISSIONS = Permissions({
    "publish": ("sales", "production", "quality", "admin"),
    "set_interests": ("customer",),
})


async def publish(db: Database, *, title: str, body: str, grades: Sequence[str],
                  topics: Sequence[str], actor: Actor) -> tuple[Bulletin, int]:
    """The bulletin and how many customers it was pushed to."""
    PERMISSIONS.check(actor, "publish")
    return await _publish(db, title, body, grades, topics, actor.subject)


async def _publish(db: Database, title: str, body: str, grades: Sequence[str],
                   topics: Sequence[str], actor: str) -> tuple[Bulletin, int]:
    if not 1 <= len(title.strip()) <= 200:
        raise Invalid("a title of 1 to 200 characters", field="title")
    if not 1 <= len(body.strip()) <= 20000:
        raise Invalid("a body of 1 to 20,000 characters", field="body")
    g, t = _tags(grades, "grades"), _topics(topics)
    if not g and not t:
        raise Invalid("tag it with a grade or a topic, so that it reaches someone",
                      field="grades")
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            f"INSERT INTO bulletin (title, body, grades, topics, published_by) VALUES"
            f" ($1, $2, $3, $4, $5) RETURNING {_COLS}", title.strip(), body.strip(), g, t,
            actor)
        assert row is not None
        bulletin = Bulletin(**dict(row))
        orgs = [r["org_id"] for r in await tx.fetch(
            "SELECT i.org_id FROM bulletin_interest i JOIN organization o ON o.id = i.org_id"
            " WHERE o.kind = 'customer' AND (i.grades && $1 OR i.topics && $2)"
            " ORDER BY i.org_id", g, t)]
        for org_id in orgs:
            await events.append(
                tx, "bulletin.published", org_id=org_id, aggregate_type="bulletin",
                aggregate_id=bulletin.id, actor=actor,
                payload={"title": bulletin.title, "body": bulletin.body, "grade": g,
                         "topics": t, "notify_org": True})
    return bulletin, len(orgs)


async def page(db: Executor, *, first: int, after: int | None, grade: str | None,
               topic: str | None) -> list[Bulletin]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM bulletin WHERE ($1::bigint IS NULL OR id < $1)"
        " AND ($2::text IS NULL OR $2 = ANY(grades)) AND ($3::text IS NULL OR $3 = ANY(topics))"
        " ORDER BY id DESC LIMIT $4", after, grade, topic.lower() if topic else None, first)
    return [Bulletin(**dict(r)) for r in rows]


async def by_ids(db: Executor, ids: Sequence[int]) -> list[Bulletin]:
    rows = await db.fetch(f"SELECT {_COLS} FROM bulletin WHERE id = ANY($1)", list(ids))
    return [Bulletin(**dict(r)) for r in rows]


async def interests(db: Executor, org_id: int) -> Interests:
    row: Any = await db.fetchrow(
        "SELECT grades, topics FROM bulletin_interest WHERE org_id = $1", org_id)
    return Interests(list(row["grades"]), list(row["topics"])) if row else Interests([], [])


async def set_interests(db: Executor, actor: Actor, grades: Sequence[str],
                        topics: Sequence[str]) -> Interests:
    """What the actor's organization wants bulletins about."""
    PERMISSIONS.check(actor, "set_interests")
    org_id = actor.org_id
    g, t = _tags(grades, "grades"), _topics(topics)
    await db.execute(
        "INSERT INTO bulletin_interest (org_id, grades, topics) VALUES ($1, $2, $3)"
        " ON CONFLICT (org_id) DO UPDATE SET grades = EXCLUDED.grades,"
        " topics = EXCLUDED.topics, updated_at = now()", org_id, g, t)
    return Interests(g, t)
