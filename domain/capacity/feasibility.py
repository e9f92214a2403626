"""The check a contract's lines pass when they are confirmed: can each be made in its
window, against the capacity the stages have left?

A line is planned as confirmation plans it (from today to its window's start less its
transit days, never sooner than the shortest route). It is feasible when that plan fits
what the stages have left after every other confirmed line (and the contract's earlier
lines) and it arrives by the window's last day. Confirmation takes an infeasible line
only when the mill's staff say so (``accept_infeasible``); either way the finding is
kept on the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from domain.capacity import atp
from domain.capacity import reads as capacity_reads
from domain.contracts.model import ContractLine, production_finish
from domain.contracts.stage_routes import plan_stages
from domain.db import Executor
from domain.errors import Infeasible

# Two confirmations judge the capacity left one after the other.
_LOCK_ID = 0x4B4C41545021  # "KLATP!"
# Shortfalls named in a line's reason; more are summed up.
_NAMED = 3


@dataclass(frozen=True, slots=True)
class LineFeasibility:
    line_id: int
    line_no: int
    feasible: bool
    earliest_delivery: date | None
    reason: str | None


async def check_lines(tx: Executor, lines: Sequence[ContractLine],
                      today: date) -> list[LineFeasibility]:
    """Each line against the capacity left, in line order, each taking its share."""
    await tx.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
    until = today + atp.HORIZON + timedelta(days=7)
    capacity = await capacity_reads.capacity(tx, atp.monday(today), atp.monday(until))
    booked = await capacity_reads.booked(tx, today, until, [x.id for x in lines])
    products = {r["id"]: r["product"] for r in await tx.fetch(
        "SELECT id, product FROM steel_spec WHERE id = ANY($1::bigint[])",
        sorted({x.spec_id for x in lines}))}
    out = []
    for line in sorted(lines, key=lambda x: x.line_no):
        product = products[line.spec_id]
        transit = timedelta(days=line.transit_days)
        finish = production_finish(today, line.delivery_from, line.transit_days)
        answer = atp.check(product, line.quantity_t, today, finish=finish,
                           latest_finish=line.delivery_to - transit, capacity=capacity,
                           booked=booked)
        atp.add(booked, atp.spread(plan_stages(product, line.quantity_t, today, finish)))
        earliest = None if answer.earliest_finish is None else answer.earliest_finish + transit
        reason = None
        if not answer.feasible:
            parts = (answer.reason or "").split("; ")
            reason = "; ".join(parts[:_NAMED + 1]) + (
                f"; and {len(parts) - _NAMED - 1} more" if len(parts) > _NAMED + 1 else "")
        out.append(LineFeasibility(line.id, line.line_no, bool(answer.feasible), earliest,
                                   reason))
    return out


def refusal(found: Sequence[LineFeasibility], total: int) -> Infeasible | None:
    """The refusal for the infeasible lines among ``found``, if any."""
    bad = [x for x in found if not x.feasible]
    if not bad:
        return None
    said = "; ".join(
        f"line {x.line_no}: {x.reason}, earliest delivery "
        f"{x.earliest_delivery.isoformat() if x.earliest_delivery else 'none in sight'}"
        for x in bad)
    return Infeasible(
        f"{len(bad)} of {total} lines cannot be made in their windows ({said}); confirm "
        "with acceptInfeasible to take them as they are", field="acceptInfeasible")


async def record(tx: Executor, customer_org_id: int, found: Sequence[LineFeasibility],
                 accepted_by: str | None) -> None:
    """Keep what the check found on each line (replacing an earlier finding)."""
    await tx.executemany(
        "INSERT INTO contract_line_feasibility (line_id, customer_org_id, feasible,"
        " earliest_delivery, reason, accepted_by) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (line_id) DO UPDATE SET feasible = EXCLUDED.feasible,"
        " earliest_delivery = EXCLUDED.earliest_delivery, reason = EXCLUDED.reason,"
        " accepted_by = EXCLUDED.accepted_by, checked_at = now()",
        [(x.line_id, customer_org_id, x.feasible, x.earliest_delivery, x.reason,
          None if x.feasible else accepted_by) for x in found])
