"""The credit limits finance set: FAW-VW's close to what it uses (little headroom left,
so a large new contract waits for finance's approval), GALANZ's with room to spare and
shown to it. Set last, from the figures the rest of the demo left."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal

from domain.customers.credit import credit_of
from domain.db import Transaction

from .build import DemoData
from .catalogue import FAW_VW, GALANZ

# Who set them: finance's head (a token subject).
SET_BY = "finance.li"
# Limit over what is used (receivables and exposure), rounded up to a hundred thousand.
_MARGIN = {FAW_VW: Decimal("1.03"), GALANZ: Decimal("1.6")}
_SHOWN = {FAW_VW: False, GALANZ: True}
_STEP = Decimal(100_000)


async def write(tx: Transaction, data: DemoData, step: Callable[[str], None]) -> None:
    ids = {code: data.orgs[code].id for code in _MARGIN}
    figures = await credit_of(tx, list(ids.values()))
    rows = []
    for code, org in ids.items():
        used = figures[org].receivables + figures[org].exposure
        limit = ((used * _MARGIN[code]) / _STEP).to_integral_value(ROUND_CEILING) * _STEP
        rows.append((org, max(limit, _STEP), _SHOWN[code], SET_BY))
    await tx.executemany(
        "INSERT INTO customer_credit (customer_org_id, credit_limit, shown_to_customer, set_by)"
        " VALUES ($1, $2, $3, $4)", rows)
    step("credit limits: " + ", ".join(f"{c} {r[1]}" for c, r in zip(ids, rows, strict=True)))
