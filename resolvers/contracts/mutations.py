"""Mill-side mutations on contracts: confirm a contract, record production progress."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.contracts import production
from domain.contracts import reads as contract_reads
from domain.contracts import writes as contract_writes
from domain.customers import reads as customer_reads
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.contracts.types import Contract, ContractLine, LineProgress, ProductionStage
from resolvers.relay import expect_id

if TYPE_CHECKING:
    from resolvers.customers.types import CreditApproval


@strawberry.input(description="Confirm a draft contract; production orders follow.")
class ConfirmContractInput:
    contract_id: strawberry.ID = strawberry.field(description="Global id of the contract.")
    accept_infeasible: bool = strawberry.field(
        default=False, description="Confirm lines that cannot be made in their windows "
        "as they are (each keeps the finding in `feasibility`); without it such lines "
        "refuse the confirmation with `INFEASIBLE`.")


@strawberry.type(description="Result of `confirmContract`.")
class ConfirmContractPayload:
    contract: Contract | None = strawberry.field(
        description="The confirmed contract; still a draft when held for finance.")
    credit_approval: Annotated[
        CreditApproval, strawberry.lazy("resolvers.customers.types")] | None = strawberry.field(
        description="When the contract's value goes beyond its customer's credit headroom: "
        "the pending approval it waits for, as a draft (null otherwise).")
    errors: list[UserError] = strawberry.field(description="Why it was not confirmed.")


@strawberry.input(description="What a production stage did for a contract line.")
class RecordProgressInput:
    line_id: strawberry.ID = strawberry.field(description="Global id of the contract line.")
    stage: ProductionStage = strawberry.field(description="Stage on the line's route.")
    tonnes: Decimal = strawberry.field(description="Tonnes through the stage in this step.")
    completes_stage: bool = strawberry.field(
        default=False, description="The stage is finished with this step."
    )
    occurred_at: dt.datetime | None = strawberry.field(
        default=None, description="When it happened (with offset); default now."
    )
    note: str | None = strawberry.field(default=None, description="Free text for the record.")


@strawberry.type(description="Result of `recordProgress`.")
class RecordProgressPayload:
    line: ContractLine | None = strawberry.field(description="The line.")
    progress: LineProgress | None = strawberry.field(description="Its progress after the step.")
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded.")


@strawberry.type
class ContractMutations:
    @strawberry.mutation(description="Sales confirms a draft contract (roles: sales, admin). "
                         "Each line is checked against the stages' capacity left and its "
                         "window first: `INFEASIBLE` names the lines that cannot be made in "
                         "time, unless `acceptInfeasible`.")
    async def confirm_contract(
        self, info: Info[Any, Any], input: Annotated[ConfirmContractInput, INPUT],
    ) -> ConfirmContractPayload:
        async def run(who: Actor) -> Contract:
            pk = expect_id(input.contract_id, "Contract")
            return Contract.of(await contract_writes.confirm_contract(
                ctx(info).db, pk, actor=who, accept_infeasible=input.accept_infeasible))

        contract, errors = await act(info, run)
        held = None
        if contract is not None and contract.status.value == "draft":
            from resolvers.customers.types import CreditApproval

            pending = await customer_reads.pending_by_contracts(
                ctx(info).db, await ctx(info).actor(), [contract.pk])
            held = CreditApproval.of(pending[contract.pk]) if contract.pk in pending else None
        return ConfirmContractPayload(contract=contract, credit_approval=held, errors=errors)

    @strawberry.mutation(
        description="Production records what a stage did (roles: production, admin). Steps "
        "follow the line's route: refused with `OUT_OF_SEQUENCE` while an earlier stage has "
        "not started (or, to complete a stage, not completed), and with `OVER_TOLERANCE` "
        "past the stage's planned tonnes plus KEYLINK_PROGRESS_TOLERANCE."
    )
    async def record_progress(
        self, info: Info[Any, Any], input: Annotated[RecordProgressInput, INPUT],
    ) -> RecordProgressPayload:
        async def run(who: Actor) -> tuple[ContractLine, LineProgress]:
            data = production.ProgressInput(
                line_id=expect_id(input.line_id, "ContractLine"), stage=input.stage.value,
                tonnes=input.tonnes, completes_stage=input.completes_stage,
                occurred_at=input.occurred_at, note=input.note,
            )
            progress = await production.record_progress(
                ctx(info).db, data, actor=who,
                tolerance=ctx(info).services.settings.progress_tolerance,
            )
            line = (await contract_reads.lines_by_ids(ctx(info).db, who.scope, [data.line_id]))[0]
            return ContractLine.of(line), LineProgress.of(progress)

        done, errors = await act(info, run)
        return RecordProgressPayload(
            line=done[0] if done else None, progress=done[1] if done else None, errors=errors
        )
