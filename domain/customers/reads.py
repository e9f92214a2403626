"""A customer's overview for the mill's sales and finance, and its credit approvals.

Each part of the overview is one grouped statement over one customer and a bounded
period, run only when asked for. A customer reads its own overview (its credit limit
only if the mill shows it); the mill's staff read any customer's. Every statement binds
the viewer's scope as ``$1`` and the customer as ``$2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from domain.actor import Actor
from domain.calendar import mill_today
from domain.customers.credit import credit_of
from domain.customers.model import (
    APPROVAL_COLS,
    MAX_PERIOD_DAYS,
    PERMISSIONS,
    Approval,
    Credit,
)
from domain.db import Executor
from domain.errors import Invalid
from domain.parties import is_customer
from domain.tenancy import Scope

# The mill's days as times: [since 00:00, until + 1 day 00:00) in China time.
_FROM = "($3::date::timestamp AT TIME ZONE 'Asia/Shanghai')"
_TO = "(($4::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')"


@dataclass(frozen=True, slots=True)
class Period:
    since: date
    until: date

    @classmethod
    def of(cls, since: date | None, until: date | None) -> Period:
        """The period asked for: by default the year to today; at most
        :data:`MAX_PERIOD_DAYS` days, ``since`` not after ``until``."""
        end = until or mill_today()
        start = since or end - timedelta(days=364)
        if start > end:
            raise Invalid("the period ends before it starts", field="since")
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise Invalid(f"a period spans at most {MAX_PERIOD_DAYS} days", field="since")
        return cls(start, end)


@dataclass(frozen=True, slots=True)
class Overview:
    """Whose overview, seen by whom, over which period."""

    customer_org_id: int
    scope: Scope
    period: Period
    viewer_is_customer: bool


async def overview_of(db: Executor, actor: Actor, customer_org_id: int | None,
                      period: Period) -> Overview | None:
    """The overview ``actor`` may read: a customer its own (naming another: None), the
    mill's staff the customer they name (None if none, or not a customer)."""
    if actor.is_customer:
        if customer_org_id is not None and customer_org_id != actor.org_id:
            return None
        return Overview(actor.org_id, actor.scope, period, True)
    if customer_org_id is None or not await is_customer(db, customer_org_id):
        return None
    return Overview(customer_org_id, actor.scope, period, False)


@dataclass(frozen=True, slots=True)
class SalesMonth:
    month: date
    spec_id: int
    tonnes: Decimal
    revenue: Decimal


async def sales_by_month(db: Executor, o: Overview) -> list[SalesMonth]:
    """What was delivered and invoiced, by the month of the invoice and the line's spec:
    the lines' shipped tonnes and those tonnes at the lines' prices."""
    rows = await db.fetch(
        "SELECT date_trunc('month', s.issued_on)::date AS month, l.spec_id,"
        " sum(l.shipped_t) AS tonnes, round(sum(l.shipped_t * l.unit_price), 2) AS revenue"
        " FROM settlement s JOIN contract_line l ON l.contract_id = s.contract_id"
        " AND l.shipped_t > 0"
        f" WHERE {Scope.owned('s.customer_org_id')} AND s.customer_org_id = $2"
        " AND s.invoice_status IN ('issued', 'overdue', 'paid')"
        " AND s.issued_on BETWEEN $3 AND $4 GROUP BY 1, 2 ORDER BY 1, 2",
        o.scope.org_id, o.customer_org_id, o.period.since, o.period.until)
    return [SalesMonth(**dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class SpecPrice:
    month: date
    spec_id: int
    average_price: Decimal
    min_price: Decimal
    max_price: Decimal
    tonnes: Decimal
    contracts: int


async def price_history(db: Executor, o: Overview, spec_id: int | None = None
                        ) -> list[SpecPrice]:
    """The prices agreed per spec and month of signing (confirmed contracts and later):
    the tonnage-weighted average, the lowest and the highest."""
    rows = await db.fetch(
        "SELECT date_trunc('month', c.signed_on)::date AS month, l.spec_id,"
        " round(sum(l.quantity_t * l.unit_price) / sum(l.quantity_t), 2) AS average_price,"
        " min(l.unit_price) AS min_price, max(l.unit_price) AS max_price,"
        " sum(l.quantity_t) AS tonnes, count(DISTINCT c.id)::int AS contracts"
        " FROM contract c JOIN contract_line l ON l.contract_id = c.id"
        " AND l.status <> 'cancelled'"
        f" WHERE {Scope.owned('c.customer_org_id')} AND c.customer_org_id = $2"
        " AND c.status NOT IN ('draft', 'cancelled') AND c.signed_on BETWEEN $3 AND $4"
        " AND ($5::bigint IS NULL OR l.spec_id = $5)"
        " GROUP BY 2, 1 ORDER BY 2, 1",
        o.scope.org_id, o.customer_org_id, o.period.since, o.period.until, spec_id)
    return [SpecPrice(**dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class OpenContracts:
    contracts: int
    lines: int
    open_t: Decimal
    open_value: Decimal
    late_contracts: int
    late_lines: int
    late_ids: list[int]


# Contracts still to deliver; "late" is the schedule view's, the platform's one meaning.
OPEN = ("confirmed", "in_production", "partially_shipped")


async def open_contracts(db: Executor, o: Overview, *, late_listed: int = 50
                         ) -> OpenContracts:
    """The customer's open contracts now (whatever the period), what they still have to
    deliver, and which are late (a line predicted to arrive after its window)."""
    row = await db.fetchrow(
        "SELECT count(DISTINCT c.id)::int AS contracts, count(l.id)::int AS lines,"
        " coalesce(sum(greatest(l.quantity_t - l.shipped_t, 0)), 0) AS open_t,"
        " round(coalesce(sum(greatest(l.quantity_t - l.shipped_t, 0) * l.unit_price), 0), 2)"
        " AS open_value,"
        " count(DISTINCT c.id) FILTER (WHERE s.is_late)::int AS late_contracts,"
        " count(l.id) FILTER (WHERE s.is_late)::int AS late_lines,"
        " (array_agg(DISTINCT c.id) FILTER (WHERE s.is_late))[1:$3] AS late_ids"
        " FROM contract c JOIN contract_line l ON l.contract_id = c.id"
        " AND l.status <> 'cancelled'"
        " LEFT JOIN contract_line_schedule s ON s.line_id = l.id"
        f" WHERE {Scope.owned('c.customer_org_id')} AND c.customer_org_id = $2"
        f" AND c.status = ANY($4::text[])",
        o.scope.org_id, o.customer_org_id, late_listed, list(OPEN))
    assert row is not None
    return OpenContracts(**{**dict(row), "late_ids": list(row["late_ids"] or [])})


@dataclass(frozen=True, slots=True)
class Claims:
    disputes: int
    tonnes: Decimal
    disputes_closed: int
    average_days_to_close: Decimal | None
    disputes_open: int
    claims: int
    claimed: Decimal
    agreed: Decimal


async def claims(db: Executor, o: Overview) -> Claims:
    """Quality disputes opened in the period (their tonnes, how many closed and how fast),
    the claims submitted in it (amounts claimed and agreed), and the disputes open now."""
    owned = Scope.owned("d.customer_org_id")
    row = await db.fetchrow(
        "SELECT count(*)::int AS disputes, coalesce(sum(d.affected_t), 0) AS tonnes,"
        " count(d.closed_at)::int AS disputes_closed,"
        " round((avg(extract(epoch FROM d.closed_at - d.opened_at)) / 86400)::numeric, 1)"
        " AS average_days_to_close,"
        " (SELECT count(*)::int FROM quality_dispute d WHERE"
        f"  {owned} AND d.customer_org_id = $2"
        "  AND d.status NOT IN ('completed', 'rejected', 'withdrawn')) AS disputes_open,"
        " (SELECT count(*)::int FROM quality_claim q WHERE"
        f"  {Scope.owned('q.customer_org_id')} AND q.customer_org_id = $2"
        f"  AND q.submitted_at >= {_FROM} AND q.submitted_at < {_TO}) AS claims,"
        " (SELECT coalesce(sum(q.amount), 0) FROM quality_claim q WHERE"
        f"  {Scope.owned('q.customer_org_id')} AND q.customer_org_id = $2"
        f"  AND q.submitted_at >= {_FROM} AND q.submitted_at < {_TO}) AS claimed,"
        " (SELECT coalesce(sum(q.agreed_amount), 0) FROM quality_claim q WHERE"
        f"  {Scope.owned('q.customer_org_id')} AND q.customer_org_id = $2"
        f"  AND q.submitted_at >= {_FROM} AND q.submitted_at < {_TO}) AS agreed"
        f" FROM quality_dispute d WHERE {owned} AND d.customer_org_id = $2"
        f" AND d.opened_at >= {_FROM} AND d.opened_at < {_TO}",
        o.scope.org_id, o.customer_org_id, o.period.since, o.period.until)
    assert row is not None
    return Claims(**dict(row))


@dataclass(frozen=True, slots=True)
class Urges:
    opened: int
    resolved: int
    open: int
    answered_in_time: int
    average_hours_to_answer: Decimal | None
    average_hours_to_resolve: Decimal | None


async def urges(db: Executor, o: Overview) -> Urges:
    """The urges opened in the period: how many, how fast the mill first answered
    (acknowledged, promised or resolved, whichever came first) and how many within the
    ticket's answer time, and how fast they were resolved."""
    row = await db.fetchrow(
        "SELECT count(*)::int AS opened,"
        " count(*) FILTER (WHERE u.status = 'resolved')::int AS resolved,"
        " count(*) FILTER (WHERE u.status <> 'resolved')::int AS open,"
        " count(*) FILTER (WHERE least(u.acknowledged_at, u.promised_at, u.resolved_at)"
        "   <= u.opened_at + u.answer_within)::int AS answered_in_time,"
        " round((avg(extract(epoch FROM least(u.acknowledged_at, u.promised_at,"
        "   u.resolved_at) - u.opened_at)) / 3600)::numeric, 1) AS average_hours_to_answer,"
        " round((avg(extract(epoch FROM u.resolved_at - u.opened_at)) / 3600)::numeric, 1)"
        " AS average_hours_to_resolve"
        f" FROM urge_ticket u WHERE {Scope.owned('u.customer_org_id')}"
        f" AND u.customer_org_id = $2 AND u.opened_at >= {_FROM} AND u.opened_at < {_TO}",
        o.scope.org_id, o.customer_org_id, o.period.since, o.period.until)
    assert row is not None
    return Urges(**dict(row))


async def credit(db: Executor, o: Overview) -> Credit:
    """The customer's credit as it stands; a customer sees its limit (and headroom) only
    where the mill shows it."""
    found = (await credit_of(db, [o.customer_org_id]))[o.customer_org_id]
    if not o.viewer_is_customer:
        return found
    # Who of the mill set it is the mill's to know.
    hidden = replace(found, set_by=None, set_at=None)
    return hidden if found.shown_to_customer else replace(hidden, limit=None)


async def credit_for(db: Executor, actor: Actor, customer_org_id: int) -> Credit | None:
    """One customer's credit as ``actor`` may see it (None: not its to see)."""
    found = await overview_of(db, actor, customer_org_id, Period(mill_today(), mill_today()))
    return None if found is None else await credit(db, found)


# -- approvals ---------------------------------------------------------------------------

def reads_approvals(actor: Actor) -> bool:
    """Approvals are the mill's: finance, sales and admins read them; a customer none."""
    return PERMISSIONS.allows(actor, "read_approvals")


async def approvals_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Approval]:
    """Approvals by id within ``scope``; callers let only :func:`reads_approvals`'s
    viewers reach them (a customer's scope would find its own)."""
    rows = await db.fetch(
        f"SELECT {APPROVAL_COLS} FROM credit_approval a WHERE a.id = ANY($2::bigint[])"
        f" AND {Scope.owned('a.customer_org_id')}", scope.org_id, list(ids))
    return [Approval(**dict(r)) for r in rows]


async def pending_by_contracts(db: Executor, actor: Actor, contract_ids: Sequence[int]
                               ) -> dict[int, Approval]:
    """The pending approval of each contract held for finance, for readers of them."""
    if not reads_approvals(actor):
        return {}
    rows = await db.fetch(
        f"SELECT {APPROVAL_COLS} FROM credit_approval a WHERE a.contract_id = ANY($2::bigint[])"
        f" AND a.status = 'pending' AND {Scope.owned('a.customer_org_id')}",
        actor.scope.org_id, list(contract_ids))
    return {r["contract_id"]: Approval(**dict(r)) for r in rows}


async def list_approvals(db: Executor, actor: Actor, *, statuses: Sequence[str],
                         customer_org_id: int | None, limit: int, after_id: int | None
                         ) -> list[Approval]:
    """Approvals, oldest first, for their readers (anyone else: none)."""
    if not reads_approvals(actor):
        return []
    rows = await db.fetch(
        f"SELECT {APPROVAL_COLS} FROM credit_approval a WHERE"
        f" {Scope.owned('a.customer_org_id')}"
        " AND (cardinality($2::text[]) = 0 OR a.status = ANY($2::text[]))"
        " AND ($3::bigint IS NULL OR a.customer_org_id = $3) AND a.id > $4"
        " ORDER BY a.id LIMIT $5",
        actor.scope.org_id, list(statuses), customer_org_id, after_id or 0, limit)
    return [Approval(**dict(r)) for r in rows]
