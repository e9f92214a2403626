"""Where a customer's steel is, per spec, from live data: at the mill in production, made
and waiting, on its way, and in the customer's warehouse. The inventory position the
netting starts from is read here, in one statement for all specs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.db import Executor

ZERO = Decimal(0)

# Shipments whose coils have left the mill but are not yet received.
_OPEN_SHIPMENT = "('loading', 'departed', 'in_transit', 'arrived', 'unloaded', 'exception')"
_OPEN_LINE = "('confirmed', 'in_production', 'partially_shipped')"


@dataclass(frozen=True, slots=True)
class SpecStock:
    spec_id: int
    # Received at the customer's warehouse (receiving scans) less reported consumption.
    warehouse_t: Decimal
    in_transit_t: Decimal
    # Confirmed contract tonnes not yet shipped.
    unshipped_t: Decimal
    # Reported by the customer as reserved for other uses.
    allocated_t: Decimal
    # At the mill: ordered and not yet made, and made, allocated and not yet loaded.
    mill_wip_t: Decimal
    mill_finished_t: Decimal
    next_arrival: datetime | None

    @property
    def inventory_position_t(self) -> Decimal:
        return self.warehouse_t + self.in_transit_t + self.unshipped_t - self.allocated_t


_POSITION_SQL = f"""
WITH specs AS (SELECT DISTINCT unnest($2::bigint[]) AS spec_id),
mine AS (
    SELECT c.id, l.spec_id, c.weight_kg / 1000 AS t, c.line_id,
           EXISTS (SELECT 1 FROM scan_event e JOIN site s ON s.id = e.site_id
                   WHERE e.coil_id = c.id AND e.step = 'receiving'
                     AND s.kind = 'customer_warehouse' AND s.org_id = $1) AS received,
           EXISTS (SELECT 1 FROM leg_coil lc JOIN shipment_leg g ON g.id = lc.leg_id
                   JOIN shipment sh ON sh.id = g.shipment_id
                   WHERE lc.coil_id = c.id AND sh.status IN {_OPEN_SHIPMENT}) AS moving,
           EXISTS (SELECT 1 FROM leg_coil lc WHERE lc.coil_id = c.id) AS loaded
    FROM coil c JOIN contract_line l ON l.id = c.line_id
    WHERE c.customer_org_id = $1 AND l.spec_id = ANY($2::bigint[])
),
coils AS (
    SELECT spec_id,
           coalesce(sum(t) FILTER (WHERE received), 0) AS received_t,
           coalesce(sum(t) FILTER (WHERE moving AND NOT received), 0) AS in_transit_t,
           coalesce(sum(t) FILTER (WHERE NOT loaded AND NOT received), 0) AS finished_t
    FROM mine GROUP BY spec_id
),
made AS (
    SELECT line_id, sum(t) AS t FROM mine GROUP BY line_id
),
lines AS (
    SELECT l.spec_id,
           sum(l.quantity_t - l.shipped_t) AS unshipped_t,
           sum(greatest(0, l.quantity_t - coalesce(m.t, 0))) AS wip_t
    FROM contract_line l LEFT JOIN made m ON m.line_id = l.id
    WHERE l.customer_org_id = $1 AND l.spec_id = ANY($2::bigint[]) AND l.status IN {_OPEN_LINE}
    GROUP BY l.spec_id
),
reports AS (
    SELECT spec_id, sum(consumed_t) AS consumed_t,
           (array_agg(allocated_t ORDER BY id DESC) FILTER (WHERE allocated_t IS NOT NULL))[1]
               AS allocated_t
    FROM stock_report WHERE customer_org_id = $1 AND spec_id = ANY($2::bigint[])
    GROUP BY spec_id
),
arrivals AS (
    SELECT m.spec_id, min(coalesce(g.eta, g.planned_arrival)) AS next_arrival
    FROM mine m JOIN leg_coil lc ON lc.coil_id = m.id JOIN shipment_leg g ON g.id = lc.leg_id
    JOIN site s ON s.id = g.destination_site_id
    WHERE NOT m.received AND g.status NOT IN ('arrived', 'unloaded', 'received', 'cancelled')
      AND s.org_id = $1
    GROUP BY m.spec_id
)
SELECT s.spec_id,
       greatest(0, coalesce(c.received_t, 0) - coalesce(r.consumed_t, 0)) AS warehouse_t,
       coalesce(c.in_transit_t, 0) AS in_transit_t,
       coalesce(l.unshipped_t, 0) AS unshipped_t,
       coalesce(r.allocated_t, 0) AS allocated_t,
       coalesce(l.wip_t, 0) AS mill_wip_t,
       coalesce(c.finished_t, 0) AS mill_finished_t,
       a.next_arrival
FROM specs s
LEFT JOIN coils c ON c.spec_id = s.spec_id
LEFT JOIN lines l ON l.spec_id = s.spec_id
LEFT JOIN reports r ON r.spec_id = s.spec_id
LEFT JOIN arrivals a ON a.spec_id = s.spec_id
ORDER BY s.spec_id
"""


async def stock_by_spec(
    db: Executor, customer_org_id: int, spec_ids: Sequence[int]
) -> dict[int, SpecStock]:
    rows = await db.fetch(_POSITION_SQL, customer_org_id, list(spec_ids))
    kg = Decimal("0.001")
    out = {}
    for r in rows:
        values: dict[str, Any] = {
            k: (v.quantize(kg) if isinstance(v, Decimal) else v) for k, v in dict(r).items()}
        out[r["spec_id"]] = SpecStock(**values)
    return out
