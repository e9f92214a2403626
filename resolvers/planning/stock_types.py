"""GraphQL types of the supply-chain stock view and the mill's sales plan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from domain.planning.stock_view import SpecStockView
from resolvers.common import loaders
from resolvers.loaders import OrganizationByIdLoader, SpecByIdLoader
from resolvers.parties import Organization, SteelSpec


@strawberry.type(description="Where a customer's steel of one spec is, across the chain.")
class SpecStockLine:
    spec_id: strawberry.Private[int]
    mill_wip_tonnes: Decimal = strawberry.field(
        description="Ordered on open contract lines and not yet made.")
    mill_finished_tonnes: Decimal = strawberry.field(
        description="Made, allocated to the customer, not yet loaded.")
    in_transit_tonnes: Decimal = strawberry.field(description="On open shipments.")
    warehouse_tonnes: Decimal = strawberry.field(
        description="At the customer's warehouse: received less reported consumption.")
    unshipped_tonnes: Decimal = strawberry.field(
        description="Confirmed contract tonnes not yet shipped.")
    allocated_tonnes: Decimal = strawberry.field(description="Reported as reserved.")
    position_tonnes: Decimal = strawberry.field(description="The inventory position.")
    daily_demand_tonnes: Decimal = strawberry.field(
        description="What the current car plan consumes a day now.")
    safety_days: Decimal = strawberry.field(description="Safety stock, in days.")
    days_of_cover: Decimal | None = strawberry.field(
        description="Warehouse stock / daily demand; null when nothing is consumed.")
    below_safety: bool = strawberry.field(description="Cover is under the safety days.")
    next_arrival: dt.datetime | None = strawberry.field(
        description="ETA (or planned arrival) of the next shipment bringing it.")
    next_delivery_from: dt.date | None = strawberry.field(
        description="Start of the next open contract delivery window.")

    @classmethod
    def of(cls, v: SpecStockView) -> SpecStockLine:
        s = v.stock
        return cls(spec_id=v.spec_id, mill_wip_tonnes=s.mill_wip_t,
                   mill_finished_tonnes=s.mill_finished_t, in_transit_tonnes=s.in_transit_t,
                   warehouse_tonnes=s.warehouse_t, unshipped_tonnes=s.unshipped_t,
                   allocated_tonnes=s.allocated_t, position_tonnes=s.inventory_position_t,
                   daily_demand_tonnes=v.daily_demand_t, safety_days=v.safety_days,
                   days_of_cover=v.days_of_cover, below_safety=v.below_safety,
                   next_arrival=v.next_arrival, next_delivery_from=v.next_delivery_from)

    @strawberry.field(description="The steel spec.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        s = await loaders(info).get(SpecByIdLoader).load(self.spec_id)
        return SteelSpec.of(s) if s else None


@strawberry.type(description="Tonnes of one spec for one customer in one month of the "
                 "mill's sales plan, by the month the steel must leave the mill.")
class SalesPlanRow:
    org_id: strawberry.Private[int]
    spec_id: strawberry.Private[int]
    month: dt.date = strawberry.field(description="First day of the month.")
    tonnes: Decimal = strawberry.field(description="All agreed purchase-plan tonnes.")
    firm_tonnes: Decimal = strawberry.field(description="Of which firm.")
    contracted_tonnes: Decimal = strawberry.field(description="Of which already contracted.")

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        o = await loaders(info).get(OrganizationByIdLoader).load(self.org_id)
        return Organization.of(o) if o else None

    @strawberry.field(description="The steel spec.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        s = await loaders(info).get(SpecByIdLoader).load(self.spec_id)
        return SteelSpec.of(s) if s else None
