"""Saved views: a user's named filters over contracts or shipments, and the one it lands
on. A view belongs to one user (token subject) of one organization and only they see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from domain.actor import Actor
from domain.db import Executor
from domain.errors import Conflict, Invalid, NotFound

TARGETS = ("contracts", "shipments")
MAX_VIEWS = 100


@dataclass(frozen=True, slots=True)
class SavedView:
    id: int
    org_id: int
    owner: str
    name: str
    target: str
    filter: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    landing: bool


_COLS = (
    "v.id, v.org_id, v.owner, v.name, v.target, v.filter, v.created_at, v.updated_at,"
    " coalesce(u.landing_view_id = v.id, false) AS landing"
)
_FROM = (
    "saved_view v LEFT JOIN user_preference u ON u.org_id = v.org_id AND u.subject = v.owner"
)


async def views_of(
    db: Executor, org_id: int, owner: str, limit: int, after_id: int | None
) -> list[SavedView]:
    """The user's views, oldest first, a keyset page."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM {_FROM} WHERE v.org_id = $1 AND v.owner = $2"
        " AND ($3::bigint IS NULL OR v.id > $3) ORDER BY v.id LIMIT $4",
        org_id, owner, after_id, limit,
    )
    return [SavedView(**dict(r)) for r in rows]


async def views_by_ids(
    db: Executor, org_id: int, owner: str, ids: Sequence[int]
) -> list[SavedView]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM {_FROM} WHERE v.id = ANY($3::bigint[]) AND v.org_id = $1"
        " AND v.owner = $2",
        org_id, owner, list(ids),
    )
    return [SavedView(**dict(r)) for r in rows]


async def landing_view(db: Executor, org_id: int, owner: str) -> SavedView | None:
    row = await db.fetchrow(
        f"SELECT {_COLS} FROM {_FROM} WHERE v.org_id = $1 AND v.owner = $2"
        " AND u.landing_view_id = v.id",
        org_id, owner,
    )
    return SavedView(**dict(row)) if row else None


def _name(name: str) -> str:
    clean = name.strip()
    if not 1 <= len(clean) <= 100:
        raise Invalid("a view needs a name of 1 to 100 characters", field="name")
    return clean


async def save_view(
    tx: Executor, actor: Actor, *, view_id: int | None, name: str, target: str,
    filter: dict[str, Any], landing: bool | None,
) -> SavedView:
    """Create a view (``view_id`` None) or replace one of the user's own. Anyone may keep
    views; each is its owner's alone, so every write is confined to the actor's own."""
    org_id, owner = actor.org_id, actor.subject
    if target not in TARGETS:
        raise Invalid("a view is over contracts or shipments", field="target")
    clean = _name(name)
    try:
        if view_id is None:
            count = await tx.fetchval(
                "SELECT count(*) FROM saved_view WHERE org_id = $1 AND owner = $2", org_id, owner)
            if count >= MAX_VIEWS:
                raise Invalid(f"at most {MAX_VIEWS} saved views per user", field="name")
            view_id = await tx.fetchval(
                "INSERT INTO saved_view (org_id, owner, name, target, filter)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                org_id, owner, clean, target, filter,
            )
        else:
            found = await tx.fetchval(
                "UPDATE saved_view SET name = $4, target = $5, filter = $6, updated_at = now()"
                " WHERE id = $3 AND org_id = $1 AND owner = $2 RETURNING id",
                org_id, owner, view_id, clean, target, filter,
            )
            if found is None:
                raise NotFound("no such saved view", field="id")
    except asyncpg.UniqueViolationError:
        raise Conflict(f"you already have a view named {clean!r}", field="name") from None
    assert view_id is not None
    if landing is not None:
        await _set_landing(tx, org_id, owner, view_id if landing else None, only=view_id)
    [view] = await views_by_ids(tx, org_id, owner, [view_id])
    return view


async def delete_view(tx: Executor, actor: Actor, view_id: int) -> None:
    org_id, owner = actor.org_id, actor.subject
    status = await tx.execute(
        "DELETE FROM saved_view WHERE id = $3 AND org_id = $1 AND owner = $2",
        org_id, owner, view_id,
    )
    if status == "DELETE 0":
        raise NotFound("no such saved view", field="id")


async def set_landing_view(
    tx: Executor, actor: Actor, view_id: int | None
) -> SavedView | None:
    """Land on ``view_id`` (one of the user's own), or on nothing in particular (None)."""
    org_id, owner = actor.org_id, actor.subject
    if view_id is not None and not await views_by_ids(tx, org_id, owner, [view_id]):
        raise NotFound("no such saved view", field="viewId")
    await _set_landing(tx, org_id, owner, view_id)
    return await landing_view(tx, org_id, owner)


async def _set_landing(
    tx: Executor, org_id: int, owner: str, view_id: int | None, only: int | None = None
) -> None:
    # `only`: unset the landing view only if it is that one (saving a view as not landing).
    await tx.execute(
        "INSERT INTO user_preference (org_id, subject, landing_view_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (org_id, subject) DO UPDATE SET landing_view_id = EXCLUDED.landing_view_id,"
        " updated_at = now() WHERE $3::bigint IS NOT NULL OR $4::bigint IS NULL"
        " OR user_preference.landing_view_id = $4",
        org_id, owner, view_id, only,
    )
