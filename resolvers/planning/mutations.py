"""Purchase-plan steps: the customer computes and submits; sales approves (converting
the firm lines into a confirmed contract) or rejects, and answers the change requests a
changed car plan raises."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.planning import changes, plans
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.planning.input_mutations import PlanningInputMutations, customer_field
from resolvers.planning.queries import acting_customer
from resolvers.planning.types import PlanChange, PurchasePlan
from resolvers.relay import expect_id

if TYPE_CHECKING:
    pass


@strawberry.input(description="Compute (or recompute) the open purchase plan.")
class ComputePurchasePlanInput:
    customer_id: strawberry.ID | None = customer_field()


@strawberry.input(description="A purchase plan to act on.")
class PurchasePlanInput:
    plan_id: strawberry.ID = strawberry.field(description="Global id of the purchase plan.")


@strawberry.input(description="A price for a spec's new contract lines.")
class SpecPriceInput:
    spec_id: strawberry.ID = strawberry.field(description="Global id of the steel spec.")
    unit_price: Decimal = strawberry.field(description="Price per tonne, contract currency.")


@strawberry.input(description="Approve a submitted plan; its firm lines become a contract.")
class ApprovePurchasePlanInput:
    plan_id: strawberry.ID = strawberry.field(description="Global id of the purchase plan.")
    unit_prices: list[SpecPriceInput] = strawberry.field(
        default_factory=list, description="Prices; a spec left out takes the customer's "
        "latest price.")
    accept_infeasible: bool = strawberry.field(
        default=False, description="Convert firm lines that cannot be made in their "
        "windows as they are; without it such lines refuse the approval with "
        "`INFEASIBLE` and the plan stays submitted.")


@strawberry.input(description="Reject a submitted plan.")
class RejectPurchasePlanInput:
    plan_id: strawberry.ID = strawberry.field(description="Global id of the purchase plan.")
    reason: str = strawberry.field(description="Why, for the customer to act on.")


@strawberry.type(description="Result of a purchase-plan step.")
class PurchasePlanPayload:
    purchase_plan: PurchasePlan | None = strawberry.field(description="The plan after it.")
    errors: list[UserError] = strawberry.field(description="Why it was not done.")


@strawberry.input(description="Sales' answer to a change request.")
class AnswerChangeRequestInput:
    change_id: strawberry.ID = strawberry.field(description="Global id of the PlanChange.")
    accept: bool = strawberry.field(description="Accept (true) or decline (false).")


@strawberry.type(description="Result of `answerPlanChangeRequest`.")
class AnswerChangeRequestPayload:
    change: PlanChange | None = strawberry.field(description="The answered request.")
    errors: list[UserError] = strawberry.field(description="Why it was not answered.")


@strawberry.type
class PlanningMutations(PlanningInputMutations):
    @strawberry.mutation(description="Compute the open purchase plan from the current car "
                         "plan and live stock (roles: customer, sales, admin).")
    async def compute_purchase_plan(
        self, info: Info[Any, Any], input: Annotated[ComputePurchasePlanInput, INPUT],
    ) -> PurchasePlanPayload:
        async def run(who: Actor) -> PurchasePlan:
            org = await acting_customer(info, who, "compute", input.customer_id)
            return PurchasePlan.of(await plans.compute(ctx(info).db, org, actor=who))

        plan, errors = await act(info, run)
        return PurchasePlanPayload(purchase_plan=plan, errors=errors)

    @strawberry.mutation(description="The customer submits its computed plan to the mill "
                         "(role: customer).")
    async def submit_purchase_plan(
        self, info: Info[Any, Any], input: Annotated[PurchasePlanInput, INPUT],
    ) -> PurchasePlanPayload:
        async def run(who: Actor) -> PurchasePlan:
            pk = expect_id(input.plan_id, "PurchasePlan")
            return PurchasePlan.of(await plans.submit(ctx(info).db, pk, actor=who))

        plan, errors = await act(info, run)
        return PurchasePlanPayload(purchase_plan=plan, errors=errors)

    @strawberry.mutation(description="Sales approves a submitted plan; its firm lines become "
                         "a confirmed contract with production orders (roles: sales, admin).")
    async def approve_purchase_plan(
        self, info: Info[Any, Any], input: Annotated[ApprovePurchasePlanInput, INPUT],
    ) -> PurchasePlanPayload:
        async def run(who: Actor) -> PurchasePlan:
            prices = {expect_id(p.spec_id, "SteelSpec"): p.unit_price for p in input.unit_prices}
            return PurchasePlan.of(await plans.approve(
                ctx(info).db, expect_id(input.plan_id, "PurchasePlan"), actor=who,
                prices=prices, accept_infeasible=input.accept_infeasible))

        plan, errors = await act(info, run)
        return PurchasePlanPayload(purchase_plan=plan, errors=errors)

    @strawberry.mutation(description="Sales rejects a submitted plan with a reason (roles: "
                         "sales, admin).")
    async def reject_purchase_plan(
        self, info: Info[Any, Any], input: Annotated[RejectPurchasePlanInput, INPUT],
    ) -> PurchasePlanPayload:
        async def run(who: Actor) -> PurchasePlan:
            return PurchasePlan.of(await plans.reject(
                ctx(info).db, expect_id(input.plan_id, "PurchasePlan"), reason=input.reason,
                actor=who))

        plan, errors = await act(info, run)
        return PurchasePlanPayload(purchase_plan=plan, errors=errors)

    @strawberry.mutation(description="Sales accepts or declines a change request raised by "
                         "a changed car plan; accepted, the contract line takes the new "
                         "quantity and delivery window, never shrinking below what is made "
                         "or shipped (roles: sales, admin).")
    async def answer_plan_change_request(
        self, info: Info[Any, Any], input: Annotated[AnswerChangeRequestInput, INPUT],
    ) -> AnswerChangeRequestPayload:
        async def run(who: Actor) -> PlanChange:
            c = await changes.answer_request(ctx(info).db, expect_id(input.change_id,
                                             "PlanChange"), accept=input.accept,
                                             actor=who)
            return (await PlanChange.of_many(info, [c]))[0]

        change, errors = await act(info, run)
        return AnswerChangeRequestPayload(change=change, errors=errors)
