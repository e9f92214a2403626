"""Whose preferences a request is about: a customer's own, or the one staff name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from domain.db import Executor
from domain.errors import Invalid, NotFound
from resolvers.relay import expect_id

if TYPE_CHECKING:
    from api.context import Viewer


async def customer_of(db: Executor, who: Viewer, customer_id: strawberry.ID | None) -> int:
    """A customer acts for itself (naming another is not found); the mill's staff name
    the customer they act for."""
    if who.is_customer:
        if customer_id is not None and expect_id(customer_id, "Organization") != \
                who.organization.id:
            raise NotFound("no such customer", field="customerId")
        return who.organization.id
    if customer_id is None:
        raise Invalid("say which customer: give customerId", field="customerId")
    org = expect_id(customer_id, "Organization")
    if await db.fetchval("SELECT kind FROM organization WHERE id = $1", org) != "customer":
        raise NotFound("no such customer", field="customerId")
    return org
