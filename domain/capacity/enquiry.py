"""The order enquiry, answered in one call: "can you deliver 300 t of DC04 1.0 x 1500
to Changchun by 10 March, at what price?"

From the mill's capacity per stage and week against what confirmed contracts book
(available to promise, and the earliest window that fits, by the route and the transit
to the site), the customer's prices for the spec, its credit headroom and the mill's
quality capability for the spec. A customer asks for itself, the mill's staff for any
customer. A customer is shown what the stages have left for it, never their capacity or
what others booked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.actor import Actor
from domain.calendar import mill_today
from domain.capacity import atp, credit
from domain.capacity import reads as capacity_reads
from domain.contracts.model import MIN_PRODUCTION_TIME
from domain.contracts.stage_routes import route
from domain.db import Executor
from domain.errors import Invalid, NotFound
from domain.parties import customer_acted_for
from domain.preferences import reads as preference_reads
from domain.quality import capability as quality_capability

_MAX_TONNES = Decimal("999999.999")
# Prices listed, newest first.
LAST_PRICES = 5


@dataclass(frozen=True, slots=True)
class PricePoint:
    contract_number: str
    line_no: int
    day: date
    unit_price: Decimal
    quantity_t: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class PriceHistory:
    currency: str
    last: list[PricePoint]
    # Over the twelve months to today, weighted by tonnes, in ``currency``.
    mean_12m: Decimal | None
    tonnes_12m: Decimal
    lines_12m: int


@dataclass(frozen=True, slots=True)
class StageWeekPromise:
    stage: str
    week_start: date
    # The mill's figures, shown to its staff only (None for a customer, and where no
    # capacity is set).
    capacity_t: Decimal | None
    booked_t: Decimal | None
    # What the stage has left that week (None: not bounded).
    available_t: Decimal | None
    # What this order would take of it, planned to its finish.
    needed_t: Decimal

    @property
    def short(self) -> bool:
        return self.available_t is not None and self.needed_t > max(self.available_t,
                                                                    Decimal(0))


@dataclass(frozen=True, slots=True)
class Enquiry:
    customer_org_id: int
    spec_id: int
    product: str
    quantity_t: Decimal
    delivery_site_id: int | None
    transport_mode: str
    transit_days: int
    deliver_by: date | None
    # Whether it can arrive by ``deliver_by``; None when no date was asked.
    feasible: bool | None
    reason: str | None
    earliest_delivery: date | None
    # The finish its stages below are planned to: the one asked for if feasible, else
    # the earliest.
    planned_finish: date | None
    stages: list[StageWeekPromise]
    prices: PriceHistory
    credit: credit.Headroom | None
    quality: quality_capability.Capability | None


async def _spec(db: Executor, org_id: int, code: str) -> tuple[int, str]:
    row = await db.fetchrow(
        "SELECT id, product FROM steel_spec WHERE code = $2"
        " AND (customer_org_id IS NULL OR customer_org_id = $1)", org_id, code)
    if row is None:
        raise NotFound("no such steel spec for this customer", field="specCode")
    return row["id"], row["product"]


async def _site(db: Executor, org_id: int, code: str | None) -> int | None:
    if code is None:
        return None
    site = await db.fetchval("SELECT id FROM site WHERE code = $1", code)
    if site is None:
        raise NotFound("no such delivery site for this customer", field="deliverySiteCode")
    await preference_reads.check_delivery_site(db, org_id, site, "deliverySiteCode")
    found: int = site
    return found


async def transit(db: Executor, org_id: int, site: int | None) -> tuple[int | None, str, int]:
    """(site, mode, days) to the customer's site (its default if None): the planning's
    transport cycle to it where one is kept, else the route its lines take."""
    d = await preference_reads.line_defaults(db, org_id, delivery_site_id=site)
    cycle = await db.fetchval(
        "SELECT cycle_days FROM transport_cycle WHERE customer_org_id = $1 AND site_id = $2"
        " AND transport_mode = $3", org_id, d.delivery_site_id, d.transport_mode)
    return d.delivery_site_id, d.transport_mode, d.transit_days if cycle is None else cycle


async def price_history(db: Executor, org_id: int, spec_id: int, currency: str,
                        today: date) -> PriceHistory:
    """The customer's agreed prices of the spec (lines of contracts neither draft nor
    cancelled): the latest few, and the twelve months' mean weighted by tonnes."""
    day = ("coalesce(c.signed_on, (c.created_at AT TIME ZONE 'Asia/Shanghai')::date)")
    rows = await db.fetch(
        f"SELECT c.number AS contract_number, l.line_no, {day} AS day, l.unit_price,"
        " l.quantity_t, c.currency FROM contract_line l JOIN contract c ON c.id = l.contract_id"
        " WHERE l.customer_org_id = $1 AND l.spec_id = $2"
        " AND c.status NOT IN ('draft', 'cancelled')"
        f" ORDER BY {day} DESC, l.id DESC LIMIT $3", org_id, spec_id, LAST_PRICES)
    mean = await db.fetchrow(
        "SELECT round(sum(l.unit_price * l.quantity_t) / nullif(sum(l.quantity_t), 0), 2)"
        " AS mean, coalesce(sum(l.quantity_t), 0) AS tonnes, count(*) AS lines"
        " FROM contract_line l JOIN contract c ON c.id = l.contract_id"
        " WHERE l.customer_org_id = $1 AND l.spec_id = $2 AND c.currency = $3"
        " AND c.status NOT IN ('draft', 'cancelled')"
        f" AND {day} > $4::date - 365 AND {day} <= $4", org_id, spec_id, currency, today)
    assert mean is not None
    return PriceHistory(currency=currency, last=[PricePoint(**dict(r)) for r in rows],
                        mean_12m=mean["mean"], tonnes_12m=mean["tonnes"],
                        lines_12m=mean["lines"])


async def enquire(db: Executor, actor: Actor, *, customer_org_id: int | None, spec_code: str,
                  quantity_t: Decimal, delivery_site_code: str | None = None,
                  deliver_by: date | None = None) -> Enquiry:
    """Answer the enquiry as ``actor`` may see it."""
    org = await customer_acted_for(db, actor, customer_org_id)
    if not quantity_t.is_finite() or quantity_t <= 0 or quantity_t > _MAX_TONNES \
            or quantity_t != round(quantity_t, 3):
        raise Invalid("quantity is a positive number of tonnes, to the kilogram",
                      field="quantityT")
    spec_id, product = await _spec(db, org, spec_code)
    site, mode, days = await transit(db, org, await _site(db, org, delivery_site_code))
    today = mill_today()
    until = today + atp.HORIZON + timedelta(days=7)
    capacity = await capacity_reads.capacity(db, atp.monday(today), atp.monday(until))
    booked = await capacity_reads.booked(db, today, until)
    transit_time = timedelta(days=days)
    earliest = atp.earliest_finish(product, quantity_t, today, capacity, booked)
    feasible: bool | None = None
    reason = None
    finish = earliest
    if deliver_by is not None:
        wanted = max(today + MIN_PRODUCTION_TIME, deliver_by - transit_time)
        answer = atp.check(product, quantity_t, today, finish=wanted,
                           latest_finish=deliver_by - transit_time, capacity=capacity,
                           booked=booked)
        feasible, reason = bool(answer.feasible), answer.reason
        if feasible:
            finish = wanted
    stages: list[StageWeekPromise] = []
    if finish is not None:
        need = atp.spread(atp.plan(product, quantity_t, today, finish, capacity, booked)[0])
        staff = not actor.is_customer
        order = {s: i for i, s in enumerate(route(product))}
        for (stage, week), t in sorted(need.items(), key=lambda kv: (kv[0][1], order[kv[0][0]])):
            cap = capacity.get((stage, week))
            took = booked.get((stage, week), Decimal(0))
            stages.append(StageWeekPromise(
                stage=stage, week_start=week,
                capacity_t=cap if staff else None,
                booked_t=round(took, 3) if staff else None,
                available_t=None if cap is None else round(cap - took, 3),
                needed_t=round(t, 3)))
    currency = (await preference_reads.preferences(db, org)).currency
    end = today
    return Enquiry(
        customer_org_id=org, spec_id=spec_id, product=product, quantity_t=quantity_t,
        delivery_site_id=site, transport_mode=mode, transit_days=days, deliver_by=deliver_by,
        feasible=feasible, reason=reason,
        earliest_delivery=None if earliest is None else earliest + transit_time,
        planned_finish=finish, stages=stages,
        prices=await price_history(db, org, spec_id, currency, today),
        credit=await credit.headroom(db, actor, org),
        quality=await quality_capability.capability(
            db, actor.scope, spec_id,
            *quality_capability.period(None, end, today)),
    )
