"""Hotline mutations: the customer urges a line; the mill acknowledges, promises, resolves;
an admin sets the escalation chain."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.hotline import escalation
from domain.hotline import writes as hotline
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.hotline.queries import EscalationContact
from resolvers.hotline.types import UrgeTicket
from resolvers.relay import expect_id


@strawberry.input(description="The customer says what is late and when it needs it.")
class UrgeContractLineInput:
    line_id: strawberry.ID = strawberry.field(description="Global id of the contract line.")
    reason: str = strawberry.field(description="What is late and why it matters.")
    needed_by: dt.date = strawberry.field(description="The date the steel is needed by.")


@strawberry.input(description="The mill takes an urge up.")
class AcknowledgeUrgeInput:
    ticket_id: strawberry.ID = strawberry.field(description="Global id of the urge ticket.")
    note: str | None = strawberry.field(default=None, description="A word to the customer.")


@strawberry.input(description="The mill promises a date (again, to revise a promise).")
class PromiseUrgeInput:
    ticket_id: strawberry.ID = strawberry.field(description="Global id of the urge ticket.")
    promised_date: dt.date = strawberry.field(description="The date the mill commits to.")
    note: str | None = strawberry.field(default=None, description="How it will be done.")


@strawberry.input(description="The mill closes a promised urge.")
class ResolveUrgeInput:
    ticket_id: strawberry.ID = strawberry.field(description="Global id of the urge ticket.")
    resolution: str = strawberry.field(description="What was done.")


@strawberry.input(description="Replace an escalation chain, first person first.")
class SetEscalationChainInput:
    subjects: list[str] = strawberry.field(
        description="Mill users (token subjects) at levels 1, 2, ...; empty clears it.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="This customer's own chain; default: the general one.")
    tier: str | None = strawberry.field(
        default=None, description="This tier's chain (`key`, ...), for its customers "
        "without a chain of their own; not with `customerId`.")


@strawberry.type(description="Result of an urge ticket mutation.")
class UrgePayload:
    ticket: UrgeTicket | None = strawberry.field(description="The ticket after the change.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="Result of `setEscalationChain`.")
class SetEscalationChainPayload:
    chain: list[EscalationContact] | None = strawberry.field(
        description="The chain as it now applies.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _payload(found: hotline.UrgeTicket | None, errors: list[UserError]) -> UrgePayload:
    return UrgePayload(ticket=UrgeTicket.of(found) if found else None, errors=errors)


@strawberry.type
class HotlineMutations:
    @strawberry.mutation(description="Urge a late contract line (the customer; sales may "
                         "record one taken by phone). The line's owner at the mill hears of "
                         "it at once; urging a line with an open ticket adds to that ticket.")
    async def urge_contract_line(
        self, info: Info[Any, Any], input: Annotated[UrgeContractLineInput, INPUT],
    ) -> UrgePayload:
        async def run(who: Actor) -> hotline.UrgeTicket:
            minutes = ctx(info).services.settings.urge_answer_minutes
            return await hotline.open_urge(
                ctx(info).db, who, line_id=expect_id(input.line_id, "ContractLine"),
                reason=input.reason, needed_by=input.needed_by,
                answer_within=dt.timedelta(minutes=minutes))

        return _payload(*await act(info, run))

    @strawberry.mutation(description="The mill takes an urge up (roles: sales, production, "
                         "logistics, admin); a promised date is owed next.")
    async def acknowledge_urge(
        self, info: Info[Any, Any], input: Annotated[AcknowledgeUrgeInput, INPUT],
    ) -> UrgePayload:
        async def run(who: Actor) -> hotline.UrgeTicket:
            return await hotline.acknowledge(
                ctx(info).db, expect_id(input.ticket_id, "UrgeTicket"), actor=who,
                note=input.note)

        return _payload(*await act(info, run))

    @strawberry.mutation(description="The mill promises a date for an acknowledged urge, or "
                         "revises its promise (roles: sales, production, logistics, admin).")
    async def promise_urge(
        self, info: Info[Any, Any], input: Annotated[PromiseUrgeInput, INPUT],
    ) -> UrgePayload:
        async def run(who: Actor) -> hotline.UrgeTicket:
            return await hotline.promise(
                ctx(info).db, expect_id(input.ticket_id, "UrgeTicket"),
                promised_date=input.promised_date, actor=who, note=input.note)

        return _payload(*await act(info, run))

    @strawberry.mutation(description="The mill resolves a promised urge (roles: sales, "
                         "production, logistics, admin).")
    async def resolve_urge(
        self, info: Info[Any, Any], input: Annotated[ResolveUrgeInput, INPUT],
    ) -> UrgePayload:
        async def run(who: Actor) -> hotline.UrgeTicket:
            return await hotline.resolve(
                ctx(info).db, expect_id(input.ticket_id, "UrgeTicket"),
                resolution=input.resolution, actor=who)

        return _payload(*await act(info, run))

    @strawberry.mutation(description="Set who hears of an unanswered urge after the sales "
                         "owner, in general, for a tier or for one customer (role: admin).")
    async def set_escalation_chain(
        self, info: Info[Any, Any], input: Annotated[SetEscalationChainInput, INPUT],
    ) -> SetEscalationChainPayload:
        async def run(who: Actor) -> list[EscalationContact]:
            org = expect_id(input.customer_id, "Organization") if input.customer_id else None
            chain = await escalation.configure_escalation(
                ctx(info).db, who, org, input.subjects, input.tier)
            return [EscalationContact.of(c) for c in chain]

        chain, errors = await act(info, run)
        return SetEscalationChainPayload(chain=chain, errors=errors)
