"""Settlements: per contract, exact to the cent."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.settlements import reads as domain
from domain.settlements import writes as settling
from resolvers.common import INPUT, UserError, act, ctx, loaders, viewer
from resolvers.contracts.loaders import ContractByIdLoader, SettlementByIdLoader
from resolvers.disputes.loaders import ClaimsBySettlementLoader
from resolvers.relay import (
    DEFAULT_PAGE,
    Connection,
    Node,
    after_id,
    check_first,
    connection,
    exactly_one,
    expect_id,
)

if TYPE_CHECKING:
    from resolvers.contracts.types import Contract
    from resolvers.customers.types import Payment
    from resolvers.disputes.types import Claim


@strawberry.enum(description="Where the invoice of a settlement stands.")
class InvoiceStatus(enum.Enum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"


@strawberry.type(description="What a contract comes to: goods, surcharges, freight, deductions.")
class Settlement(Node):
    number: str = strawberry.field(description="Settlement number.")
    currency: str = strawberry.field(description="ISO 4217 currency.")
    theoretical_weight_t: Decimal = strawberry.field(
        description="Tonnes by nominal dimensions: each coil's weight scaled by its spec's "
        "nominal thickness and width over its own."
    )
    actual_weight_t: Decimal = strawberry.field(description="Tonnes weighed.")
    unit_price: Decimal = strawberry.field(
        description="Price per tonne: the lines' prices weighted by their weighed tonnes.")
    goods_amount: Decimal = strawberry.field(
        description="Each line's weighed tonnes times its price, to the cent, summed.")
    surcharges: Decimal = strawberry.field(description="Grade, coating, size extras.")
    freight: Decimal = strawberry.field(description="Transport charged.")
    claim_deductions: Decimal = strawberry.field(description="Agreed quality claims deducted.")
    total_amount: Decimal = strawberry.field(
        description="Goods + surcharges + freight - claim deductions."
    )
    invoice_status: InvoiceStatus = strawberry.field(description="Invoice state.")
    issued_on: dt.date | None = strawberry.field(description="Invoice date.")
    due_on: dt.date | None = strawberry.field(description="Payment due.")
    paid_on: dt.date | None = strawberry.field(description="Paid.")
    contract_pk: strawberry.Private[int]

    @strawberry.field(description="Tonnes weighed minus tonnes by nominal dimensions.")
    def weight_difference_t(self) -> Decimal:
        return self.actual_weight_t - self.theoretical_weight_t

    @strawberry.field(description="The contract settled.")
    async def contract(
        self, info: Info[Any, Any]
    ) -> Annotated[Contract, strawberry.lazy("resolvers.contracts.types")] | None:
        from resolvers.contracts.types import Contract

        c = await loaders(info).get(ContractByIdLoader).load(self.contract_pk)
        return Contract.of(c) if c else None

    @strawberry.field(description="The agreed quality claims deducted on it: their agreed "
                      "amounts add up to `claimDeductions` (less any deducted before claims "
                      "were recorded here).")
    async def claims(
        self, info: Info[Any, Any]
    ) -> list[Annotated[Claim, strawberry.lazy("resolvers.disputes.types")]]:
        from resolvers.disputes.types import Claim

        found = await loaders(info).get(ClaimsBySettlementLoader).load(self.pk)
        return [Claim.of(c) for c in found]

    @strawberry.field(description="The payments received against its invoice, in the order "
                      "received.")
    async def payments(
        self, info: Info[Any, Any]
    ) -> list[Annotated[Payment, strawberry.lazy("resolvers.customers.types")]]:
        from resolvers.customers.loaders import PaymentsBySettlementLoader
        from resolvers.customers.types import Payment

        found = await loaders(info).get(PaymentsBySettlementLoader).load(self.pk)
        return [Payment.of(p) for p in found]

    @strawberry.field(description="What its invoice still asks: the total less the payments "
                      "received while it is issued or overdue; nothing once paid; the whole "
                      "total as a draft; nothing when void.")
    async def outstanding(self, info: Info[Any, Any]) -> Decimal:
        from resolvers.customers.loaders import PaymentsBySettlementLoader

        if self.invoice_status in (InvoiceStatus.PAID, InvoiceStatus.VOID):
            return Decimal(0)
        if self.invoice_status is InvoiceStatus.DRAFT:
            return self.total_amount
        found = await loaders(info).get(PaymentsBySettlementLoader).load(self.pk)
        return self.total_amount - sum((p.amount for p in found), Decimal(0))

    @classmethod
    def of(cls, s: domain.Settlement) -> Settlement:
        return cls(
            pk=s.id, number=s.number, currency=s.currency,
            theoretical_weight_t=s.theoretical_weight_t, actual_weight_t=s.actual_weight_t,
            unit_price=s.unit_price, goods_amount=s.goods_amount, surcharges=s.surcharges,
            freight=s.freight, claim_deductions=s.claim_deductions, total_amount=s.total_amount,
            invoice_status=InvoiceStatus(s.invoice_status), issued_on=s.issued_on,
            due_on=s.due_on, paid_on=s.paid_on, contract_pk=s.contract_id,
        )


@strawberry.type
class SettlementQueries:
    @strawberry.field(description="One settlement by id or number; null if unknown or "
                      "another customer's.")
    async def settlement(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        number: Annotated[str | None, strawberry.argument(
            description="Settlement number.")] = None,
    ) -> Settlement | None:
        who = await viewer(info)
        exactly_one(id, number, "number")
        if id is not None:
            found = await loaders(info).get(SettlementByIdLoader).load(expect_id(id, "Settlement"))
        else:
            rows = await domain.settlements_by_numbers(ctx(info).db, who.scope, [number or ""])
            found = rows[0] if rows else None
        return Settlement.of(found) if found else None

    @strawberry.field(description="Settlements the viewer may see, oldest first.")
    async def settlements(
        self, info: Info[Any, Any],
        invoice_status: Annotated[list[InvoiceStatus] | None, strawberry.argument(
            description="Only these invoice states.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
        = None,
    ) -> Connection[Settlement]:
        who = await viewer(info)
        check_first(first)
        rows = await domain.list_settlements(
            ctx(info).db, who.scope, statuses=[s.value for s in invoice_status or []],
            limit=first + 1, after_id=after_id(after),
        )
        return connection([(Settlement.of(s), [s.id]) for s in rows], first, after is not None)


@strawberry.enum(description="A step on a settlement's invoice (roles: finance, admin).")
class SettlementAction(enum.Enum):
    ISSUE = strawberry.enum_value(
        "issue", description="draft -> issued, on `on` (default today), due `paymentDays` later.")
    PAY = strawberry.enum_value(
        "pay", description="issued or overdue -> paid, on `on` (default today).")
    MARK_OVERDUE = strawberry.enum_value(
        "mark_overdue", description="issued -> overdue, once its due day has passed.")
    VOID = strawberry.enum_value(
        "void", description="draft, issued or overdue -> void, with a `note`; the contract "
        "may then get a new settlement, which takes over the agreed claims not yet credited.")


@strawberry.input(description="Draw up the settlement of a contract whose coils have left "
                  "the mill.")
class DrawUpSettlementInput:
    contract_id: strawberry.ID = strawberry.field(description="Global id of the contract.")
    surcharges: Decimal = strawberry.field(
        default=Decimal(0), description="Grade, coating and size extras, to the cent.")
    freight: Decimal = strawberry.field(
        default=Decimal(0), description="Transport charged, to the cent.")


@strawberry.input(description="Move a settlement's invoice on.")
class TransitionSettlementInput:
    settlement_id: strawberry.ID = strawberry.field(description="Global id of the settlement.")
    action: SettlementAction = strawberry.field(description="The step to take.")
    on: dt.date | None = strawberry.field(
        default=None, description="The day it happened (the mill's calendar); default today.")
    payment_days: int = strawberry.field(
        default=30, description="For issue: days until payment is due (0 to 365).")
    note: str | None = strawberry.field(default=None, description="Why; required to void.")


@strawberry.type(description="Result of a settlement mutation.")
class SettlementPayload:
    settlement: Settlement | None = strawberry.field(description="The settlement after it.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")




@strawberry.type
class SettlementMutations:
    @strawberry.mutation(description="Finance draws up a contract's settlement from its lines' "
                         "prices and its shipped coils' weights, deducting agreed claims "
                         "(roles: finance, admin).")
    async def draw_up_settlement(
        self, info: Info[Any, Any], input: Annotated[DrawUpSettlementInput, INPUT],
    ) -> SettlementPayload:
        async def run(who: Actor) -> Settlement:
            found = await settling.draw_up(
                ctx(info).db, who, expect_id(input.contract_id, "Contract"),
                surcharges=input.surcharges, freight=input.freight)
            return Settlement.of(found)

        found, errors = await act(info, run)
        return SettlementPayload(settlement=found, errors=errors)

    @strawberry.mutation(description="Finance moves a settlement's invoice on; see "
                         "`SettlementAction`.")
    async def transition_settlement(
        self, info: Info[Any, Any], input: Annotated[TransitionSettlementInput, INPUT],
    ) -> SettlementPayload:
        async def run(who: Actor) -> Settlement:
            found = await settling.move_invoice(ctx(info).db, who, settling.InvoiceInput(
                settlement_id=expect_id(input.settlement_id, "Settlement"),
                action=input.action.name.lower(), on=input.on, payment_days=input.payment_days,
                note=input.note))
            return Settlement.of(found)

        found, errors = await act(info, run)
        return SettlementPayload(settlement=found, errors=errors)
