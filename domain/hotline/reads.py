"""Reading the hotline: tickets by id, by line, a viewer's page of them and their
history. Customers see their own tickets; the mill sees all."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.db import Executor
from domain.hotline.writes import STEP_COLS, TICKET_COLS, UrgeStep, UrgeTicket
from domain.tenancy import Scope


@dataclass(frozen=True)
class TicketFilter:
    statuses: Sequence[str] = ()
    # Only tickets this mill user must answer now: held by them and not yet resolved.
    assignee: str | None = None
    # Only tickets whose answer is owed and late at this time.
    overdue_at: datetime | None = None
    line_id: int | None = None
    customer_org_id: int | None = None


async def tickets_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[UrgeTicket]:
    rows = await db.fetch(
        f"SELECT {TICKET_COLS} FROM urge_ticket t WHERE t.id = ANY($2::bigint[])"
        f" AND {Scope.owned('t.customer_org_id')}",
        scope.org_id, list(ids),
    )
    return [UrgeTicket(**dict(r)) for r in rows]


async def tickets_by_line_ids(
    db: Executor, scope: Scope, line_ids: Sequence[int]
) -> dict[int, list[UrgeTicket]]:
    """Every ticket of each line, newest first."""
    rows = await db.fetch(
        f"SELECT {TICKET_COLS} FROM urge_ticket t WHERE t.line_id = ANY($2::bigint[])"
        f" AND {Scope.owned('t.customer_org_id')} ORDER BY t.line_id, t.id DESC",
        scope.org_id, list(line_ids),
    )
    out: dict[int, list[UrgeTicket]] = defaultdict(list)
    for r in rows:
        out[r["line_id"]].append(UrgeTicket(**dict(r)))
    return out


async def steps_by_ticket_ids(
    db: Executor, scope: Scope, ticket_ids: Sequence[int]
) -> dict[int, list[UrgeStep]]:
    """Each ticket's whole history, oldest first."""
    rows = await db.fetch(
        f"SELECT {STEP_COLS} FROM urge_step s WHERE s.ticket_id = ANY($2::bigint[])"
        f" AND {Scope.owned('s.customer_org_id')} ORDER BY s.ticket_id, s.id",
        scope.org_id, list(ticket_ids),
    )
    out: dict[int, list[UrgeStep]] = defaultdict(list)
    for r in rows:
        out[r["ticket_id"]].append(UrgeStep(**dict(r)))
    return out


async def list_tickets(
    db: Executor, scope: Scope, flt: TicketFilter, limit: int, after_id: int | None
) -> list[UrgeTicket]:
    """A page of tickets, newest first, keyed by id."""
    where = scope.where(Scope.owned("t.customer_org_id"))
    where.any_of("t.status", flt.statuses)
    where.given(flt.assignee, "t.assignee = {} AND t.status <> 'resolved'")
    where.given(flt.overdue_at, "t.due_at <= {}")
    where.given(flt.line_id, "t.line_id = {}")
    where.given(flt.customer_org_id, "t.customer_org_id = {}")
    rows = await where.newest(db, f"SELECT {TICKET_COLS} FROM urge_ticket t", "t", after_id,
                              limit)
    return [UrgeTicket(**dict(r)) for r in rows]
