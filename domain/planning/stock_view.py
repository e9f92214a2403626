"""The supply-chain stock view: per spec a customer plans with, where its steel is (at
the mill, on its way, in its warehouse), how many days the warehouse covers against the
safety stock, and when the next steel arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from domain.calendar import mill_today
from domain.db import Executor
from domain.planning import calc, inputs
from domain.planning.position import SpecStock, stock_by_spec


@dataclass(frozen=True, slots=True)
class SpecStockView:
    customer_org_id: int
    spec_id: int
    stock: SpecStock
    daily_demand_t: Decimal
    safety_days: Decimal
    # None when nothing is consumed at present.
    days_of_cover: Decimal | None
    next_arrival: datetime | None
    next_delivery_from: date | None

    @property
    def below_safety(self) -> bool:
        return self.days_of_cover is not None and self.days_of_cover < self.safety_days


async def stock_view(db: Executor, org_id: int) -> list[SpecStockView]:
    specs = sorted({r["spec_id"] for r in await db.fetch(
        "SELECT spec_id FROM consumption_rate WHERE customer_org_id = $1"
        " UNION SELECT spec_id FROM planning_spec WHERE customer_org_id = $1", org_id)})
    if not specs:
        return []
    stocks = await stock_by_spec(db, org_id, specs)
    daily = await _daily_demand(db, org_id, mill_today())
    safety = {r["spec_id"]: r["safety_days"] for r in await db.fetch(
        "SELECT spec_id, safety_days FROM planning_spec WHERE customer_org_id = $1", org_id)}
    deliveries = {r["spec_id"]: r["d"] for r in await db.fetch(
        "SELECT spec_id, min(delivery_from) AS d FROM contract_line WHERE customer_org_id = $1"
        " AND status IN ('confirmed', 'in_production', 'partially_shipped')"
        " AND delivery_to >= $2 GROUP BY spec_id", org_id, mill_today())}
    out = []
    for s in specs:
        d = daily.get(s, Decimal(0))
        cover = (stocks[s].warehouse_t / d).quantize(Decimal("0.1"), ROUND_HALF_UP) if d else None
        out.append(SpecStockView(
            customer_org_id=org_id, spec_id=s, stock=stocks[s], daily_demand_t=d,
            safety_days=safety.get(s, Decimal(5)), days_of_cover=cover,
            next_arrival=stocks[s].next_arrival, next_delivery_from=deliveries.get(s)))
    return out


async def _daily_demand(db: Executor, org_id: int, today: date) -> dict[int, Decimal]:
    """Tonnes a day the current car plan takes now: the period holding today, else the
    first one to come."""
    plan = await inputs.current_plan(db, org_id)
    if plan is None:
        return {}
    gross = calc.gross_requirements(await inputs.plan_entries(db, plan.id),
                                    await inputs.consumption_table(db, org_id))
    out = {}
    for spec, periods in gross.items():
        now = [p for p in periods if p.end >= today]
        if now:
            out[spec] = (now[0].gross_t / now[0].days).quantize(calc.KG)
    return out
