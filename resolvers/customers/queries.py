"""Reading a customer's overview and the credit approvals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.customers import reads as domain
from domain.errors import DomainError
from resolvers.common import ctx, customer_id_of, viewer
from resolvers.customers.types import CreditApproval, CreditApprovalStatus, CustomerOverview
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    after_id,
    check_first,
    connection,
)


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="One customer at a glance: sales, prices, open and late "
                      "contracts, claims, urges and credit. The mill's staff name the "
                      "customer; a customer reads its own (naming another: null). The "
                      "period is at most 731 days, by default the year to today.")
    async def customer_overview(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="The customer's global id (staff: required).")] = None,
        since: Annotated[dt.date | None, strawberry.argument(
            description="First day of the period (the mill's calendar).")] = None,
        until: Annotated[dt.date | None, strawberry.argument(
            description="Last day of the period; default today.")] = None,
    ) -> CustomerOverview | None:
        await viewer(info)
        try:
            period = domain.Period.of(since, until)
        except DomainError as exc:
            raise BadInput(exc.message) from None
        found = await domain.overview_of(ctx(info).db, await ctx(info).actor(),
                                         customer_id_of(customer_id), period)
        if found is None:
            return None
        return CustomerOverview(since=period.since, until=period.until, o=found)

    @strawberry.field(description="Contracts held for finance's approval because they would "
                      "go beyond their customer's credit headroom, oldest first (finance, "
                      "sales and admins; anyone else: none).")
    async def credit_approvals(
        self, info: Info[Any, Any],
        status: Annotated[list[CreditApprovalStatus] | None, strawberry.argument(
            description="Only these states.")] = None,
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only this customer's.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
        = None,
    ) -> Connection[CreditApproval]:
        await viewer(info)
        check_first(first)
        rows = await domain.list_approvals(
            ctx(info).db, await ctx(info).actor(), statuses=[s.name.lower() for s in status or []],
            customer_org_id=customer_id_of(customer_id), limit=first + 1,
            after_id=after_id(after))
        return connection([(CreditApproval.of(a), [a.id]) for a in rows], first,
                          after is not None)
