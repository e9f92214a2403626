"""The ingesters of a shared-subscription group and their broker sessions.

Each ingester holds a persistent MQTT session in the group ``KEYLINK_INGEST_GROUP``; the
broker hands the group's messages to its members in turn and keeps queueing a member's
share in its session while it is disconnected. So a session must not simply be left
behind: every session is a row of ``ingest_member`` from the moment the ingester
connects until its session is ended at the broker.

A clean stop leaves the group (UNSUBSCRIBE), stores what the session still holds and ends
the session, unless it is the group's last session: with no session subscribed, the
broker would drop what devices publish until an ingester is back, so the last one keeps
its session (the broker queues for it) and its row. A crashed ingester's row stays too;
``keylink ingest --drain CLIENT_ID`` (or a new ingester started with the same client id)
takes over its session. The decision to leave is taken under a lock on the group's rows,
so two members stopping at once never both leave the group empty.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from domain.db import Database, Executor

# How often a running ingester marks itself alive; one not seen for STALE_AFTER seconds
# is shown as gone (crashed, or cut off from the database).
HEARTBEAT_SECONDS = 2.0
STALE_AFTER = 10.0


@dataclass(frozen=True, slots=True)
class Member:
    client_id: str
    group: str
    host: str
    pid: int | None
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None
    alive: bool  # seen within STALE_AFTER and not stopped


async def join(db: Executor, client_id: str, group: str) -> None:
    """Record (or refresh) this ingester's session as a member of ``group``."""
    await db.execute(
        "INSERT INTO ingest_member (client_id, group_name, host, pid) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (client_id) DO UPDATE SET group_name = excluded.group_name,"
        " host = excluded.host, pid = excluded.pid, started_at = now(), seen_at = now(),"
        " leaving_since = NULL, stopped_at = NULL",
        client_id, group, socket.gethostname(), os.getpid())


async def heartbeat(db: Executor, client_id: str) -> None:
    await db.execute("UPDATE ingest_member SET seen_at = now() WHERE client_id = $1",
                     client_id)


async def may_leave(db: Database, client_id: str, group: str) -> bool:
    """Whether the session ``client_id`` may leave ``group``: only while another session
    still holds the group's subscription. If so it is marked as leaving (and no longer
    counts for the others) until :func:`ended` or :func:`stayed`."""
    async with db.transaction() as tx:
        rows = await tx.fetch(
            "SELECT client_id, leaving_since FROM ingest_member WHERE group_name = $1"
            " ORDER BY client_id FOR UPDATE", group)
        others = [r for r in rows if r["client_id"] != client_id and r["leaving_since"] is None]
        if not others:
            return False
        await tx.execute(
            "INSERT INTO ingest_member (client_id, group_name, host, pid, leaving_since)"
            " VALUES ($1, $2, $3, $4, now()) ON CONFLICT (client_id)"
            " DO UPDATE SET leaving_since = now()",
            client_id, group, socket.gethostname(), os.getpid())
        return True


async def running(db: Executor, client_id: str) -> bool:
    """Whether the ingester of session ``client_id`` has marked itself alive lately."""
    alive: bool | None = await db.fetchval(
        "SELECT stopped_at IS NULL AND seen_at > now() - make_interval(secs => $2)"
        " FROM ingest_member WHERE client_id = $1", client_id, STALE_AFTER)
    return bool(alive)


async def ended(db: Executor, client_id: str) -> None:
    """The session is ended at the broker: nothing is queued for it any more."""
    await db.execute("DELETE FROM ingest_member WHERE client_id = $1", client_id)


async def stayed(db: Executor, client_id: str) -> None:
    """The session is kept at the broker (the last of its group, or a leave that did not
    finish): it holds the subscription and its queued messages again."""
    await db.execute("UPDATE ingest_member SET leaving_since = NULL, stopped_at = now()"
                     " WHERE client_id = $1", client_id)


async def members(db: Executor, group: str | None = None) -> list[Member]:
    rows = await db.fetch(
        "SELECT client_id, group_name, host, pid, started_at, seen_at, stopped_at,"
        " stopped_at IS NULL AND seen_at > now() - make_interval(secs => $2) AS alive"
        " FROM ingest_member WHERE $1::text IS NULL OR group_name = $1"
        " ORDER BY group_name, client_id", group, STALE_AFTER)
    return [Member(r["client_id"], r["group_name"], r["host"], r["pid"], r["started_at"],
                   r["seen_at"], r["stopped_at"], r["alive"]) for r in rows]
