"""GraphQL types of production-plan collaboration: car plans, purchase plans and their
lines, the differences a changed plan made, file imports and the supply-chain stock."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from domain.planning import imports, inputs, plans, schedules
from resolvers.common import ctx, loaders
from resolvers.contracts.loaders import ContractByIdLoader, LineByIdLoader
from resolvers.contracts.types import Contract, ContractLine, Firmness, TransportMode
from resolvers.loaders import OrganizationByIdLoader, SiteByIdLoader, SpecByIdLoader
from resolvers.parties import Organization, Site, SteelSpec
from resolvers.planning.loaders import (
    CurrentDeliveryScheduleByCustomerLoader,
    CurrentProductionPlanByCustomerLoader,
    PlanChangesByPurchasePlanLoader,
    PlanEntriesByProductionPlanLoader,
    PlanLinesByPurchasePlanLoader,
    ProductionPlanByIdLoader,
)
from resolvers.relay import (
    DEFAULT_PAGE,
    Connection,
    Node,
    expect_id,
    page_of,
    to_global_id,
)

T = TypeVar("T")
FIRST = strawberry.argument(description="Page size, at most 100.")
AFTER = strawberry.argument(description="Cursor to continue after.")


@strawberry.enum(description="Where a purchase plan stands.")
class PurchasePlanStatus(enum.Enum):
    COMPUTED = "computed"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CONVERTED = "converted"
    REJECTED = "rejected"


@strawberry.enum(description="What a changed car plan did to a line of an approved plan.")
class PlanChangeAction(enum.Enum):
    CHANGED = strawberry.enum_value("changed", description="An unconverted line changed.")
    ADDED = strawberry.enum_value("added", description="A new spec or period was added.")
    CHANGE_REQUESTED = strawberry.enum_value(
        "change_requested", description="The line is a contract line: sales is asked.")


@strawberry.enum(description="Sales' answer to a change request.")
class ChangeRequestStatus(enum.Enum):
    OPEN = strawberry.enum_value("open", description="Awaits sales' answer.")
    ACCEPTED = strawberry.enum_value(
        "accepted", description="The contract line took the new quantity and window.")
    DECLINED = strawberry.enum_value("declined", description="The contract line stays.")
    SUPERSEDED = strawberry.enum_value(
        "superseded", description="A later car plan raised a newer request for the line.")


@strawberry.enum(description="Where a purchase-plan line's gross requirement came from.")
class DemandSource(enum.Enum):
    BUILD_PLAN = strawberry.enum_value(
        "build_plan", description="The car build plan x the consumption table; its "
        "firmness is the zone of its period.")
    DELIVERY_SCHEDULE = strawberry.enum_value(
        "delivery_schedule", description="The customer's delivery schedule (DELFOR), which "
        "takes precedence within its horizon for the specs it names; its firmness is the "
        "schedule's.")


@strawberry.enum(description="What a plan file holds.")
class PlanImportKind(enum.Enum):
    PLAN = strawberry.enum_value("plan", description="The car build plan: cars per model "
                                 "and period.")
    CONSUMPTION = strawberry.enum_value("consumption", description="The consumption table: "
                                        "kg of a steel (by part number) per car of a model.")


@strawberry.enum(description="How far a file import got.")
class PlanImportStatus(enum.Enum):
    RUNNING = "running"
    IMPORTED = "imported"
    FAILED = "failed"


@strawberry.type(description="Cars of one model to build in one period.")
class PlanEntry:
    model: str = strawberry.field(description="Car model code.")
    period_start: dt.date = strawberry.field(description="First day of the period.")
    period_days: int = strawberry.field(description="Days in the period (7 for a week).")
    units: int = strawberry.field(description="Cars to build in the period.")


@strawberry.type(description="A version of the customer's car build plan.")
class ProductionPlan(Node):
    org_id: strawberry.Private[int]
    version: int = strawberry.field(description="1 for the first plan shared, then +1.")
    horizon_start: dt.date = strawberry.field(description="First planned day.")
    horizon_end: dt.date = strawberry.field(description="Last planned day.")
    source: str = strawberry.field(description="How it came: api, upload or demo.")
    created_by: str = strawberry.field(description="Who shared it.")
    created_at: dt.datetime = strawberry.field(description="When it was shared.")

    @classmethod
    def of(cls, p: inputs.ProductionPlan) -> ProductionPlan:
        return cls(pk=p.id, org_id=p.customer_org_id, version=p.version,
                   horizon_start=p.horizon_start, horizon_end=p.horizon_end, source=p.source,
                   created_by=p.created_by, created_at=p.created_at)

    @strawberry.field(description="Cars per model and period, by period then model.")
    async def entries(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[PlanEntry]:
        rows = await loaders(info).get(PlanEntriesByProductionPlanLoader).load(self.pk)
        items = [PlanEntry(model=e.model, period_start=e.period_start,
                           period_days=e.period_days, units=e.units) for e in rows]
        return page_of(items, first, after, lambda e: [e.period_start.isoformat(), e.model])


@strawberry.type(description="One spec in one period of a purchase plan: the netting, "
                 "the proposed order and when it must leave the mill.")
class PurchasePlanLine:
    pk: strawberry.Private[int]
    spec_id: strawberry.Private[int]
    site_id: strawberry.Private[int | None]
    contract_line_id: strawberry.Private[int | None]
    period_start: dt.date = strawberry.field(description="First day of the period.")
    period_end: dt.date = strawberry.field(
        description="Last day of the period (for a delivery schedule's period, the day "
        "before the schedule's next period of the spec: the tonnes last until then).")
    gross_tonnes: Decimal = strawberry.field(
        description="Gross requirement: cars x kg per car x (1 + yield allowance), or the "
        "tonnes the delivery schedule states (see demandSource).")
    daily_tonnes: Decimal = strawberry.field(description="Gross / days in the period.")
    safety_tonnes: Decimal = strawberry.field(description="Safety days x daily demand.")
    lead_time_tonnes: Decimal = strawberry.field(
        description="Transport cycle days x daily demand.")
    available_tonnes: Decimal = strawberry.field(
        description="Stock position at the period's start (the inventory position for "
        "the first period, then what earlier periods leave).")
    net_tonnes: Decimal = strawberry.field(description="max(0, gross + lead time + safety "
                                           "- available).")
    quantity_tonnes: Decimal = strawberry.field(
        description="The order: net rounded up to whole coils and the minimum order.")
    coils: int = strawberry.field(description="Coils of the spec's nominal weight.")
    need_date: dt.date | None = strawberry.field(
        description="Day the steel must be there: when the projected stock would fall "
        "under the safety stock.")
    release_date: dt.date | None = strawberry.field(
        description="Latest day it may leave the mill: need date - transport cycle.")
    firmness: Firmness = strawberry.field(
        description="How binding the line is: the delivery schedule's for its lines, by "
        "how far ahead the period is otherwise; only firm lines become contract lines.")
    demand_source: DemandSource = strawberry.field(
        description="Where the gross requirement came from.")
    delivery_schedule_version: int | None = strawberry.field(
        description="The delivery schedule version it came from, for its lines.")
    transport_mode: TransportMode = strawberry.field(description="How it travels.")
    transit_days: int = strawberry.field(description="The transport cycle used, in days.")
    release_overdue: bool = strawberry.field(
        description="The release date is before the day the plan was computed for: the "
        "steel can no longer arrive before the stock falls under the safety stock.")

    @classmethod
    def of(cls, x: plans.PlanLine, as_of: dt.date) -> PurchasePlanLine:
        return cls(
            pk=x.id, spec_id=x.spec_id, site_id=x.delivery_site_id,
            contract_line_id=x.contract_line_id, period_start=x.period_start,
            period_end=x.period_end, gross_tonnes=x.gross_t, daily_tonnes=x.daily_t,
            safety_tonnes=x.safety_t, lead_time_tonnes=x.lead_time_t,
            available_tonnes=x.available_t, net_tonnes=x.net_t, quantity_tonnes=x.quantity_t,
            coils=x.coils, need_date=x.need_date, release_date=x.release_date,
            firmness=Firmness(x.firmness), transport_mode=TransportMode(x.transport_mode),
            transit_days=x.transit_days,
            release_overdue=x.release_date is not None and x.release_date < as_of,
            demand_source=DemandSource(x.demand_source),
            delivery_schedule_version=x.delivery_schedule_version)

    @strawberry.field(description="The steel spec.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        s = await loaders(info).get(SpecByIdLoader).load(self.spec_id)
        return SteelSpec.of(s) if s else None

    @strawberry.field(description="Where it is delivered.")
    async def delivery_site(self, info: Info[Any, Any]) -> Site | None:
        if self.site_id is None:
            return None
        s = await loaders(info).get(SiteByIdLoader).load(self.site_id)
        return Site.of(s) if s else None

    @strawberry.field(description="The contract line it became, once converted.")
    async def contract_line(self, info: Info[Any, Any]) -> ContractLine | None:
        if self.contract_line_id is None:
            return None
        line = await loaders(info).get(LineByIdLoader).load(self.contract_line_id)
        return ContractLine.of(line) if line else None


@strawberry.type(description="What a changed car plan or delivery schedule did to one "
                 "line of an approved plan.")
class PlanChange:
    pk: strawberry.Private[int]
    spec_id: strawberry.Private[int]
    contract_line_id: strawberry.Private[int | None]
    period_start: dt.date = strawberry.field(description="The line's period.")
    before_tonnes: Decimal = strawberry.field(description="Quantity before the change.")
    after_tonnes: Decimal = strawberry.field(description="Quantity the new plan needs.")
    after_need_date: dt.date | None = strawberry.field(
        description="Day the new plan needs the steel; an accepted request's contract line "
        "closes its delivery window on it.")
    action: PlanChangeAction = strawberry.field(description="What was done about it.")
    request_status: ChangeRequestStatus | None = strawberry.field(
        description="For a change request: open, accepted or declined.")
    production_plan_version: int = strawberry.field(
        description="The car plan version in force when the change was made.")
    delivery_schedule_version: int | None = strawberry.field(
        description="The delivery schedule version in force when the change was made, if "
        "the customer had one.")
    created_at: dt.datetime = strawberry.field(description="When.")

    @classmethod
    async def of_many(cls, info: Info[Any, Any], found: Sequence[plans.PlanChange]
                      ) -> list[PlanChange]:
        production_plans = await loaders(info).get(ProductionPlanByIdLoader).load_many(
            sorted({c.production_plan_id for c in found}))
        versions = {p.id: p.version for p in production_plans if p is not None}
        return [cls(
            pk=c.id, spec_id=c.spec_id, contract_line_id=c.contract_line_id,
            period_start=c.period_start, before_tonnes=c.before_t, after_tonnes=c.after_t,
            after_need_date=c.after_need_date, action=PlanChangeAction(c.action),
            request_status=ChangeRequestStatus(c.request_status) if c.request_status else None,
            production_plan_version=versions.get(c.production_plan_id, 0),
            delivery_schedule_version=c.delivery_schedule_version,
            created_at=c.created_at) for c in found]

    @strawberry.field(description="Global id, to answer a change request with.")
    def id(self) -> strawberry.ID:
        return to_global_id("PlanChange", self.pk)

    @strawberry.field(description="The steel spec.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        s = await loaders(info).get(SpecByIdLoader).load(self.spec_id)
        return SteelSpec.of(s) if s else None

    @strawberry.field(description="The contract line a change request concerns.")
    async def contract_line(self, info: Info[Any, Any]) -> ContractLine | None:
        if self.contract_line_id is None:
            return None
        line = await loaders(info).get(LineByIdLoader).load(self.contract_line_id)
        return ContractLine.of(line) if line else None


@strawberry.type(description="A day of the projected stock of a spec.")
class StockDay:
    day: dt.date = strawberry.field(description="The day.")
    demand_tonnes: Decimal = strawberry.field(description="Consumed that day.")
    receipt_tonnes: Decimal = strawberry.field(description="Proposed orders arriving.")
    stock_tonnes: Decimal = strawberry.field(description="Projected stock at the day's end.")
    safety_tonnes: Decimal = strawberry.field(description="The safety stock that day.")


@strawberry.type(description="The inventory position a spec was netted against, and its "
                 "projected stock day by day with the proposed orders.")
class StockCurve:
    spec_id: strawberry.Private[int]
    warehouse_tonnes: Decimal = strawberry.field(
        description="At the customer's warehouse: received less reported consumption.")
    in_transit_tonnes: Decimal = strawberry.field(description="On open shipments.")
    unshipped_tonnes: Decimal = strawberry.field(
        description="Confirmed contract tonnes not yet shipped.")
    allocated_tonnes: Decimal = strawberry.field(description="Reported as reserved.")
    position_tonnes: Decimal = strawberry.field(
        description="Inventory position: warehouse + in transit + unshipped - allocated.")
    days: list[StockDay] = strawberry.field(description="Day by day over the horizon.")

    @strawberry.field(description="The steel spec.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        s = await loaders(info).get(SpecByIdLoader).load(self.spec_id)
        return SteelSpec.of(s) if s else None


def _curve(row: dict[str, Any]) -> StockCurve:
    p = row["inventory_position"]
    return StockCurve(
        spec_id=row["spec_id"], warehouse_tonnes=Decimal(p["warehouse_t"]),
        in_transit_tonnes=Decimal(p["in_transit_t"]),
        unshipped_tonnes=Decimal(p["unshipped_t"]), allocated_tonnes=Decimal(p["allocated_t"]),
        position_tonnes=Decimal(p["position_t"]),
        days=[StockDay(day=dt.date.fromisoformat(d["day"]), demand_tonnes=Decimal(d["demand_t"]),
                       receipt_tonnes=Decimal(d["receipt_t"]),
                       stock_tonnes=Decimal(d["stock_t"]), safety_tonnes=Decimal(d["safety_t"]))
              for d in row["days"]])


@strawberry.type(description="A purchase plan: the net steel demand of a car plan as "
                 "orders per spec and period, from computed to converted into contracts.")
class PurchasePlan(Node):
    org_id: strawberry.Private[int]
    production_plan_id: strawberry.Private[int]
    delivery_schedule_id: strawberry.Private[int | None]
    status: PurchasePlanStatus = strawberry.field(description="Where it stands.")
    as_of: dt.date = strawberry.field(description="Day it was computed for; firmness is "
                                      "judged from it.")
    computed_at: dt.datetime = strawberry.field(description="When it was last computed.")
    submitted_at: dt.datetime | None = strawberry.field(description="When it was submitted.")
    submitted_by: str | None = strawberry.field(description="Who submitted it.")
    decided_at: dt.datetime | None = strawberry.field(
        description="When sales approved or rejected it.")
    decided_by: str | None = strawberry.field(description="Who decided.")
    reject_reason: str | None = strawberry.field(description="Why it was rejected.")
    total_tonnes: Decimal = strawberry.field(description="Tonnes ordered over the whole plan.")
    firm_tonnes: Decimal = strawberry.field(
        description="Tonnes of the firm lines (those that become contracts).")
    # The plan's lines, read once however many fields ask for them.
    loaded: strawberry.Private[list[plans.PlanLine] | None] = None

    @classmethod
    def of(cls, p: plans.PurchasePlan) -> PurchasePlan:
        return cls(pk=p.id, org_id=p.customer_org_id, production_plan_id=p.production_plan_id,
                   delivery_schedule_id=p.delivery_schedule_id,
                   status=PurchasePlanStatus(p.status), as_of=p.as_of,
                   computed_at=p.computed_at, submitted_at=p.submitted_at,
                   submitted_by=p.submitted_by, decided_at=p.decided_at,
                   decided_by=p.decided_by, reject_reason=p.reject_reason,
                   total_tonnes=p.total_t, firm_tonnes=p.firm_t)

    async def _lines(self, info: Info[Any, Any]) -> list[plans.PlanLine]:
        if self.loaded is None:
            self.loaded = await loaders(info).get(PlanLinesByPurchasePlanLoader).load(self.pk)
        return self.loaded

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        o = await loaders(info).get(OrganizationByIdLoader).load(self.org_id)
        return Organization.of(o) if o else None

    @strawberry.field(description="The car plan version it was computed from.")
    async def production_plan(self, info: Info[Any, Any]) -> ProductionPlan | None:
        found = await loaders(info).get(ProductionPlanByIdLoader).load(self.production_plan_id)
        return ProductionPlan.of(found) if found else None

    @strawberry.field(description="The car plan or the delivery schedule changed since: a "
                      "newer version exists that this plan does not follow yet (a submitted "
                      "plan waits for the mill's decision; rejected, it is recomputed from "
                      "the newest).")
    async def is_stale(self, info: Info[Any, Any]) -> bool:
        current = await loaders(info).get(CurrentProductionPlanByCustomerLoader).load(self.org_id)
        schedule = await loaders(info).get(CurrentDeliveryScheduleByCustomerLoader).load(
            self.org_id)
        return ((current is not None and current.id != self.production_plan_id)
                or (schedule is not None and schedule != self.delivery_schedule_id))

    @strawberry.field(description="Lines by spec, then period.")
    async def lines(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
        firmness: Annotated[Firmness | None, strawberry.argument(
            description="Only lines of this firmness.")] = None,
    ) -> Connection[PurchasePlanLine]:
        items = [PurchasePlanLine.of(x, self.as_of) for x in await self._lines(info)
                 if firmness is None or x.firmness == firmness.value]
        return page_of(items, first, after, lambda x: [x.pk])

    @strawberry.field(description="The contracts its firm lines became.")
    async def contracts(self, info: Info[Any, Any]) -> list[Contract]:
        ids = sorted({x.contract_line_id for x in await self._lines(info)
                      if x.contract_line_id is not None})
        lines = await loaders(info).get(LineByIdLoader).load_many(ids)
        contract_ids = sorted({x.contract_id for x in lines if x is not None})
        found = await loaders(info).get(ContractByIdLoader).load_many(contract_ids)
        return [Contract.of(c) for c in found if c is not None]

    @strawberry.field(description="The inventory position and projected stock of a spec.")
    async def stock_curve(
        self, info: Info[Any, Any],
        spec_id: Annotated[strawberry.ID, strawberry.argument(description="The spec.")],
    ) -> StockCurve | None:
        pk = expect_id(spec_id, "SteelSpec")
        who = await ctx(info).viewer()
        rows = await plans.curves_of(ctx(info).db, who.scope, self.pk)
        return next((_curve(r) for r in rows if r["spec_id"] == pk), None)

    @strawberry.field(description="What changed car plans did to it, oldest first.")
    async def changes(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[PlanChange]:
        found = await loaders(info).get(PlanChangesByPurchasePlanLoader).load(self.pk)
        items = await PlanChange.of_many(info, found)
        return page_of(items, first, after, lambda c: [c.pk])


@strawberry.type(description="A bad row of an imported file.")
class ImportRowError:
    row: int = strawberry.field(description="Row number as the file shows it (heading = 1; "
                                "0 for the file as a whole).")
    column: str | None = strawberry.field(description="The customer's column heading.")
    reason: str = strawberry.field(description="What is wrong.")


@strawberry.type(description="A plan or consumption file being imported, with its progress.")
class PlanImport(Node):
    org_id: strawberry.Private[int]
    plan_id: strawberry.Private[int | None]
    kind: PlanImportKind = strawberry.field(description="Plan or consumption table.")
    filename: str = strawberry.field(description="The file's name as sent.")
    status: PlanImportStatus = strawberry.field(description="Running, imported or failed.")
    rows_total: int = strawberry.field(description="Data rows in the file.")
    rows_done: int = strawberry.field(description="Rows checked so far.")
    errors: list[ImportRowError] = strawberry.field(
        description="Every bad row (the first 200); any bad row imports nothing.")
    created_at: dt.datetime = strawberry.field(description="When it started.")
    finished_at: dt.datetime | None = strawberry.field(description="When it ended.")

    @classmethod
    def of(cls, x: imports.PlanImport) -> PlanImport:
        return cls(pk=x.id, org_id=x.customer_org_id, plan_id=x.plan_id,
                   kind=PlanImportKind(x.kind), filename=x.filename,
                   status=PlanImportStatus(x.status), rows_total=x.rows_total,
                   rows_done=x.rows_done,
                   errors=[ImportRowError(row=e["row"], column=e["column"], reason=e["reason"])
                           for e in x.errors],
                   created_at=x.created_at, finished_at=x.finished_at)

    @strawberry.field(description="The car plan version it created.")
    async def production_plan(self, info: Info[Any, Any]) -> ProductionPlan | None:
        if self.plan_id is None:
            return None
        found = await loaders(info).get(ProductionPlanByIdLoader).load(self.plan_id)
        return ProductionPlan.of(found) if found else None


@strawberry.type(description="One line of a delivery schedule: tonnes of a part wanted in "
                 "a period, and how firm.")
class DeliveryScheduleLine:
    spec_code: str = strawberry.field(description="The spec the part is made to.")
    customer_part_number: str | None = strawberry.field(description="The customer's part.")
    period_start: dt.date = strawberry.field(description="First day of the period.")
    period_end: dt.date = strawberry.field(description="Last day of the period.")
    quantity_t: Decimal = strawberry.field(description="Tonnes wanted in the period.")
    firmness: Firmness = strawberry.field(description="How binding the quantity is.")


@strawberry.type(description="A customer's delivery schedule, one version, as its systems "
                 "sent it.")
class DeliverySchedule:
    version: int = strawberry.field(description="Its version: each schedule replaces the "
                                    "one before.")
    document_number: str = strawberry.field(description="The schedule's own number.")
    issued_at: dt.datetime = strawberry.field(description="When the customer issued it.")
    received_at: dt.datetime = strawberry.field(description="When it came in.")
    lines: list[DeliveryScheduleLine] = strawberry.field(description="By period and part.")

    @classmethod
    def of(cls, s: schedules.Schedule) -> DeliverySchedule:
        return cls(version=s.version, document_number=s.document_number,
                   issued_at=s.issued_at, received_at=s.received_at,
                   lines=[DeliveryScheduleLine(
                       spec_code=ln.spec_code, customer_part_number=ln.customer_part_number,
                       period_start=ln.period_start, period_end=ln.period_end,
                       quantity_t=ln.quantity_t, firmness=Firmness(ln.firmness))
                       for ln in s.lines])
