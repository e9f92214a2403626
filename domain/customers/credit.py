"""Each customer's credit in figures, and the hold on a confirmation beyond its headroom.

- **Receivables**: what the customer's issued invoices (issued or overdue) still ask,
  their total less the payments received against them.
- **Overdue**: the part of those past their due day.
- **Exposure**: the value of its confirmed contracts not yet invoiced (confirmed, in
  production, partially shipped or shipped): a contract without an issued invoice counts
  whole (its lines' tonnes times their prices); one invoiced counts what is still to ship.
- **Headroom**: the limit less receivables and exposure; no limit set means no headroom
  and no check.

Amounts add up as they stand, in the customer's currency (its contracts' one).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from domain import events
from domain.customers.model import APPROVAL_COLS, Approval, Credit
from domain.db import Executor

# Per customer ($1: their ids): limit, flag, receivables, overdue, exposure.
_CREDIT = """
WITH owed AS (
  SELECT s.customer_org_id,
         sum(s.total_amount - coalesce(p.paid, 0)) AS receivables,
         coalesce(sum(s.total_amount - coalesce(p.paid, 0))
                  FILTER (WHERE s.due_on < mill_today()), 0) AS overdue
  FROM settlement s
  LEFT JOIN LATERAL (SELECT sum(amount) AS paid FROM payment
                     WHERE settlement_id = s.id) p ON true
  WHERE s.customer_org_id = ANY($1::bigint[]) AND s.invoice_status IN ('issued', 'overdue')
  GROUP BY s.customer_org_id),
exposed AS (
  SELECT c.customer_org_id,
         sum(CASE WHEN EXISTS (SELECT 1 FROM settlement s WHERE s.contract_id = c.id
                               AND s.invoice_status IN ('issued', 'overdue', 'paid'))
                  THEN greatest(l.quantity_t - l.shipped_t, 0) ELSE l.quantity_t END
             * l.unit_price) AS exposure
  FROM contract c JOIN contract_line l ON l.contract_id = c.id AND l.status <> 'cancelled'
  WHERE c.customer_org_id = ANY($1::bigint[])
    AND c.status IN ('confirmed', 'in_production', 'partially_shipped', 'shipped')
  GROUP BY c.customer_org_id)
SELECT o.id AS customer_org_id, k.credit_limit, coalesce(k.shown_to_customer, false)
       AS shown_to_customer, k.set_by, k.set_at,
       round(coalesce(owed.receivables, 0), 2) AS receivables,
       round(coalesce(owed.overdue, 0), 2) AS overdue,
       round(coalesce(exposed.exposure, 0), 2) AS exposure
FROM unnest($1::bigint[]) AS o(id)
LEFT JOIN customer_credit k ON k.customer_org_id = o.id
LEFT JOIN owed ON owed.customer_org_id = o.id
LEFT JOIN exposed ON exposed.customer_org_id = o.id"""


async def credit_of(db: Executor, customer_ids: Sequence[int]) -> dict[int, Credit]:
    """The credit figures of each customer (unscoped: callers fence them)."""
    rows = await db.fetch(_CREDIT, list(customer_ids))
    return {r["customer_org_id"]: Credit(
        customer_org_id=r["customer_org_id"], limit=r["credit_limit"],
        shown_to_customer=r["shown_to_customer"], receivables=r["receivables"],
        overdue=r["overdue"], exposure=r["exposure"], set_by=r["set_by"], set_at=r["set_at"],
    ) for r in rows}


async def contract_value(tx: Executor, contract_id: int) -> Decimal:
    """What a contract comes to at its lines' prices (cancelled lines aside)."""
    value: Decimal = await tx.fetchval(
        "SELECT round(coalesce(sum(quantity_t * unit_price), 0), 2) FROM contract_line"
        " WHERE contract_id = $1 AND status <> 'cancelled'", contract_id)
    return value


async def hold_beyond_headroom(tx: Executor, contract_id: int, customer_org_id: int,
                               number: str, *, actor: str) -> Approval | None:
    """Before a draft contract is confirmed, in the caller's transaction: if its value
    would go beyond the customer's headroom, a pending approval is recorded for finance
    (with its ``credit.approval_requested`` event, so call this last but for the
    confirmation itself) and returned; the caller then leaves the contract a draft.
    Without a limit set there is no check. The customer's credit row is locked, so two
    confirmations for one customer are judged one after the other."""
    limit = await tx.fetchval(
        "SELECT credit_limit FROM customer_credit WHERE customer_org_id = $1 FOR UPDATE",
        customer_org_id)
    if limit is None:
        return None
    credit = (await credit_of(tx, [customer_org_id]))[customer_org_id]
    headroom = credit.headroom
    assert headroom is not None
    value = await contract_value(tx, contract_id)
    if value <= headroom:
        return None
    row = await tx.fetchrow(
        "INSERT INTO credit_approval AS a (contract_id, customer_org_id, amount, credit_limit,"
        " headroom, requested_by) VALUES ($1, $2, $3, $4, $5, $6)"
        f" RETURNING {APPROVAL_COLS}", contract_id, customer_org_id, value, limit, headroom,
        actor)
    assert row is not None
    approval = Approval(**dict(row))
    # The mill's own event: it names the customer's limit and headroom.
    await events.append(
        tx, "credit.approval_requested", org_id=None, aggregate_type="credit_approval",
        aggregate_id=approval.id, actor=actor,
        payload={"contract": number, "customer_org_id": customer_org_id,
                 "amount": value, "credit_limit": limit, "headroom": headroom,
                 "receivables": credit.receivables, "exposure": credit.exposure})
    return approval


async def pending_approval(tx: Executor, contract_id: int) -> Approval | None:
    row = await tx.fetchrow(
        f"SELECT {APPROVAL_COLS} FROM credit_approval a WHERE a.contract_id = $1"
        " AND a.status = 'pending'", contract_id)
    return Approval(**dict(row)) if row else None
