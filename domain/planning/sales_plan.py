"""The mill's sales plan as the customers' purchase plans make it: tonnes per customer,
spec and month of release, from each customer's latest approved (or converted) plan.
Lines follow a changed car plan, so the sales plan follows too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.db import Executor
from domain.tenancy import Scope


@dataclass(frozen=True, slots=True)
class SalesPlanRow:
    month: date
    customer_org_id: int
    spec_id: int
    tonnes: Decimal
    firm_tonnes: Decimal
    contracted_tonnes: Decimal


async def sales_plan(db: Executor, scope: Scope, first_month: date,
                     last_month: date) -> list[SalesPlanRow]:
    rows = await db.fetch(
        "WITH agreed AS (SELECT DISTINCT ON (p.customer_org_id) p.id FROM purchase_plan p"
        f" WHERE p.status IN ('approved', 'converted') AND {Scope.owned('p.customer_org_id')}"
        " ORDER BY p.customer_org_id, p.id DESC)"
        " SELECT date_trunc('month', l.release_date)::date AS month, l.customer_org_id,"
        " l.spec_id, sum(l.quantity_t) AS tonnes,"
        " coalesce(sum(l.quantity_t) FILTER (WHERE l.firmness = 'firm'), 0) AS firm_tonnes,"
        " coalesce(sum(l.quantity_t) FILTER (WHERE l.contract_line_id IS NOT NULL), 0)"
        " AS contracted_tonnes"
        " FROM purchase_plan_line l JOIN agreed a ON a.id = l.plan_id"
        " WHERE l.quantity_t > 0 AND l.release_date >= $2 AND l.release_date < $3"
        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        scope.org_id, first_month.replace(day=1), _next_month(last_month))
    return [SalesPlanRow(**dict(r)) for r in rows]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
