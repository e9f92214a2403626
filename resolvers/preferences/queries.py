"""Queries of the individualized interface: preferences, saved views, the order form."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.contracts import order_lines
from domain.errors import DomainError
from domain.preferences import reads as preference_reads
from domain.preferences import views
from resolvers.common import ctx, customer_of, viewer
from resolvers.preferences.types import CustomerPreferences, OrderForm, SavedView
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    after_id,
    check_first,
    connection,
    expect_id,
)

CUSTOMER_ARG = strawberry.argument(
    description="Global id of the customer (the mill's staff); a customer reads its own.")


async def _customer(info: Info[Any, Any], customer_id: strawberry.ID | None) -> int:
    try:
        return await customer_of(ctx(info).db, await ctx(info).actor(), customer_id)
    except DomainError as exc:
        raise BadInput(exc.message) from None


@strawberry.type
class PreferenceQueries:
    @strawberry.field(description="A customer's preferences: units, language, time zone, "
                      "currency, default delivery site and preferred transport per site.")
    async def preferences(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, CUSTOMER_ARG] = None,
    ) -> CustomerPreferences:
        org = await _customer(info, customer_id)
        db = ctx(info).db
        return CustomerPreferences.of(await preference_reads.preferences(db, org),
                                      await preference_reads.transport_preferences(db, org))

    @strawberry.field(description="The defaults and options of a new order or plan line for "
                      "a customer, from its preferences: each customer's form is its own.")
    async def order_form(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, CUSTOMER_ARG] = None,
        delivery_site_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Defaults for a line to this site; default: the customer's default "
            "site.")] = None,
    ) -> OrderForm:
        org = await _customer(info, customer_id)
        site = expect_id(delivery_site_id, "Site") if delivery_site_id else None
        try:
            return OrderForm.of(await order_lines.order_form(ctx(info).db, org, site))
        except DomainError as exc:
            raise BadInput(exc.message) from None

    @strawberry.field(description="The viewer's own saved views, oldest first.")
    async def saved_views(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(
            description="`endCursor` of the previous page.")] = None,
    ) -> Connection[SavedView]:
        who = await viewer(info)
        check_first(first)
        rows = await views.views_of(ctx(info).db, who.organization.id, who.subject, first + 1,
                                    after_id(after))
        return connection([(SavedView.of(v), [v.id]) for v in rows], first, after is not None)

    @strawberry.field(description="The view the viewer lands on; null when none is set.")
    async def landing_view(self, info: Info[Any, Any]) -> SavedView | None:
        who = await viewer(info)
        found = await views.landing_view(ctx(info).db, who.organization.id, who.subject)
        return SavedView.of(found) if found else None

