"""The payments received against settlements' invoices, as the viewer may see them: a
customer its own, the mill's staff every one. They are written as records of the feeds'
`payment` kind (the ERP's, or finance's by hand), whose writing settles the invoice."""

from __future__ import annotations

from collections.abc import Sequence

from domain.customers.model import Payment
from domain.db import Executor
from domain.tenancy import Scope

_COLS = ("p.id, p.reference, p.settlement_id, p.customer_org_id, p.amount, p.paid_on,"
         " p.recorded_at")


async def payments_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Payment]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM payment p WHERE p.id = ANY($2::bigint[])"
        f" AND {Scope.owned('p.customer_org_id')}", scope.org_id, list(ids))
    return [Payment(**dict(r)) for r in rows]


async def payments_by_settlements(db: Executor, scope: Scope, settlement_ids: Sequence[int]
                                  ) -> dict[int, list[Payment]]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM payment p WHERE p.settlement_id = ANY($2::bigint[])"
        f" AND {Scope.owned('p.customer_org_id')} ORDER BY p.settlement_id, p.paid_on, p.id",
        scope.org_id, list(settlement_ids))
    out: dict[int, list[Payment]] = {}
    for r in rows:
        out.setdefault(r["settlement_id"], []).append(Payment(**dict(r)))
    return out


async def payment_by_reference(db: Executor, scope: Scope, reference: str) -> Payment | None:
    row = await db.fetchrow(
        f"SELECT {_COLS} FROM payment p WHERE p.reference = $2"
        f" AND {Scope.owned('p.customer_org_id')}", scope.org_id, reference)
    return Payment(**dict(row)) if row else None
