"""The customer's credit headroom, as the order enquiry shows it.

Finance keeps each customer's credit limit, receivables and exposure in an area of its
own; the enquiry reads the headroom through :func:`headroom` alone, so that area is
the one place that decides what is shown and to whom. Until it holds a customer's
credit, there is none to show and the answer is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.actor import Actor
from domain.db import Executor


@dataclass(frozen=True, slots=True)
class Headroom:
    currency: str
    # None where the viewer is not shown the figure (a customer, its own limit, unless
    # the mill chooses to show it).
    limit: Decimal | None
    exposure: Decimal
    headroom: Decimal | None


async def headroom(db: Executor, actor: Actor, org_id: int) -> Headroom | None:
    """The customer's credit as ``actor`` may see it; None while finance keeps none."""
    del db, actor, org_id
    return None
