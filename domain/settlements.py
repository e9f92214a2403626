"""Settlements: what a contract comes to, exact to the cent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.db import Executor
from domain.tenancy import Scope


@dataclass(frozen=True, slots=True)
class Settlement:
    id: int
    number: str
    contract_id: int
    customer_org_id: int
    currency: str
    theoretical_weight_t: Decimal
    actual_weight_t: Decimal
    unit_price: Decimal
    goods_amount: Decimal
    surcharges: Decimal
    freight: Decimal
    claim_deductions: Decimal
    total_amount: Decimal
    invoice_status: str
    issued_on: date | None
    due_on: date | None
    paid_on: date | None
    created_at: datetime


_COLS = (
    "s.id, s.number, s.contract_id, s.customer_org_id, s.currency, s.theoretical_weight_t,"
    " s.actual_weight_t, s.unit_price, s.goods_amount, s.surcharges, s.freight,"
    " s.claim_deductions, s.total_amount, s.invoice_status, s.issued_on, s.due_on, s.paid_on,"
    " s.created_at"
)


async def settlements_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Settlement]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM settlement s WHERE s.id = ANY($2::bigint[])"
        f" AND {Scope.owned('s.customer_org_id')}",
        scope.org_id, list(ids),
    )
    return [Settlement(**dict(r)) for r in rows]


async def settlements_by_numbers(
    db: Executor, scope: Scope, numbers: Sequence[str]
) -> list[Settlement]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM settlement s WHERE s.number = ANY($2::text[])"
        f" AND {Scope.owned('s.customer_org_id')}",
        scope.org_id, list(numbers),
    )
    return [Settlement(**dict(r)) for r in rows]


async def settlements_by_contract_ids(
    db: Executor, scope: Scope, contract_ids: Sequence[int]
) -> dict[int, list[Settlement]]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM settlement s WHERE s.contract_id = ANY($2::bigint[])"
        f" AND {Scope.owned('s.customer_org_id')} ORDER BY s.contract_id, s.id",
        scope.org_id, list(contract_ids),
    )
    out: dict[int, list[Settlement]] = {}
    for r in rows:
        out.setdefault(r["contract_id"], []).append(Settlement(**dict(r)))
    return out


async def list_settlements(
    db: Executor, scope: Scope, *, statuses: Sequence[str], limit: int, after_id: int | None
) -> list[Settlement]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM settlement s WHERE {Scope.owned('s.customer_org_id')}"
        " AND (cardinality($2::text[]) = 0 OR s.invoice_status = ANY($2::text[]))"
        " AND s.id > $3 ORDER BY s.id LIMIT $4",
        scope.org_id, list(statuses), after_id or 0, limit,
    )
    return [Settlement(**dict(r)) for r in rows]


async def deduct_claim(tx: Executor, claim_id: int, contract_id: int, amount: Decimal
                       ) -> str | None:
    """Deduct an agreed claim on its contract's settlement (the latest that is not void)
    while that is still a draft, in the caller's transaction; returns the settlement's
    number. Without a settlement yet, the claim waits for :func:`apply_agreed_claims`.
    An invoice already issued (or paid) is never changed after the fact: the claim then
    stays with no settlement, for finance to credit with a credit note, or, until it is
    credited, for the settlement that replaces a voided one."""
    row = await tx.fetchrow(
        "SELECT id, number, invoice_status FROM settlement WHERE contract_id = $1"
        " AND invoice_status <> 'void' ORDER BY id DESC LIMIT 1 FOR UPDATE", contract_id)
    if row is None or row["invoice_status"] != "draft":
        return None
    await tx.execute("UPDATE settlement SET claim_deductions = claim_deductions + $2"
                     " WHERE id = $1", row["id"], amount)
    await tx.execute("UPDATE quality_claim SET settlement_id = $2 WHERE id = $1",
                     claim_id, row["id"])
    number: str = row["number"]
    return number


async def apply_agreed_claims(tx: Executor, settlement_id: int) -> Decimal:
    """Deduct on a new settlement the agreed claims of its contract that no settlement
    carries yet, or only a void one; whoever writes a settlement calls this in the same
    transaction. Returns what was deducted. (A void settlement keeps its figures as they
    were; its claims move on to the settlement that replaces it.)"""
    total: Decimal | None = await tx.fetchval(
        """WITH taken AS (
             UPDATE quality_claim q SET settlement_id = s.id FROM settlement s
             WHERE s.id = $1 AND q.contract_id = s.contract_id
               AND q.agreed_amount IS NOT NULL
               AND ((q.settlement_id IS NULL AND q.status <> 'credited')
                    OR q.settlement_id IN (SELECT v.id FROM settlement v
                    WHERE v.contract_id = s.contract_id AND v.invoice_status = 'void'))
             RETURNING q.agreed_amount)
           UPDATE settlement SET claim_deductions = claim_deductions
               + (SELECT coalesce(sum(agreed_amount), 0) FROM taken)
           WHERE id = $1 RETURNING (SELECT coalesce(sum(agreed_amount), 0) FROM taken)""",
        settlement_id)
    return total or Decimal(0)
