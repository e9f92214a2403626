"""The customer's credit headroom, as the order enquiry shows it.

Finance keeps each customer's credit limit, receivables and exposure in an area of its
own (`domain.customers`); the enquiry reads the headroom through :func:`headroom`
alone, so that area is the one place that decides what is shown and to whom: a
customer reads its limit and headroom only where the mill shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.actor import Actor
from domain.customers import reads as customer_reads
from domain.db import Executor
from domain.preferences import reads as preference_reads


@dataclass(frozen=True, slots=True)
class Headroom:
    currency: str
    # None where the viewer is not shown the figure (a customer, its own limit, unless
    # the mill chooses to show it).
    limit: Decimal | None
    exposure: Decimal
    headroom: Decimal | None


async def headroom(db: Executor, actor: Actor, org_id: int) -> Headroom | None:
    """The customer's credit as ``actor`` may see it; None when it is not its to see.
    Without a limit set there is no headroom (and no check)."""
    found = await customer_reads.credit_for(db, actor, org_id)
    if found is None:
        return None
    currency = (await preference_reads.preferences(db, org_id)).currency
    return Headroom(currency, found.limit, found.exposure,
                    None if found.limit is None else found.headroom)
