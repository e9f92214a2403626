"""Who may take each planning step, beside the purchase plan's transitions
(:data:`domain.planning.plans.TRANSITIONS`): the customer (or sales for it) keeps the
inputs and computes, the customer submits, sales decides and sets how a customer plans."""

from __future__ import annotations

from domain import parties
from domain.actor import Actor, Permissions
from domain.db import Executor

CUSTOMER_SIDE = ("customer", "sales", "admin")
SALES = ("sales", "admin")

PERMISSIONS = Permissions({
    "compute": CUSTOMER_SIDE,
    "submit": ("customer",),
    "approve": SALES,
    "reject": SALES,
    "answer_change": SALES,
    "share_plan": CUSTOMER_SIDE,
    "set_consumption": CUSTOMER_SIDE,
    "set_spec_params": CUSTOMER_SIDE,
    "set_transport_cycle": CUSTOMER_SIDE,
    "report_stock": CUSTOMER_SIDE,
    "import": CUSTOMER_SIDE,
    "set_profile": SALES,
    "set_plan_format": SALES,
})


def check(actor: Actor, action: str, org_id: int | None = None) -> None:
    """Refuse ``actor`` unless it may take ``action`` (for customer ``org_id``)."""
    PERMISSIONS.check(actor, action)
    if org_id is not None:
        actor.check_acts_for(org_id)


async def customer_for(
    db: Executor, actor: Actor, action: str, customer_org_id: int | None
) -> int:
    """The customer ``actor`` takes ``action`` for, once it may take it at all."""
    PERMISSIONS.check(actor, action)
    return await parties.customer_acted_for(db, actor, customer_org_id)
