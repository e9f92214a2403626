"""The domain-event outbox. Every state change appends its event in the same
transaction as the change, so an event exists exactly when the change committed.

Readers follow the outbox by sequence number, so sequence order must be commit order:
otherwise a reader that has passed sequence 6 would never see a slower transaction's
sequence 5 commit after it. Appending therefore takes a transaction-scoped advisory lock,
held until commit; writers of events serialize from their first append to their commit,
so appends come last in a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.db import Executor
from domain.tenancy import Scope

_ALL = Scope.everything()

# Any constant shared by every writer: "OUTBOX" as bytes.
_OUTBOX_LOCK = 0x4F5554424F58


@dataclass(frozen=True, slots=True)
class DomainEvent:
    seq: int
    event_type: str
    org_id: int | None
    aggregate_type: str
    aggregate_id: int
    payload: dict[str, Any]
    actor: str | None
    occurred_at: datetime


async def append(
    tx: Executor,
    event_type: str,
    *,
    org_id: int | None,
    aggregate_type: str,
    aggregate_id: int,
    payload: dict[str, Any],
    actor: str | None,
    occurred_at: datetime | None = None,
) -> int:
    await tx.execute("SELECT pg_advisory_xact_lock($1)", _OUTBOX_LOCK)
    seq: int = await tx.fetchval(
        """INSERT INTO domain_event
               (event_type, org_id, aggregate_type, aggregate_id, payload, actor, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()))
           RETURNING seq""",
        event_type, org_id, aggregate_type, aggregate_id, payload, actor, occurred_at,
    )
    return seq


async def last_seq(db: Executor) -> int:
    """The sequence of the latest event, 0 before the first."""
    seq: int = await db.fetchval("SELECT coalesce(max(seq), 0) FROM domain_event")
    return seq


async def read_after(
    db: Executor, after_seq: int, *, scope: Scope = _ALL, limit: int = 500
) -> list[DomainEvent]:
    """Events after ``after_seq`` in order; a customer sees only those concerning it."""
    rows = await db.fetch(
        "SELECT seq, event_type, org_id, aggregate_type, aggregate_id, payload, actor,"
        f" occurred_at FROM domain_event WHERE {Scope.owned('org_id')} AND seq > $2"
        " ORDER BY seq LIMIT $3",
        scope.org_id, after_seq, limit,
    )
    return [DomainEvent(**dict(r)) for r in rows]
