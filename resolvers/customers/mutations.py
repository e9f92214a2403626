"""What finance sets and decides: credit limits, payments, approvals."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.customers import model
from domain.customers import writes as customer_writes
from resolvers.common import INPUT, UserError, act, ctx, customer_id_of, loaders
from resolvers.contracts.loaders import SettlementByIdLoader
from resolvers.contracts.types import Contract
from resolvers.customers.loaders import PaymentByIdLoader
from resolvers.customers.types import CreditApproval, CustomerCredit, Payment
from resolvers.feeds import put_record, roles, version_field, without_nulls
from resolvers.relay import expect_id
from resolvers.settlements import Settlement


@strawberry.input(description="Set a customer's credit limit.")
class SetCreditLimitInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer's global id.")
    limit: Decimal | None = strawberry.field(
        description="The limit, to the cent, in the customer's currency; null: no limit "
        "(and no confirmation is held for approval).")
    shown_to_customer: bool = strawberry.field(
        default=False, description="Whether the customer sees its limit and headroom.")


@strawberry.type(description="Result of `setCreditLimit`.")
class SetCreditLimitPayload:
    credit: CustomerCredit | None = strawberry.field(description="The credit after it.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A payment received against a settlement's issued invoice, "
                  "as the ERP's `payment` record has it.")
class RecordPaymentInput:
    reference: str = strawberry.field(
        description="The bank's or the ERP's reference: the payment's key (the same "
        "reference again changes that payment).")
    settlement_number: str = strawberry.field(description="The settlement's number.")
    amount: Decimal = strawberry.field(description="The amount, to the cent.")
    paid_on: dt.date = strawberry.field(description="The day it was received.")
    version: str | None = version_field()


@strawberry.type(description="Result of `recordPayment`.")
class RecordPaymentPayload:
    payment: Payment | None = strawberry.field(description="The payment.")
    settlement: Settlement | None = strawberry.field(
        description="Its settlement after it (paid once its payments cover its total).")
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded.")


@strawberry.enum(description="What finance decides on a held contract.")
class CreditDecision(enum.Enum):
    APPROVE = strawberry.enum_value("approve", description="Confirm the contract.")
    REFUSE = strawberry.enum_value("refuse", description="Leave it a draft; say why.")


@strawberry.input(description="Finance's decision on a contract held beyond its customer's "
                  "headroom.")
class DecideCreditApprovalInput:
    approval_id: strawberry.ID = strawberry.field(description="Global id of the approval.")
    decision: CreditDecision = strawberry.field(description="Approve or refuse.")
    note: str | None = strawberry.field(default=None, description="Why; required to refuse.")


@strawberry.type(description="Result of `decideCreditApproval`.")
class DecideCreditApprovalPayload:
    approval: CreditApproval | None = strawberry.field(description="The approval after it.")
    contract: Contract | None = strawberry.field(
        description="The contract: confirmed when approved, a draft when refused.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


_ROLES = ", ".join(model.PERMISSIONS.roles("set_credit"))


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(description=f"Finance sets a customer's credit limit (roles: {_ROLES}).")
    async def set_credit_limit(
        self, info: Info[Any, Any], input: Annotated[SetCreditLimitInput, INPUT],
    ) -> SetCreditLimitPayload:
        async def run(who: Actor) -> CustomerCredit:
            found = await customer_writes.set_credit(ctx(info).db, who, customer_writes.CreditInput(
                customer_org_id=customer_id_of(input.customer_id) or 0, limit=input.limit,
                shown_to_customer=input.shown_to_customer))
            return CustomerCredit.of(found)

        credit, errors = await act(info, run)
        return SetCreditLimitPayload(credit=credit, errors=errors)

    @strawberry.mutation(description="Finance records a payment against a settlement's issued "
                         "invoice, as the ERP's `payment` record does (the same checks and "
                         "events); once the payments cover the invoice it is paid. Roles: "
                         f"{roles('payment')}.")
    async def record_payment(
        self, info: Info[Any, Any], input: Annotated[RecordPaymentInput, INPUT],
    ) -> RecordPaymentPayload:
        data = without_nulls({"settlement": input.settlement_number,
                              "amount": str(input.amount),
                              "paidOn": input.paid_on.isoformat()})
        row_id, errors = await put_record(info, "payment", input.reference, data,
                                          input.version, {"settlement": "settlementNumber"})
        if row_id is None:
            return RecordPaymentPayload(payment=None, settlement=None, errors=errors)
        found = await loaders(info).get(PaymentByIdLoader).load(row_id)
        if found is None:
            return RecordPaymentPayload(payment=None, settlement=None, errors=errors)
        settled = await loaders(info).get(SettlementByIdLoader).load(found.settlement_id)
        return RecordPaymentPayload(payment=Payment.of(found),
                                    settlement=Settlement.of(settled) if settled else None,
                                    errors=errors)

    @strawberry.mutation(description="Finance approves (the contract is confirmed) or refuses "
                         "(it stays a draft) a contract held beyond its customer's credit "
                         f"headroom (roles: {_ROLES}).")
    async def decide_credit_approval(
        self, info: Info[Any, Any], input: Annotated[DecideCreditApprovalInput, INPUT],
    ) -> DecideCreditApprovalPayload:
        async def run(who: Actor) -> customer_writes.Decision:
            return await customer_writes.decide(
                ctx(info).db, who, expect_id(input.approval_id, "CreditApproval"),
                input.decision.name.lower(), input.note)

        done, errors = await act(info, run)
        if done is None:
            return DecideCreditApprovalPayload(approval=None, contract=None, errors=errors)
        return DecideCreditApprovalPayload(approval=CreditApproval.of(done.approval),
                                           contract=Contract.of(done.contract), errors=errors)
