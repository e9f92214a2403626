"""Hotline queries: the viewer's urge tickets, and the escalation chain."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.hotline import escalation
from domain.hotline import reads as hotline_reads
from resolvers.common import ctx, viewer
from resolvers.hotline.loaders import TicketByIdLoader
from resolvers.hotline.types import UrgeStatus, UrgeTicket
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    after_id,
    check_first,
    connection,
    expect_id,
)


@strawberry.input(description="Narrows `urgeTickets`; all given conditions must hold.")
class UrgeTicketFilter:
    status: list[UrgeStatus] | None = strawberry.field(
        default=None, description="Any of these states.")
    assigned_to_me: bool = strawberry.field(
        default=False, description="Only tickets the viewer (a mill user) must answer now.")
    overdue_only: bool = strawberry.field(
        default=False, description="Only tickets whose next answer is late.")
    line_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only tickets of this contract line.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only tickets of this customer (for the mill's staff).")


@strawberry.type(description="One person of the escalation chain.")
class EscalationContact:
    level: int = strawberry.field(description="1 hears first after the sales owner, then 2...")
    subject: str = strawberry.field(description="The mill user (token subject).")
    customer_specific: bool = strawberry.field(
        description="Set for this customer, rather than its tier's or the general chain.")
    tier: str | None = strawberry.field(
        description="The tier whose chain it belongs to, if it is a tier's.")

    @classmethod
    def of(cls, c: escalation.ChainLink) -> EscalationContact:
        return cls(level=c.level, subject=c.subject, customer_specific=c.own, tier=c.tier)


@strawberry.type
class HotlineQueries:
    @strawberry.field(description="Urge tickets, newest first: a customer's own; the mill's "
                      "staff see all (`assignedToMe` for those they must answer).")
    async def urge_tickets(
        self, info: Info[Any, Any],
        filter: Annotated[UrgeTicketFilter | None, strawberry.argument(
            description="Conditions the tickets must meet.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(
            description="`endCursor` of the previous page.")] = None,
    ) -> Connection[UrgeTicket]:
        who = await viewer(info)
        check_first(first)
        f = filter or UrgeTicketFilter()
        if f.assigned_to_me and who.is_customer:
            raise BadInput("`assignedToMe` is for the mill's staff")
        flt = hotline_reads.TicketFilter(
            statuses=[s.value for s in f.status or []],
            assignee=who.subject if f.assigned_to_me else None,
            overdue_at=dt.datetime.now(dt.UTC) if f.overdue_only else None,
            line_id=expect_id(f.line_id, "ContractLine") if f.line_id else None,
            customer_org_id=expect_id(f.customer_id, "Organization") if f.customer_id else None,
        )
        rows = await hotline_reads.list_tickets(ctx(info).db, who.scope, flt, first + 1,
                                                after_id(after))
        cache = ctx(info).loaders.get(TicketByIdLoader)
        for row in rows:
            cache.prime(row.id, row)
        return connection([(UrgeTicket.of(t), [t.id]) for t in rows], first, after is not None)

    @strawberry.field(description="Who hears of an unanswered urge after the sales owner, "
                      "level by level (the mill's staff only; empty for customers).")
    async def escalation_chain(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="The chain as it applies to this customer (its own contacts, then its "
            "tier's, then the general ones); default: the general chain.")] = None,
        tier: Annotated[str | None, strawberry.argument(
            description="The chain as it applies to this tier's customers.")] = None,
    ) -> list[EscalationContact]:
        who = await viewer(info)
        if who.is_customer:
            return []
        org = expect_id(customer_id, "Organization") if customer_id else None
        chain = await escalation.escalation_chain(ctx(info).db, org, tier)
        return [EscalationContact.of(c) for c in chain]
