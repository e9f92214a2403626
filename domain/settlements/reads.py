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
