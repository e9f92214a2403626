"""GraphQL types of the mill's capacity, the order enquiry and a line's feasibility."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from domain.capacity import credit, enquiry
from domain.capacity import model as capacity_model
from resolvers.common import loaders
from resolvers.contracts.types import ProductionStage, TransportMode
from resolvers.loaders import OrganizationByIdLoader, SiteByIdLoader, SpecByIdLoader
from resolvers.parties import Organization, Site, SteelSpec
from resolvers.quality.capability import SpecCapability


@strawberry.type(description="One production stage in one week: what it can take, what "
                 "confirmed contracts book, what is left.")
class StageWeek:
    stage: ProductionStage = strawberry.field(description="The stage.")
    week_start: dt.date = strawberry.field(description="Monday of the week.")
    capacity_t: Decimal | None = strawberry.field(
        description="Tonnes it can take; null while none is set (not bounded).")
    booked_t: Decimal = strawberry.field(
        description="Tonnes confirmed lines' unfinished stages still take, spread over "
        "their planned days.")
    available_t: Decimal | None = strawberry.field(
        description="Capacity less booked (negative: overbooked); null while unbounded.")
    set_by: str | None = strawberry.field(description="Who set the capacity.")
    set_at: dt.datetime | None = strawberry.field(description="When.")

    @classmethod
    def of(cls, s: capacity_model.StageWeek) -> StageWeek:
        return cls(stage=ProductionStage(s.stage), week_start=s.week_start,
                   capacity_t=s.capacity_t, booked_t=s.booked_t, available_t=s.available_t,
                   set_by=s.set_by, set_at=s.set_at)


@strawberry.type(description="What an enquired order would take of a stage in a week, "
                 "against what the stage has left.")
class StagePromise:
    stage: ProductionStage = strawberry.field(description="The stage.")
    week_start: dt.date = strawberry.field(description="Monday of the week.")
    capacity_t: Decimal | None = strawberry.field(
        description="The stage's capacity: shown to the mill's staff only.")
    booked_t: Decimal | None = strawberry.field(
        description="What confirmed contracts book: shown to the mill's staff only.")
    available_t: Decimal | None = strawberry.field(
        description="Available to promise: what is left; null while unbounded.")
    needed_t: Decimal = strawberry.field(description="What this order would take.")
    short: bool = strawberry.field(description="It needs more than is left.")

    @classmethod
    def of(cls, s: enquiry.StageWeekPromise) -> StagePromise:
        return cls(stage=ProductionStage(s.stage), week_start=s.week_start,
                   capacity_t=s.capacity_t, booked_t=s.booked_t, available_t=s.available_t,
                   needed_t=s.needed_t, short=s.short)


@strawberry.type(description="An agreed price of the spec on one of the customer's lines.")
class PricePoint:
    contract_number: str = strawberry.field(description="The contract.")
    line_no: int = strawberry.field(description="Its line.")
    day: dt.date = strawberry.field(description="When it was signed (or entered).")
    unit_price: Decimal = strawberry.field(description="Price per tonne.")
    quantity_t: Decimal = strawberry.field(description="Tonnes at that price.")
    currency: str = strawberry.field(description="ISO 4217 currency.")


@strawberry.type(description="The customer's prices of the spec.")
class PriceHistory:
    currency: str = strawberry.field(description="The customer's currency.")
    last: list[PricePoint] = strawberry.field(description="The latest, newest first.")
    mean_unit_price_12m: Decimal | None = strawberry.field(
        description="Mean over the twelve months to today, weighted by tonnes; null "
        "without a line in them.")
    tonnes_12m: Decimal = strawberry.field(description="Tonnes bought in those months.")
    lines_12m: int = strawberry.field(description="Lines in those months.")

    @classmethod
    def of(cls, p: enquiry.PriceHistory) -> PriceHistory:
        return cls(currency=p.currency, mean_unit_price_12m=p.mean_12m,
                   tonnes_12m=p.tonnes_12m, lines_12m=p.lines_12m,
                   last=[PricePoint(contract_number=x.contract_number, line_no=x.line_no,
                                    day=x.day, unit_price=x.unit_price,
                                    quantity_t=x.quantity_t, currency=x.currency)
                         for x in p.last])


@strawberry.type(description="The customer's credit as finance keeps it.")
class CreditHeadroom:
    currency: str = strawberry.field(description="ISO 4217 currency.")
    limit: Decimal | None = strawberry.field(
        description="The credit limit; null where it is not shown to you.")
    exposure: Decimal = strawberry.field(
        description="Open receivables and confirmed but unbilled contracts.")
    headroom: Decimal | None = strawberry.field(
        description="Limit less exposure; null where the limit is not shown.")

    @classmethod
    def of(cls, c: credit.Headroom) -> CreditHeadroom:
        return cls(currency=c.currency, limit=c.limit, exposure=c.exposure,
                   headroom=c.headroom)


@strawberry.type(description="The order enquiry answered: can the mill make and deliver "
                 "it by the day asked, when at the earliest, at what price.")
class OrderEnquiry:
    quantity_t: Decimal = strawberry.field(description="Tonnes asked for.")
    transport_mode: TransportMode = strawberry.field(description="How it would travel.")
    transit_days: int = strawberry.field(
        description="Days from the mill to the site: the planning's transport cycle where "
        "one is kept, else the customer's route.")
    deliver_by: dt.date | None = strawberry.field(description="The day asked for.")
    feasible: bool | None = strawberry.field(
        description="It can arrive by `deliverBy`: its plan fits what the stages have "
        "left and the shortest route allows it; null when no day was asked.")
    reason: str | None = strawberry.field(description="Why not, stage by stage.")
    earliest_delivery: dt.date | None = strawberry.field(
        description="The earliest day it can arrive; null if no finish within 26 weeks "
        "fits the capacity left.")
    planned_finish: dt.date | None = strawberry.field(
        description="The finish `stages` are planned to: the one asked for when feasible, "
        "else the earliest.")
    stages: list[StagePromise] = strawberry.field(
        description="Available to promise per stage and week, against what it would take.")
    prices: PriceHistory = strawberry.field(description="The customer's prices of the spec.")
    credit: CreditHeadroom | None = strawberry.field(
        description="Credit headroom; null while finance keeps none for the customer.")
    quality: SpecCapability | None = strawberry.field(
        description="The mill's quality capability for the spec over the last year (a "
        "customer's: of its own coils).")
    customer_pk: strawberry.Private[int]
    spec_pk: strawberry.Private[int]
    site_pk: strawberry.Private[int | None]

    @strawberry.field(description="The customer asking.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        org = await loaders(info).get(OrganizationByIdLoader).load(self.customer_pk)
        return Organization.of(org) if org else None

    @strawberry.field(description="The spec asked for.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        found = await loaders(info).get(SpecByIdLoader).load(self.spec_pk)
        return SteelSpec.of(found) if found else None

    @strawberry.field(description="Where it would be delivered.")
    async def delivery_site(self, info: Info[Any, Any]) -> Site | None:
        if self.site_pk is None:
            return None
        found = await loaders(info).get(SiteByIdLoader).load(self.site_pk)
        return Site.of(found) if found else None

    @classmethod
    def of(cls, e: enquiry.Enquiry) -> OrderEnquiry:
        return cls(
            quantity_t=e.quantity_t, transport_mode=TransportMode(e.transport_mode),
            transit_days=e.transit_days, deliver_by=e.deliver_by, feasible=e.feasible,
            reason=e.reason, earliest_delivery=e.earliest_delivery,
            planned_finish=e.planned_finish, stages=[StagePromise.of(s) for s in e.stages],
            prices=PriceHistory.of(e.prices),
            credit=CreditHeadroom.of(e.credit) if e.credit else None,
            quality=SpecCapability.of(e.quality) if e.quality else None,
            customer_pk=e.customer_org_id, spec_pk=e.spec_id, site_pk=e.delivery_site_id)


@strawberry.type(description="What the check at confirmation found of a line: whether it "
                 "can be made in its window against the capacity left.")
class LineFeasibility:
    feasible: bool = strawberry.field(description="It can.")
    earliest_delivery: dt.date | None = strawberry.field(
        description="The earliest day it could arrive, as checked.")
    reason: str | None = strawberry.field(description="Why not.")
    accepted_by: str | None = strawberry.field(
        description="Who confirmed it although it could not be made in time.")
    checked_at: dt.datetime = strawberry.field(description="When it was checked.")

    @classmethod
    def of(cls, f: capacity_model.Finding) -> LineFeasibility:
        return cls(feasible=f.feasible, earliest_delivery=f.earliest_delivery,
                   reason=f.reason, accepted_by=f.accepted_by, checked_at=f.checked_at)
