"""`createContract`: a customer's draft order, or a contract sales enters, from lines that
take the customer's defaults where they are silent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.contracts import order_lines as contract_order_lines
from domain.contracts import writes as contract_writes
from resolvers.common import INPUT, UserError, act, ctx, customer_id_of
from resolvers.contracts.types import Contract, Firmness, TransportMode
from resolvers.relay import expect_id


@strawberry.input(description="One line of a new contract; what it leaves out takes the "
                  "customer's defaults (see `orderForm`).")
class NewContractLineInput:
    spec_id: strawberry.ID = strawberry.field(
        description="The steel: the customer's own spec or a catalogue one.")
    quantity_t: Decimal = strawberry.field(description="Tonnes, at most 3 decimals.")
    delivery_from: dt.date = strawberry.field(description="First day of the delivery window.")
    delivery_to: dt.date = strawberry.field(description="Last day of the delivery window.")
    unit_price: Decimal | None = strawberry.field(
        default=None, description="Price per tonne; default: the customer's latest price "
        "for this spec.")
    delivery_site_id: strawberry.ID | None = strawberry.field(
        default=None, description="Delivery site; default: the customer's default site.")
    transport_mode: TransportMode | None = strawberry.field(
        default=None, description="Default: the customer's preferred mode to the site.")
    transit_days: int | None = strawberry.field(
        default=None, description="Default: the customer's days to the site by that mode.")
    firmness: Firmness = strawberry.field(
        default=Firmness.FIRM, description="How binding the quantity is.")


@strawberry.input(description="A new contract from its lines.")
class CreateContractInput:
    lines: list[NewContractLineInput] = strawberry.field(description="Its lines, in order.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer (the mill's sales); a customer orders for "
        "itself.")
    confirm: bool = strawberry.field(
        default=False, description="Confirm it at once, planning production (sales only).")
    sales_owner: str | None = strawberry.field(
        default=None, description="The mill's salesperson in charge (sales only); default: "
        "the one of the customer's latest contract.")
    accept_infeasible: bool = strawberry.field(
        default=False, description="With `confirm` (sales only): confirm lines that cannot "
        "be made in their windows as they are; without it such lines refuse the contract "
        "with `INFEASIBLE`.")


@strawberry.type(description="Result of `createContract`.")
class CreateContractPayload:
    contract: Contract | None = strawberry.field(description="The new contract.")
    errors: list[UserError] = strawberry.field(description="Why nothing was created.")


def _line(x: NewContractLineInput) -> contract_order_lines.NewContractLine:
    return contract_order_lines.NewContractLine(
        spec_id=expect_id(x.spec_id, "SteelSpec"), quantity_t=x.quantity_t,
        delivery_from=x.delivery_from, delivery_to=x.delivery_to, unit_price=x.unit_price,
        delivery_site_id=expect_id(x.delivery_site_id, "Site") if x.delivery_site_id else None,
        transport_mode=x.transport_mode.value if x.transport_mode else None,
        transit_days=x.transit_days, firmness=x.firmness.value,
    )


@strawberry.type
class OrderMutations:
    @strawberry.mutation(description="A new contract from lines (roles: customer, for a draft "
                         "order of its own; sales or admin, for any customer, confirmed at "
                         "once if asked). Lines take the customer's defaults where silent.")
    async def create_contract(
        self, info: Info[Any, Any], input: Annotated[CreateContractInput, INPUT],
    ) -> CreateContractPayload:
        async def run(who: Actor) -> Contract:
            made = await contract_writes.place_order(
                ctx(info).db, who, customer_id_of(input.customer_id),
                [_line(x) for x in input.lines], confirm=input.confirm,
                sales_owner=input.sales_owner, source={"via": "api", "by": who.subject},
                accept_infeasible=input.accept_infeasible)
            return Contract.of(made)

        made, errors = await act(info, run)
        return CreateContractPayload(contract=made, errors=errors)
