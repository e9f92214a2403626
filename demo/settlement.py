"""Settlements of the contracts whose goods have all left the mill.

One settlement per contract. The table holds a single unit price, so a contract
with several lines is settled at the tonnage-weighted price of its lines; goods are
the actual (weighed) tonnes at that price, rounded to the cent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .model import Contract, Settlement
from .schedule import CST

D = Decimal
_CENT = D("0.01")
_TONNE = D("0.001")
# Freight per tonne to the customer's door: rail to Changchun, river-sea to Foshan.
_FREIGHT = {"rail": (185, 235), "water": (120, 160), "road": (60, 90)}


def settle(rng: random.Random, contracts: Sequence[Contract], today: date) -> list[Settlement]:
    out: list[Settlement] = []
    per_year: dict[int, int] = {}
    ready = [c for c in contracts if c.status in ("shipped", "settled", "closed")]
    for contract in sorted(ready, key=lambda c: c.number):
        shipped = [ln for ln in contract.lines if ln.shipped_t > 0]
        if not shipped:
            continue
        actual = sum((ln.shipped_t for ln in shipped), D(0)).quantize(_TONNE)
        price = (sum((ln.shipped_t * ln.unit_price for ln in shipped), D(0)) / actual
                 ).quantize(_CENT, rounding=ROUND_HALF_UP)
        theoretical = (actual * D(str(rng.uniform(0.994, 1.006)))).quantize(_TONNE)
        goods = (actual * price).quantize(_CENT, rounding=ROUND_HALF_UP)
        extra = D(rng.choice((0, 0, 30, 50, 80, 120)))
        surcharges = (actual * extra).quantize(_CENT)
        lo, hi = _FREIGHT[contract.lines[0].transport_mode]
        freight = (actual * D(rng.randint(lo, hi))).quantize(_CENT)
        deductions = D(0)
        if contract.status != "shipped" and rng.random() < 0.1:
            deductions = D(rng.randint(3_000, 40_000))
        last_ship = max(ln.ship_on for ln in shipped if ln.ship_on is not None)
        issued = last_ship + timedelta(days=rng.randint(3, 8))
        status, issued_on, paid_on = _invoice(rng, contract.status, issued, today)
        due_on = None if issued_on is None else issued_on + timedelta(days=30)
        if status == "issued" and due_on is not None and due_on < today:
            status = "overdue"
        created = min(issued, today - timedelta(days=1))
        per_year[created.year] = per_year.get(created.year, 0) + 1
        number = f"BSS-{created.year}-{per_year[created.year]:06d}"
        settlement = Settlement(
            number, contract, theoretical, actual, price, goods, surcharges, freight,
            deductions, status, issued_on, due_on, paid_on,
            datetime.combine(created, time(10, rng.randint(0, 59)), CST),
        )
        settlement.payments = _payments(rng, settlement, today)
        out.append(settlement)
        changed = paid_on or issued_on or created
        contract.updated_at = max(contract.updated_at,
                                  datetime.combine(changed, time(17, 30), CST))
    return out


def _payments(rng: random.Random, s: Settlement, today: date
              ) -> list[tuple[str, Decimal, date]]:
    """What the ERP received: a paid invoice in one transfer, or a third of them in two
    (the second on the day it was paid); a fifth of the overdue ones in part."""
    total = s.goods + s.surcharges + s.freight - s.deductions
    if s.issued_on is None or total <= 0:
        return []
    ref = f"PAY-{s.number}"
    if s.invoice_status == "paid" and s.paid_on is not None:
        span = (s.paid_on - s.issued_on).days
        if span > 2 and rng.random() < 0.33:
            first = (total * D(rng.choice((30, 40, 50))) / 100).quantize(_CENT)
            early = s.issued_on + timedelta(days=rng.randint(1, span - 1))
            return [(f"{ref}-1", first, early), (f"{ref}-2", total - first, s.paid_on)]
        return [(f"{ref}-1", total, s.paid_on)]
    if s.invoice_status == "overdue" and rng.random() < 0.2:
        part = (total * D(rng.randint(25, 70)) / 100).quantize(_CENT)
        on = min(today - timedelta(days=1),
                 s.issued_on + timedelta(days=rng.randint(10, 40)))
        if on >= s.issued_on:
            return [(f"{ref}-1", part, on)]
    return []


def _invoice(rng: random.Random, contract_status: str, issued: date, today: date
             ) -> tuple[str, date | None, date | None]:
    """Invoice state, issue date and payment date, never in the future."""
    if issued >= today or (contract_status == "shipped" and rng.random() < 0.6):
        return "draft", None, None
    if contract_status == "shipped":
        return "issued", issued, None
    # Most pay within the 30 days; a fifth late.
    late = rng.random() < 0.2
    paid = issued + timedelta(days=rng.randint(31, 60) if late else rng.randint(15, 30))
    if contract_status == "closed" or (paid < today and rng.random() < 0.7):
        return "paid", issued, min(paid, today - timedelta(days=1))
    return "issued", issued, None
