"""Planning inputs: the car plan, the consumption table, planning parameters, transport
cycles, stock reports, the customer's plan-file format and file imports. A customer acts
for itself; the mill's sales (or an admin) may act for a customer by its id."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from domain.actor import Actor
from domain.calendar import mill_today
from domain.planning import changes, imports, inputs, jobs
from domain.planning.calc import PlanEntry
from domain.preferences import reads as preference_reads
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.contracts.types import TransportMode
from resolvers.planning.queries import acting_customer
from resolvers.planning.types import PlanImport, PlanImportKind, ProductionPlan
from resolvers.relay import expect_id

if TYPE_CHECKING:
    pass



def customer_field() -> Any:
    return strawberry.field(default=None, description="Global id of the customer; the "
                            "mill's staff give it, a customer's token leaves it out.")


@strawberry.input(description="Cars of one model to build in one period.")
class PlanEntryInput:
    model: str = strawberry.field(description="Car model code, as in the consumption table.")
    period_start: dt.date = strawberry.field(description="First day of the period.")
    units: int = strawberry.field(description="Cars to build in the period.")
    period_days: int = strawberry.field(default=7, description="Days in the period: 1 for "
                                        "a daily plan, 7 for a weekly one.")


@strawberry.input(description="A new version of the car build plan.")
class ShareProductionPlanInput:
    entries: list[PlanEntryInput] = strawberry.field(description="The whole plan.")
    customer_id: strawberry.ID | None = customer_field()


@strawberry.type(description="Result of `shareProductionPlan`.")
class ShareProductionPlanPayload:
    production_plan: ProductionPlan | None = strawberry.field(description="The new version.")
    errors: list[UserError] = strawberry.field(description="Why it was not stored.")


@strawberry.input(description="Kilograms of a steel spec one car of a model takes.")
class ConsumptionRateInput:
    model: str = strawberry.field(description="Car model code.")
    spec: str = strawberry.field(description="Spec code or your part number.")
    kg_per_car: Decimal = strawberry.field(description="Kilograms per car.")
    yield_allowance_pct: Decimal = strawberry.field(
        default=Decimal(0), description="Extra for blanking scrap and losses, in percent.")


@strawberry.input(description="The whole consumption table; it replaces the one before.")
class SetConsumptionTableInput:
    rates: list[ConsumptionRateInput] = strawberry.field(description="Every rate.")
    customer_id: strawberry.ID | None = customer_field()


@strawberry.type(description="Result of `setConsumptionTable`.")
class SetConsumptionTablePayload:
    rates: int | None = strawberry.field(description="How many rates the table now has.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="Planning parameters of one spec.")
class SetPlanningParametersInput:
    spec_id: strawberry.ID = strawberry.field(description="Global id of the steel spec.")
    safety_days: Decimal = strawberry.field(default=Decimal(5),
                                            description="Safety stock in days of demand.")
    min_order_tonnes: Decimal = strawberry.field(default=Decimal(0),
                                                 description="Minimum order in tonnes.")
    delivery_site_id: strawberry.ID | None = strawberry.field(
        default=None, description="Delivery site; default: your preferences.")
    transport_mode: TransportMode | None = strawberry.field(
        default=None, description="Transport mode; default: your preferences.")
    customer_id: strawberry.ID | None = customer_field()


@strawberry.input(description="Days from leaving the mill to usable at a site, by a mode.")
class SetTransportCycleInput:
    site_id: strawberry.ID = strawberry.field(description="Global id of the delivery site.")
    transport_mode: TransportMode = strawberry.field(description="Road, rail or water.")
    cycle_days: int = strawberry.field(description="Days, e.g. 7 by rail to Changchun.")
    customer_id: strawberry.ID | None = customer_field()


@strawberry.input(description="What the warehouse consumed, and what it holds for other uses.")
class ReportStockInput:
    spec_id: strawberry.ID = strawberry.field(description="Global id of the steel spec.")
    consumed_tonnes: Decimal = strawberry.field(description="Tonnes consumed since the "
                                                "last report.")
    allocated_tonnes: Decimal | None = strawberry.field(
        default=None, description="Tonnes now reserved for other uses; null: unchanged.")
    reported_on: dt.date | None = strawberry.field(default=None,
                                                   description="Day of the report; today.")
    customer_id: strawberry.ID | None = customer_field()


@strawberry.type(description="Result of a change to planning inputs.")
class PlanningInputPayload:
    ok: bool = strawberry.field(description="The change was stored.")
    errors: list[UserError] = strawberry.field(description="Why it was not.")


@strawberry.input(description="Firmness zones and delivery windows of a customer's plans.")
class SetPlanningProfileInput:
    customer_id: strawberry.ID = strawberry.field(description="Global id of the customer.")
    firm_days: int = strawberry.field(default=28, description="Periods starting sooner than "
                                      "this many days ahead are firm.")
    production_days: int = strawberry.field(
        default=56, description="Sooner than this: commitment for production.")
    material_days: int = strawberry.field(
        default=91, description="Sooner than this: commitment for material; later: forecast.")
    window_days: int = strawberry.field(
        default=3, description="A contract line's window opens this many days before the "
        "need date.")


@strawberry.input(description="A standard field and the customer's column heading for it.")
class ColumnMappingInput:
    field: str = strawberry.field(description="Standard field: model, period_start, units, "
                                  "period_days, part_number, kg_per_car, yield_allowance_pct.")
    column: str = strawberry.field(description="The heading in the customer's files.")


@strawberry.input(description="A name the customer uses for a car model.")
class ModelMappingInput:
    name: str = strawberry.field(description="As in the customer's files.")
    model: str = strawberry.field(description="The model code of the consumption table.")


@strawberry.input(description="The format conversion of a customer's plan files.")
class SetPlanFormatInput:
    customer_id: strawberry.ID = strawberry.field(description="Global id of the customer.")
    columns: list[ColumnMappingInput] = strawberry.field(description="Column headings.")
    models: list[ModelMappingInput] = strawberry.field(default_factory=list,
                                                       description="Model names.")
    date_format: str = strawberry.field(default="%Y-%m-%d",
                                        description="strftime format of dates in text.")
    default_period_days: int = strawberry.field(
        default=7, description="Period length when a file has no period column.")


@strawberry.input(description="A plan or consumption file in the customer's own format.")
class ImportPlanFileInput:
    file: Upload = strawberry.field(description="CSV (UTF-8 or GB18030) or XLSX.")
    kind: PlanImportKind = strawberry.field(default=PlanImportKind.PLAN,
                                            description="What the file holds.")
    customer_id: strawberry.ID | None = customer_field()


@strawberry.type(description="Result of `importPlanFile`: the running import; read it "
                 "again with `node(id)` for its progress and bad rows.")
class ImportPlanFilePayload:
    plan_import: PlanImport | None = strawberry.field(description="The import.")
    errors: list[UserError] = strawberry.field(description="Why it did not start.")


async def _input_change(info: Info[Any, Any], action: str, customer_id: str | None,
                        change: Any) -> PlanningInputPayload:
    async def run(who: Actor) -> bool:
        org = await acting_customer(info, who, action, customer_id)
        async with ctx(info).db.transaction() as tx:
            await change(tx, org, who)
        return True

    ok, errors = await act(info, run)
    return PlanningInputPayload(ok=bool(ok), errors=errors)


@strawberry.type
class PlanningInputMutations:
    @strawberry.mutation(description="Share a new version of the car build plan; the open "
                         "purchase plan is recomputed and an approved one follows it "
                         "(roles: customer, sales, admin).")
    async def share_production_plan(
        self, info: Info[Any, Any], input: Annotated[ShareProductionPlanInput, INPUT],
    ) -> ShareProductionPlanPayload:
        async def run(who: Actor) -> ProductionPlan:
            org = await acting_customer(info, who, "share_plan", input.customer_id)
            entries = [PlanEntry(e.model, e.period_start, e.period_days, e.units)
                       for e in input.entries]
            plan = await changes.share_plan(ctx(info).db, org, entries, source="api",
                                            actor=who)
            return ProductionPlan.of(plan)

        plan, errors = await act(info, run)
        return ShareProductionPlanPayload(production_plan=plan, errors=errors)

    @strawberry.mutation(description="Replace the consumption table (roles: customer, "
                         "sales, admin).")
    async def set_consumption_table(
        self, info: Info[Any, Any], input: Annotated[SetConsumptionTableInput, INPUT],
    ) -> SetConsumptionTablePayload:
        async def run(who: Actor) -> int:
            org = await acting_customer(info, who, "set_consumption", input.customer_id)
            rows = [inputs.ConsumptionRow(r.model, r.spec, r.kg_per_car, r.yield_allowance_pct)
                    for r in input.rates]
            async with ctx(info).db.transaction() as tx:
                return await inputs.set_consumption(tx, org, rows, actor=who)

        count, errors = await act(info, run)
        return SetConsumptionTablePayload(rates=count, errors=errors)

    @strawberry.mutation(description="Safety days, minimum order and route of a spec "
                         "(roles: customer, sales, admin).")
    async def set_planning_parameters(
        self, info: Info[Any, Any], input: Annotated[SetPlanningParametersInput, INPUT],
    ) -> PlanningInputPayload:
        async def change(tx: Any, org: int, who: Actor) -> None:
            await inputs.set_spec_params(tx, org, inputs.SpecParams(
                spec_id=await _own_spec(tx, org, input.spec_id),
                safety_days=input.safety_days, min_order_t=input.min_order_tonnes,
                delivery_site_id=await _own_site(tx, org, input.delivery_site_id),
                transport_mode=input.transport_mode.value if input.transport_mode else None),
                actor=who)

        return await _input_change(info, "set_spec_params", input.customer_id, change)

    @strawberry.mutation(description="The transport cycle to a site by a mode (roles: "
                         "customer, sales, admin).")
    async def set_transport_cycle(
        self, info: Info[Any, Any], input: Annotated[SetTransportCycleInput, INPUT],
    ) -> PlanningInputPayload:
        async def change(tx: Any, org: int, who: Actor) -> None:
            site = await _own_site(tx, org, input.site_id)
            assert site is not None
            await inputs.set_transport_cycle(tx, org, site, input.transport_mode.value,
                                             input.cycle_days, actor=who)

        return await _input_change(info, "set_transport_cycle", input.customer_id, change)

    @strawberry.mutation(description="Report warehouse consumption and allocation of a spec "
                         "(roles: customer, sales, admin).")
    async def report_stock(
        self, info: Info[Any, Any], input: Annotated[ReportStockInput, INPUT],
    ) -> PlanningInputPayload:
        async def change(tx: Any, org: int, who: Actor) -> None:
            await inputs.report_stock(
                tx, org, await _own_spec(tx, org, input.spec_id),
                reported_on=input.reported_on or mill_today(),
                consumed_t=input.consumed_tonnes, allocated_t=input.allocated_tonnes,
                actor=who)

        return await _input_change(info, "report_stock", input.customer_id, change)

    @strawberry.mutation(description="Set a customer's firmness zones and delivery-window "
                         "width; they apply from the next computation (roles: sales, admin).")
    async def set_planning_profile(
        self, info: Info[Any, Any], input: Annotated[SetPlanningProfileInput, INPUT],
    ) -> PlanningInputPayload:
        async def run(who: Actor) -> bool:
            org = await acting_customer(info, who, "set_profile", input.customer_id)
            async with ctx(info).db.transaction() as tx:
                await inputs.set_profile(tx, org, inputs.Profile(
                    input.firm_days, input.production_days, input.material_days,
                    input.window_days), actor=who)
            return True

        ok, errors = await act(info, run)
        return PlanningInputPayload(ok=bool(ok), errors=errors)

    @strawberry.mutation(description="Configure how a customer's plan files are read "
                         "(roles: sales, admin).")
    async def set_plan_format(
        self, info: Info[Any, Any], input: Annotated[SetPlanFormatInput, INPUT],
    ) -> PlanningInputPayload:
        async def run(who: Actor) -> bool:
            org = await acting_customer(info, who, "set_plan_format", input.customer_id)
            fmt = imports.PlanFormat(
                columns={c.field: c.column for c in input.columns},
                models={m.name: m.model for m in input.models},
                date_format=input.date_format, default_period_days=input.default_period_days)
            async with ctx(info).db.transaction() as tx:
                await imports.set_plan_format(tx, org, fmt, actor=who)
            return True

        ok, errors = await act(info, run)
        return PlanningInputPayload(ok=bool(ok), errors=errors)

    @strawberry.mutation(description="Import a plan or consumption file in the customer's "
                         "format; it runs on after the answer (roles: customer, sales, admin).")
    async def import_plan_file(
        self, info: Info[Any, Any], input: Annotated[ImportPlanFileInput, INPUT],
    ) -> ImportPlanFilePayload:
        async def run(who: Actor) -> PlanImport:
            org = await acting_customer(info, who, "import", input.customer_id)
            upload: Any = input.file
            content: bytes = await upload.read(imports.MAX_FILE_BYTES + 1)
            name = upload.filename or "plan"
            db = ctx(info).db
            kind = str(input.kind.value)
            limits = _limits(info)
            await imports.accept(name, content, limits)
            # Kept with the file and leased to this process, which runs it at once; if
            # this process dies, another one takes it over (domain.planning.jobs).
            running = ctx(info).services.imports
            job = await imports.start(db, org, kind, name, actor=who, content=content,
                                      limits=limits, owner=running.owner,
                                      lease_s=running.lease_s)
            await running.start(jobs.Job(job, org, kind, name, content, who.subject, limits,
                                         attempts=1))
            found = await imports.imports_by_ids(db, None, [job])
            return PlanImport.of(found[0])

        job, errors = await act(info, run)
        return ImportPlanFilePayload(plan_import=job, errors=errors)

async def _own_spec(tx: Any, org: int, spec_id: str) -> int:
    pk = expect_id(spec_id, "SteelSpec")
    await inputs.check_own_spec(tx, org, pk, "specId")
    return pk


async def _own_site(tx: Any, org: int, site_id: str | None) -> int | None:
    if site_id is None:
        return None
    pk = expect_id(site_id, "Site")
    await preference_reads.check_delivery_site(tx, org, pk, "siteId")
    return pk


def _limits(info: Info[Any, Any]) -> imports.Limits:
    settings = ctx(info).request.app.state.settings
    return imports.Limits(unpacked_bytes=settings.import_max_unpacked_bytes,
                          rows=settings.import_max_rows, cells=settings.import_max_cells)
