"""Contracts, their lines and where each line stands, coherent with today's date.

Each contract status maps to what its lines must look like: drafts and cancelled
contracts have no production; confirmed ones are planned; in-production lines sit
at every stage of their route; shipped, settled and closed ones finished in the past.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from domain.contracts.stage_routes import STAGES, route

from . import schedule
from .catalogue import DELIVERY, FAW_VW, GALANZ, SALES_OWNER
from .model import Contract, Line, Org, Site, Spec

STATUSES = ("draft", "confirmed", "in_production", "partially_shipped", "shipped", "settled",
            "closed", "cancelled")
# Share of each status in a mill's open book of key-account contracts.
_STATUS_SHARE = (6, 9, 33, 12, 12, 12, 11, 5)
_CUSTOMER_SHARE = {FAW_VW: 55, GALANZ: 45}
# When the last line finished, in days before today, per status.
# Settled and closed contracts spread over the past year: a year of sales, month by month.
_FINISHED_AGO = {"shipped": (10, 40), "settled": (30, 150), "closed": (50, 360)}
# Prices drift over the year: lower a year ago, with a seasonal swing (per cent).
_DRIFT_PER_YEAR = 6.0
_SWING = 2.0


def allocate(n: int, weights: Sequence[int]) -> list[int]:
    """Split n into counts proportional to weights; every bucket gets one when n allows."""
    total = sum(weights)
    counts = [n * w // total for w in weights]
    if n >= len(weights):
        counts = [max(1, c) for c in counts]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(n * weights[i] % total), i))
    i = 0
    while sum(counts) < n:
        counts[by_remainder[i % len(weights)]] += 1
        i += 1
    while sum(counts) > n:
        j = max(range(len(weights)), key=lambda k: (counts[k], -k))
        counts[j] -= 1
    return counts


class _StagePicker:
    """Hands out current stages so that every stage is someone's current stage."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.uncovered = list(STAGES)

    def pick(self, stages: tuple[str, ...], lowest: int = 0) -> int:
        for stage in self.uncovered:
            if stage in stages and stages.index(stage) >= lowest:
                self.uncovered.remove(stage)
                return stages.index(stage)
        return self.rng.randint(lowest, len(stages) - 1)


def make_contracts(rng: random.Random, n: int, today: date, orgs: dict[str, Org],
                   sites: dict[str, Site], specs: Sequence[Spec]) -> list[Contract]:
    statuses = [s for s, c in zip(STATUSES, allocate(n, _STATUS_SHARE), strict=True)
                for _ in range(c)]
    customers = [c for c, k in zip(_CUSTOMER_SHARE, allocate(n, list(_CUSTOMER_SHARE.values())),
                                   strict=True) for _ in range(k)]
    rng.shuffle(statuses)
    rng.shuffle(customers)
    picker = _StagePicker(rng)
    contracts = [
        _contract(rng, today, orgs[code], status, sites, specs, picker)
        for status, code in zip(statuses, customers, strict=True)
    ]
    # Numbers run in the order contracts were entered, restarting every year.
    contracts.sort(key=lambda c: c.created_at)
    per_year: dict[int, int] = {}
    for contract in contracts:
        year = contract.created_at.year
        per_year[year] = per_year.get(year, 0) + 1
        contract.number = f"BSC-{year}-{per_year[year]:06d}"
    return contracts


def _contract(rng: random.Random, today: date, customer: Org, status: str,
              sites: dict[str, Site], specs: Sequence[Spec], picker: _StagePicker) -> Contract:
    site_code, mode, transit = DELIVERY[customer.code]
    offered = [(s, w) for s in specs for buyer, w in s.d.buyers if buyer == customer.code]
    count = min(rng.choices((1, 2, 3, 4), (45, 30, 17, 8))[0], len(offered))
    chosen: list[Spec] = []
    while len(chosen) < count:
        spec = rng.choices([s for s, _ in offered], [w for _, w in offered])[0]
        if spec not in chosen:
            chosen.append(spec)
    lines = []
    for i, spec in enumerate(chosen, start=1):
        quantity = Decimal(min(600, 50 + 10 * int(rng.expovariate(1 / 50) / 10)))
        lo, hi = spec.d.price
        price = Decimal(rng.randrange(lo, hi + 1, 10))
        lines.append(Line(i, spec, quantity, price, today, today, sites[site_code], mode, transit,
                          "firm", status))
    # Entry times are set by _dates once the lines are scheduled.
    placeholder = datetime.combine(today, time(), schedule.CST)
    contract = Contract(customer, status, lines, SALES_OWNER[customer.code],
                        created_at=placeholder, updated_at=placeholder)
    for line in lines:
        line.contract = contract
    _schedule(rng, today, contract, picker)
    _dates(rng, today, contract)
    _drift(today, contract)
    return contract


def _drift(today: date, contract: Contract) -> None:
    """Each line's price as it stood when the contract was signed: a year ago about
    :data:`_DRIFT_PER_YEAR` per cent lower, swinging with the season; to the ten yuan."""
    signed = contract.signed_on or contract.created_at.date()
    years = (today - signed).days / 365
    factor = 1 - _DRIFT_PER_YEAR / 100 * years + _SWING / 100 * math.sin(
        2 * math.pi * signed.timetuple().tm_yday / 365)
    for line in contract.lines:
        line.unit_price = (line.unit_price * Decimal(str(round(factor, 4))) / 10).quantize(
            Decimal(1)) * 10


def _schedule(rng: random.Random, today: date, contract: Contract, picker: _StagePicker) -> None:
    status, lines = contract.status, contract.lines
    if status in ("draft", "cancelled"):
        low, high = (35, 115) if status == "draft" else (-60, 100)
        first_due = today + timedelta(days=rng.randint(low, high))
        for i, line in enumerate(lines):
            _window(rng, line, first_due + timedelta(days=14 * i))
            if status == "draft" and i >= 2:
                line.firmness = "forecast"
        return
    if status == "confirmed":
        start = today + timedelta(days=rng.randint(-4, 60))
        for i, line in enumerate(lines):
            product = line.spec.d.product
            days = schedule.lead_days(rng, product)
            line.timeline = schedule.planned(product, line.quantity_t,
                                             start + timedelta(days=10 * i), days)
            _due(rng, line, late=False)
        return
    if status == "in_production":
        for line in lines:
            if rng.random() < 0.06:
                _finish(rng, today, line, today - timedelta(days=rng.randint(1, 4)), 0.0)
            else:
                stages = route(line.spec.d.product)
                _run(rng, today, line, picker.pick(stages))
            line.status = "in_production"
        return
    if status == "partially_shipped":
        for i, line in enumerate(lines):
            if i == 0 or rng.random() < 0.4:
                share = 1.0 if i < len(lines) - 1 and rng.random() < 0.6 else rng.uniform(0.3, 0.8)
                ago = rng.randint(6, 25) if share == 1.0 else rng.randint(3, 12)
                _finish(rng, today, line, today - timedelta(days=ago), share)
                line.status = "shipped" if share == 1.0 else "partially_shipped"
            else:
                stages = route(line.spec.d.product)
                _run(rng, today, line, picker.pick(stages, stages.index("finishing")))
                line.status = "in_production"
        return
    low, high = _FINISHED_AGO[status]
    last = today - timedelta(days=rng.randint(low, high))
    for i, line in enumerate(reversed(lines)):
        _finish(rng, today, line, last - timedelta(days=rng.randint(4, 12) * i), 1.0)


def _run(rng: random.Random, today: date, line: Line, stage: int) -> None:
    late = rng.random() < 0.22
    late_by = rng.randint(6, 18) if late else 0
    line.timeline = schedule.running(rng, line.spec.d.product, line.quantity_t, today, stage,
                                     late_by)
    _due(rng, line, late)
    line.events = schedule.events(rng, line.timeline, today)


def _finish(rng: random.Random, today: date, line: Line, on: date, share: float) -> None:
    late = rng.random() < 0.15
    late_by = rng.randint(6, 16) if late else 0
    line.timeline = schedule.finished(rng, line.spec.d.product, line.quantity_t, today, on,
                                      late_by)
    _due(rng, line, late)
    line.events = schedule.events(rng, line.timeline, today)
    line.ship_share = share
    if share > 0:
        line.ship_on = on + timedelta(days=rng.randint(1, 2))


def _due(rng: random.Random, line: Line, late: bool) -> None:
    """Promise delivery from the planned finish plus transit; a late line had little slack."""
    assert line.timeline is not None
    slack = rng.randint(1, 3) if late else rng.randint(5, 12)
    _window(rng, line, line.timeline.planned_finish + timedelta(days=line.transit_days + slack))


def _window(rng: random.Random, line: Line, due: date) -> None:
    line.delivery_to = due
    line.delivery_from = due - timedelta(days=rng.choice((7, 10, 14, 14, 21)))


def _dates(rng: random.Random, today: date, contract: Contract) -> None:
    """Signature, confirmation and bookkeeping times, before anything happened to the lines."""
    starts = [ln.timeline.plans[0].planned_start for ln in contract.lines if ln.timeline]
    if starts:
        signed = min(starts) - timedelta(days=rng.randint(8, 30))
    else:
        first_due = min(ln.delivery_from for ln in contract.lines)
        signed = first_due - timedelta(days=rng.randint(40, 90))
    # Nothing is signed in the future, however far out production is planned.
    signed = min(signed, today - timedelta(days=rng.randint(3, 20)))
    created = datetime.combine(signed - timedelta(days=rng.randint(2, 10)),
                               time(rng.randint(8, 17), rng.randint(0, 59)), schedule.CST)
    contract.created_at = created
    contract.updated_at = created
    if contract.status == "draft":
        return
    if contract.status == "cancelled" and rng.random() < 0.5:
        contract.updated_at = created + timedelta(days=rng.randint(1, 15))
        return
    contract.signed_on = signed
    contract.confirmed_at = schedule.at(signed + timedelta(days=rng.randint(0, 2)), rng, 9, 18)
    reported = [e.recorded_at for ln in contract.lines for e in ln.events]
    contract.updated_at = max([contract.confirmed_at, *reported])
