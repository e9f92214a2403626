"""Reads of production-plan collaboration: purchase plans, the current car plan, imports
and the supply-chain stock view, each within the viewer's scope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.errors import Invalid, NotFound
from domain.planning import inputs, permissions, plans, schedules
from domain.planning.sales_plan import sales_plan
from domain.planning.stock_view import stock_view
from resolvers.common import ctx, customer_id_of, customer_of, viewer
from resolvers.planning.stock_types import SalesPlanRow, SpecStockLine
from resolvers.planning.types import (
    AFTER,
    FIRST,
    DeliverySchedule,
    ProductionPlan,
    PurchasePlan,
    PurchasePlanStatus,
)
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    after_id,
    check_first,
    connection,
    page_of,
)

CUSTOMER = strawberry.argument(
    description="Global id of the customer (the mill's staff); a customer's own token "
    "leaves it out.")


async def visible_customer(info: Info[Any, Any], customer_id: str | None) -> int | None:
    """The customer a request is about, as :func:`resolvers.common.customer_of` decides;
    None for another customer or no customer, which reads like an id that does not
    exist."""
    try:
        return await customer_of(ctx(info).db, await ctx(info).actor(), customer_id)
    except NotFound:
        return None
    except Invalid:
        raise BadInput("the mill's staff name the customer: give `customerId`") from None


async def acting_customer(info: Info[Any, Any], who: Actor, action: str,
                          customer_id: str | None) -> int:
    """The customer a planning step is taken for, once the domain has allowed the step;
    a missing `customerId` reads as :func:`visible_customer` says."""
    try:
        return await permissions.customer_for(ctx(info).db, who, action,
                                              customer_id_of(customer_id))
    except Invalid:
        raise BadInput("the mill's staff name the customer: give `customerId`") from None


@strawberry.type
class PlanningQueries:
    @strawberry.field(description="Purchase plans you may see, newest first.")
    async def purchase_plans(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
        statuses: Annotated[list[PurchasePlanStatus] | None, strawberry.argument(
            description="Only plans in these states.")] = None,
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only this customer's plans.")] = None,
    ) -> Connection[PurchasePlan]:
        who = await viewer(info)
        check_first(first)
        org = await visible_customer(info, customer_id) if customer_id else None
        if customer_id and org is None:
            return connection([], first, after is not None)
        found = await plans.list_plans(
            ctx(info).db, who.scope, statuses=[s.value for s in statuses or ()],
            after=after_id(after), limit=first + 1, customer_org_id=org)
        return connection([(PurchasePlan.of(p), [p.id]) for p in found], first,
                          after is not None)

    @strawberry.field(description="The customer's current delivery schedule (newest "
                      "version), as its systems sent it (DELFOR): per part, the tonnes "
                      "wanted in each period and how firm each is.")
    async def delivery_schedule(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, CUSTOMER] = None,
    ) -> DeliverySchedule | None:
        org = await visible_customer(info, customer_id)
        found = await schedules.current_schedule(ctx(info).db, org) if org else None
        return DeliverySchedule.of(found) if found else None

    @strawberry.field(description="The customer's current car build plan (newest version).")
    async def production_plan(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, CUSTOMER] = None,
    ) -> ProductionPlan | None:
        org = await visible_customer(info, customer_id)
        plan = await inputs.current_plan(ctx(info).db, org) if org else None
        return ProductionPlan.of(plan) if plan else None

    @strawberry.field(description="Per spec the customer plans with: work in progress at the "
                      "mill, finished and allocated, in transit, at its warehouse, days of "
                      "cover against the safety stock, and the next arrival.")
    async def supply_chain_stock(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, CUSTOMER] = None,
    ) -> list[SpecStockLine]:
        org = await visible_customer(info, customer_id)
        if org is None:
            return []
        return [SpecStockLine.of(v) for v in await stock_view(ctx(info).db, org)]

    @strawberry.field(description="The mill's sales plan from the agreed purchase plans: "
                      "tonnes per month of release, customer and spec (a customer sees its "
                      "own).")
    async def sales_plan(
        self, info: Info[Any, Any],
        from_month: Annotated[dt.date, strawberry.argument(description="First month (any day "
                                                           "of it).")],
        to_month: Annotated[dt.date, strawberry.argument(description="Last month (any day "
                                                         "of it).")],
        first: Annotated[int, FIRST] = DEFAULT_PAGE, after: Annotated[str | None, AFTER] = None,
    ) -> Connection[SalesPlanRow]:
        who = await viewer(info)
        rows = await sales_plan(ctx(info).db, who.scope, from_month, to_month)
        items = [SalesPlanRow(org_id=r.customer_org_id, spec_id=r.spec_id, month=r.month,
                              tonnes=r.tonnes, firm_tonnes=r.firm_tonnes,
                              contracted_tonnes=r.contracted_tonnes) for r in rows]
        return page_of(items, first, after,
                       lambda r: [r.month.isoformat(), r.org_id, r.spec_id])
