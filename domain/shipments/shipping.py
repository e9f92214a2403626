"""What has left the mill: each contract line's shipped tonnes, and the line's and its
contract's status, as legs carrying their coils depart.

A coil has left the mill once it is aboard a leg that has set off, at (or processed by)
the customer (``LEFT_MILL``; settlements weigh the same coils). A line is ``shipped``
once what has left reaches its quantity less ``TOLERANCE`` (a coil is not cut to fit
the last tonnes of an order), ``partially_shipped`` before; its contract is ``shipped``
once every line that is not cancelled is. Statuses only move forward: a line or contract
already shipped, settled, closed or cancelled keeps its status.

Row updates and events are separate steps (``follow_departure`` or ``follow_lines``,
then ``announce``): a
transaction that updates several contracts does so before it appends to the outbox,
whose lock is held to commit, as every writer of contracts does, so that no two
transactions wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from domain import events
from domain.db import Executor

TOLERANCE: Final = Decimal("0.05")
# Statuses a departure may move on from. A contract still `confirmed` (no production
# recorded) keeps its status: the state machine goes through in_production.
_OPEN: Final = ("in_production", "partially_shipped")

LEFT_MILL: Final = """(EXISTS (SELECT 1 FROM leg_coil lc JOIN shipment_leg g ON g.id = lc.leg_id
                WHERE lc.coil_id = c.id
                  AND g.status NOT IN ('planned', 'loading', 'cancelled'))
        OR EXISTS (SELECT 1 FROM coil_location cl JOIN site s ON s.id = cl.site_id
                   WHERE cl.coil_id = c.id AND s.kind = 'customer_warehouse')
        OR EXISTS (SELECT 1 FROM processing_feedback f WHERE f.coil_id = c.id))"""


@dataclass(frozen=True, slots=True)
class ContractMoved:
    """A contract whose status its coils or its invoice moved."""

    contract_id: int
    number: str
    customer_org_id: int
    status: str  # partially_shipped, shipped or settled
    shipped_t: Decimal


async def follow_departure(tx: Executor, leg_ids: Sequence[int]) -> list[ContractMoved]:
    """The legs have set off: update the lines of the coils aboard and their contracts;
    returns the contracts whose status moved (see ``announce``)."""
    if not leg_ids:
        return []
    line_ids = [r["line_id"] for r in await tx.fetch(
        "SELECT DISTINCT c.line_id FROM leg_coil lc JOIN coil c ON c.id = lc.coil_id"
        " WHERE lc.leg_id = ANY($1) AND c.line_id IS NOT NULL", list(leg_ids))]
    return await follow_lines(tx, line_ids)


async def follow_lines(tx: Executor, line_ids: Sequence[int]) -> list[ContractMoved]:
    """Each line's shipped tonnes and status, and its contract's status, as they are now
    (after a departure, or a change of the line's quantity); returns the contracts
    whose status moved (see ``announce``)."""
    if not line_ids:
        return []
    # The contracts first, in id order, as every writer of a contract locks it.
    contracts = [r["id"] for r in await tx.fetch(
        "SELECT id FROM contract WHERE id IN (SELECT contract_id FROM contract_line"
        " WHERE id = ANY($1)) ORDER BY id FOR NO KEY UPDATE", list(line_ids))]
    await tx.execute(
        f"""WITH sums AS (SELECT l.id, coalesce(sum(c.weight_kg), 0) / 1000.0 AS shipped
                         FROM contract_line l LEFT JOIN coil c ON c.line_id = l.id
                          AND {LEFT_MILL}
                         WHERE l.id = ANY($1::bigint[]) GROUP BY l.id)
           UPDATE contract_line l SET shipped_t = round(s.shipped, 3),
                  status = CASE WHEN l.status NOT IN {_OPEN!r} OR s.shipped = 0
                                THEN l.status
                                WHEN s.shipped >= l.quantity_t * (1 - $2::numeric)
                                THEN 'shipped' ELSE 'partially_shipped' END
           FROM sums s WHERE l.id = s.id""", list(line_ids), TOLERANCE)
    moved = await tx.fetch(
        f"""WITH derived AS (
               SELECT l.contract_id,
                      CASE WHEN bool_and(l.status IN ('shipped', 'settled', 'closed'))
                           THEN 'shipped'
                           WHEN bool_or(l.status IN ('partially_shipped', 'shipped', 'settled',
                                                     'closed')) THEN 'partially_shipped'
                      END AS status,  -- NULL: nothing has left yet
                      sum(l.shipped_t) AS shipped_t
               FROM contract_line l WHERE l.contract_id = ANY($1) AND l.status <> 'cancelled'
               GROUP BY l.contract_id)
           UPDATE contract k SET status = d.status, updated_at = now() FROM derived d
           WHERE k.id = d.contract_id AND k.status IN {_OPEN!r} AND k.status <> d.status
             AND d.status IS NOT NULL
           RETURNING k.id, k.number, k.customer_org_id, k.status, d.shipped_t""", contracts)
    return [ContractMoved(r["id"], r["number"], r["customer_org_id"], r["status"],
                            r["shipped_t"]) for r in moved]


async def announce(tx: Executor, moved: Sequence[ContractMoved], *, actor: str) -> None:
    """A ``contract.<status>`` event for each, to its customer."""
    for c in moved:
        await events.append(
            tx, f"contract.{c.status}", org_id=c.customer_org_id, aggregate_type="contract",
            aggregate_id=c.contract_id, actor=actor,
            payload={"contract": c.number, "shipped_t": c.shipped_t})
