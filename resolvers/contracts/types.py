"""GraphQL types of contracts, lines and production progress."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.contracts import model as contract_model
from domain.contracts import production
from resolvers.common import loaders
from resolvers.contracts.loaders import (
    ContractByIdLoader,
    LinesByContractLoader,
    ProgressByLineLoader,
    SettlementsByContractLoader,
)
from resolvers.hotline.loaders import TicketsByLineLoader
from resolvers.loaders import OrganizationByIdLoader, SiteByIdLoader, SpecByIdLoader
from resolvers.parties import Organization, Site, SteelSpec
from resolvers.quality.loaders import CoilPageByLineLoader
from resolvers.relay import DEFAULT_PAGE, Connection, Node

if TYPE_CHECKING:
    from resolvers.capacity.types import LineFeasibility
    from resolvers.hotline.types import UrgeTicket
    from resolvers.quality.types import Coil
    from resolvers.settlements import Settlement
    from resolvers.shipments.types import Shipment


@strawberry.enum(description="Contract state. Lateness is computed, never a state.")
class ContractStatus(enum.Enum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    IN_PRODUCTION = "in_production"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    SETTLED = "settled"
    CLOSED = "closed"
    CANCELLED = "cancelled"


@strawberry.enum(description="How goods travel.")
class TransportMode(enum.Enum):
    ROAD = "road"
    RAIL = "rail"
    WATER = "water"


@strawberry.enum(description="How binding a quantity is, as in automotive delivery schedules.")
class Firmness(enum.Enum):
    FIRM = "firm"
    COMMITMENT_PRODUCTION = "commitment_production"
    COMMITMENT_MATERIAL = "commitment_material"
    FORECAST = "forecast"


@strawberry.enum(description="A stage of steel production, in route order.")
class ProductionStage(enum.Enum):
    STEELMAKING = "steelmaking"
    CASTING = "casting"
    HOT_ROLLING = "hot_rolling"
    PICKLING = "pickling"
    COLD_ROLLING = "cold_rolling"
    ANNEALING = "annealing"
    COATING = "coating"
    FINISHING = "finishing"
    INSPECTION = "inspection"
    PACKING = "packing"
    WAREHOUSED = "warehoused"


@strawberry.type(description="One stage of a line's route: planned against actual.")
class StageProgress:
    stage: ProductionStage = strawberry.field(description="The stage.")
    planned_start: dt.date = strawberry.field(description="Planned first day.")
    planned_end: dt.date = strawberry.field(description="Planned last day.")
    planned_tonnes: Decimal = strawberry.field(description="Tonnes planned through this stage.")
    actual_start: dt.datetime | None = strawberry.field(description="First recorded work.")
    actual_end: dt.datetime | None = strawberry.field(description="When the stage completed.")
    actual_tonnes: Decimal = strawberry.field(description="Tonnes recorded through this stage.")
    completed: bool = strawberry.field(description="The stage is done.")
    delay_days: int | None = strawberry.field(
        description="Days late (negative: early) at completion, or days overdue while "
        "unfinished past its planned end; null while there is nothing to judge."
    )

    @classmethod
    def of(cls, s: production.StageStatus) -> StageProgress:
        return cls(
            stage=ProductionStage(s.stage), planned_start=s.planned_start,
            planned_end=s.planned_end, planned_tonnes=s.planned_t, actual_start=s.actual_start,
            actual_end=s.actual_end, actual_tonnes=s.actual_t, completed=s.completed,
            delay_days=s.delay_days,
        )


@strawberry.type(description="Where a line's production stands and when it will be done.")
class LineProgress:
    stages: list[StageProgress] = strawberry.field(description="The route, stage by stage.")
    current_stage: ProductionStage | None = strawberry.field(
        description="First unfinished stage; null when every stage is done."
    )
    stages_done: int = strawberry.field(description="Stages completed.")
    stage_count: int = strawberry.field(description="Stages on the route.")
    share_done: Decimal = strawberry.field(
        description="Share of the route done, 0 to 1; unfinished stages count by tonnes."
    )
    planned_finish: dt.date = strawberry.field(description="Planned end of the last stage.")
    predicted_finish: dt.date = strawberry.field(
        description="When production will be done: the planned finish moved by the latest "
        "known delay, never before today while unfinished."
    )
    predicted_delivery: dt.date = strawberry.field(
        description="Predicted finish plus the line's transit days."
    )
    late_days: int = strawberry.field(
        description="Days the predicted delivery falls after the promised window; 0 if none."
    )
    is_late: bool = strawberry.field(
        description="The line, still to be delivered, is predicted to miss its window."
    )

    @classmethod
    def of(cls, p: production.LineProgress) -> LineProgress:
        s = p.schedule
        return cls(
            stages=[StageProgress.of(x) for x in p.stages],
            current_stage=ProductionStage(s.current_stage) if s.current_stage else None,
            stages_done=s.stages_done, stage_count=s.stage_count, share_done=s.share_done,
            planned_finish=s.planned_finish, predicted_finish=s.predicted_finish,
            predicted_delivery=s.predicted_delivery, late_days=s.late_days, is_late=s.is_late,
        )


@strawberry.type(description="A promised delivery window, both days included.")
class DateWindow:
    start: dt.date = strawberry.field(description="First day.")
    end: dt.date = strawberry.field(description="Last day.")


@strawberry.type(description="One line of a contract: a spec, a quantity, a window, a route.")
class ContractLine(Node):
    line_no: int = strawberry.field(description="Position in the contract, from 1.")
    quantity_t: Decimal = strawberry.field(description="Ordered tonnes.")
    unit_price: Decimal = strawberry.field(description="Price per tonne, contract currency.")
    delivery_window: DateWindow = strawberry.field(description="Promised delivery window.")
    transport_mode: TransportMode = strawberry.field(description="Road, rail or water.")
    transit_days: int = strawberry.field(description="Days from the mill to the delivery site.")
    firmness: Firmness = strawberry.field(description="How binding the quantity is.")
    status: ContractStatus = strawberry.field(description="The line's state.")
    shipped_t: Decimal = strawberry.field(description="Tonnes shipped so far.")
    contract_pk: strawberry.Private[int]
    spec_pk: strawberry.Private[int]
    site_pk: strawberry.Private[int | None]

    @strawberry.field(description="Ordered tonnes times unit price.")
    def amount(self) -> Decimal:
        # Commercial rounding, as the database's round() does: 0.005 goes up.
        return (self.quantity_t * self.unit_price).quantize(Decimal("0.01"), ROUND_HALF_UP)

    @strawberry.field(description="The contract this line belongs to.")
    async def contract(self, info: Info[Any, Any]) -> Contract:
        return Contract.of(await loaders(info).get(ContractByIdLoader).load(self.contract_pk))

    @strawberry.field(description="The steel ordered.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        spec = await loaders(info).get(SpecByIdLoader).load(self.spec_pk)
        return SteelSpec.of(spec) if spec else None

    @strawberry.field(description="Where it is delivered.")
    async def delivery_site(self, info: Info[Any, Any]) -> Site | None:
        if self.site_pk is None:
            return None
        site = await loaders(info).get(SiteByIdLoader).load(self.site_pk)
        return Site.of(site) if site else None

    @strawberry.field(
        description="Production progress stage by stage, with the predicted completion "
        "against the window; null until the contract is confirmed."
    )
    async def progress(self, info: Info[Any, Any]) -> LineProgress | None:
        found = await loaders(info).get(ProgressByLineLoader).load(self.pk)
        return LineProgress.of(found) if found else None

    @strawberry.field(
        description="What the check at confirmation found: whether the line can be made in "
        "its window against the capacity left; null until it is confirmed."
    )
    async def feasibility(
        self, info: Info[Any, Any]
    ) -> Annotated[LineFeasibility, strawberry.lazy("resolvers.capacity.types")] | None:
        from resolvers.capacity.loaders import FeasibilityByLineLoader
        from resolvers.capacity.types import LineFeasibility

        found = await loaders(info).get(FeasibilityByLineLoader).load(self.pk)
        return LineFeasibility.of(found) if found else None

    @strawberry.field(description="The customer's urges of this line, newest first; each "
                      "with its answers and whole history.")
    async def urge_tickets(
        self, info: Info[Any, Any]
    ) -> list[Annotated[UrgeTicket, strawberry.lazy("resolvers.hotline.types")]]:
        from resolvers.hotline.types import UrgeTicket

        found = await loaders(info).get(TicketsByLineLoader).load(self.pk)
        return [UrgeTicket.of(t) for t in found]

    @strawberry.field(description="The line's unresolved urge, if any.")
    async def open_urge_ticket(
        self, info: Info[Any, Any]
    ) -> Annotated[UrgeTicket, strawberry.lazy("resolvers.hotline.types")] | None:
        from resolvers.hotline.types import UrgeTicket

        found = await loaders(info).get(TicketsByLineLoader).load(self.pk)
        return next((UrgeTicket.of(t) for t in found if t.status != "resolved"), None)

    @strawberry.field(description="Coils allocated to this line, in production order.")
    async def coils(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
        = None,
    ) -> Connection[Annotated[Coil, strawberry.lazy("resolvers.quality.types")]]:
        from resolvers.quality.types import coil_page

        return await coil_page(info, loaders(info).get(CoilPageByLineLoader), self.pk, first, after)

    @classmethod
    def of(cls, line: contract_model.ContractLine) -> ContractLine:
        return cls(
            pk=line.id, line_no=line.line_no, quantity_t=line.quantity_t,
            unit_price=line.unit_price,
            delivery_window=DateWindow(start=line.delivery_from, end=line.delivery_to),
            transport_mode=TransportMode(line.transport_mode), transit_days=line.transit_days,
            firmness=Firmness(line.firmness), status=ContractStatus(line.status),
            shipped_t=line.shipped_t, contract_pk=line.contract_id, spec_pk=line.spec_id,
            site_pk=line.delivery_site_id,
        )


@strawberry.type(description="A steel contract between the mill and a key customer.")
class Contract(Node):
    number: str = strawberry.field(description="Contract number, e.g. `BSC-2026-000123`.")
    status: ContractStatus = strawberry.field(description="Where the contract stands.")
    currency: str = strawberry.field(description="ISO 4217 currency of its prices.")
    incoterm: str = strawberry.field(description="Incoterms 2020 rule, e.g. `DAP`.")
    signed_on: dt.date | None = strawberry.field(description="Day it was signed.")
    confirmed_at: dt.datetime | None = strawberry.field(description="When the mill confirmed it.")
    sales_owner: str | None = strawberry.field(description="The mill's salesperson in charge.")
    created_at: dt.datetime = strawberry.field(description="When it was entered.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")
    customer_pk: strawberry.Private[int]

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        org = await loaders(info).get(OrganizationByIdLoader).load(self.customer_pk)
        return Organization.of(org) if org else None

    @strawberry.field(description="The contract's lines, in order.")
    async def lines(self, info: Info[Any, Any]) -> list[ContractLine]:
        found = await loaders(info).get(LinesByContractLoader).load(self.pk)
        return [ContractLine.of(x) for x in found]

    @strawberry.field(description="Settlements drawn up for this contract.")
    async def settlements(
        self, info: Info[Any, Any]
    ) -> list[Annotated[Settlement, strawberry.lazy("resolvers.settlements")]]:
        from resolvers.settlements import Settlement

        found = await loaders(info).get(SettlementsByContractLoader).load(self.pk)
        return [Settlement.of(s) for s in found]

    @strawberry.field(description="Shipments carrying this contract's coils, newest first.")
    async def shipments(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
        = None,
    ) -> Connection[Annotated[Shipment, strawberry.lazy("resolvers.shipments.types")]]:
        from resolvers.shipments.types import shipment_page

        return await shipment_page(info, self.pk, first, after)

    @classmethod
    def of(cls, c: contract_model.Contract) -> Contract:
        return cls(
            pk=c.id, number=c.number, status=ContractStatus(c.status), currency=c.currency,
            incoterm=c.incoterm, signed_on=c.signed_on, confirmed_at=c.confirmed_at,
            sales_owner=c.sales_owner, created_at=c.created_at, updated_at=c.updated_at,
            customer_pk=c.customer_org_id,
        )
