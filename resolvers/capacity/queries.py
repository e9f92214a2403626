"""Capacity queries: the stages' weeks for the mill's staff, and the order enquiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.calendar import mill_today
from domain.capacity import enquiry
from domain.capacity import reads as capacity_reads
from domain.capacity.model import MAX_WEEKS, PERMISSIONS
from domain.errors import DomainError
from resolvers.capacity.types import OrderEnquiry, StageWeek
from resolvers.common import ctx, customer_id_of, viewer
from resolvers.contracts.types import ProductionStage
from resolvers.relay import BadInput
from resolvers.shipments.devices import Refused


@strawberry.input(description="An order enquiry: a spec, tonnes, where and by when.")
class OrderEnquiryInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer asking: the mill's staff name one; a "
        "customer leaves it out.")
    spec_code: str = strawberry.field(description="The spec's code.")
    quantity_t: Decimal = strawberry.field(description="Tonnes, to the kilogram.")
    delivery_site_code: str | None = strawberry.field(
        default=None, description="The site's code; default the customer's own default.")
    deliver_by: dt.date | None = strawberry.field(
        default=None, description="The day it must arrive by; left out, the answer gives "
        "the earliest.")


@strawberry.type
class CapacityQueries:
    @strawberry.field(description="Each production stage's capacity, booked load and what "
                      "is left, week by week: for the mill's staff; a customer is refused "
                      "(`FORBIDDEN`).")
    async def stage_capacity(
        self, info: Info[Any, Any],
        from_: Annotated[dt.date | None, strawberry.argument(
            name="from", description="A day of the first week; default today.")] = None,
        weeks: Annotated[int, strawberry.argument(
            description=f"How many weeks, at most {MAX_WEEKS}.")] = 8,
        stages: Annotated[list[ProductionStage] | None, strawberry.argument(
            description="Only these stages.")] = None,
    ) -> list[StageWeek]:
        await viewer(info)
        who = await ctx(info).actor()
        try:
            PERMISSIONS.check(who, "read_capacity")
        except DomainError as exc:
            raise Refused(exc) from None
        if not 1 <= weeks <= MAX_WEEKS:
            raise BadInput(f"weeks must be between 1 and {MAX_WEEKS}")
        today = mill_today()
        first = from_ or today
        found = await capacity_reads.stage_weeks(
            ctx(info).db, today, first, first + dt.timedelta(weeks=weeks - 1),
            [s.value for s in stages or []])
        return [StageWeek.of(s) for s in found]

    @strawberry.field(description="The order enquiry in one call: available to promise per "
                      "stage and week, the earliest delivery, the customer's prices of the "
                      "spec, its credit headroom and the mill's quality capability for the "
                      "spec. A customer asks for itself, the mill's staff for any customer.")
    async def order_enquiry(
        self, info: Info[Any, Any],
        input: Annotated[OrderEnquiryInput, strawberry.argument(
            description="What is asked.")],
    ) -> OrderEnquiry:
        await viewer(info)
        who = await ctx(info).actor()
        try:
            found = await enquiry.enquire(
                ctx(info).db, who, customer_org_id=customer_id_of(input.customer_id),
                spec_code=input.spec_code, quantity_t=input.quantity_t,
                delivery_site_code=input.delivery_site_code, deliver_by=input.deliver_by)
        except DomainError as exc:
            raise Refused(exc) from None
        return OrderEnquiry.of(found)
