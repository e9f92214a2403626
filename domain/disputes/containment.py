"""Containment: the material a dispute puts under suspicion, and where it is now.

The suspects of a dispute are the other coils of the heats of its coils; those cut or
slit from the same parent coil as a disputed coil are marked as its siblings. For each,
one statement says where it is (at the mill, in transit, at a customer's warehouse, or
consumed) and which contract line it serves, so that quality staff can stop it before it
reaches a line. A customer sees only its own suspect coils.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.db import Executor
from domain.tenancy import Scope

# Consumed: slit, cut or rolled into other coils at the mill, or reported processed by
# the customer. In transit: aboard a vehicle, or at a port or rail station on the way.
_WHERE_NOW = """CASE
    WHEN EXISTS (SELECT 1 FROM genealogy_edge k WHERE k.parent_coil_id = c.id)
      OR EXISTS (SELECT 1 FROM processing_feedback f WHERE f.coil_id = c.id) THEN 'consumed'
    WHEN cl.vehicle_id IS NOT NULL OR s.kind IN ('port', 'rail_station') THEN 'in_transit'
    WHEN s.kind = 'customer_warehouse' THEN 'at_customer'
    ELSE 'at_mill' END"""


@dataclass(frozen=True, slots=True)
class Suspect:
    coil_id: int
    coil_no: str
    heat_id: int
    same_parent: bool
    where_now: str
    site_id: int | None
    vehicle_id: int | None
    since: datetime | None
    quality_status: str
    line_id: int | None
    contract_id: int | None
    customer_org_id: int | None


async def suspects(
    db: Executor, scope: Scope, dispute_id: int, *, limit: int, after_id: int | None
) -> list[Suspect]:
    """One page of the dispute's suspect coils in coil id order."""
    pages = await suspect_pages(db, scope, [dispute_id], limit, after_id)
    return pages.get(dispute_id, [])


async def suspect_pages(
    db: Executor, scope: Scope, dispute_ids: Sequence[int], limit: int, after_id: int | None
) -> dict[int, list[Suspect]]:
    """One page of suspect coils for each of these disputes, in one statement."""
    rows = await db.fetch(
        "SELECT x.dispute AS for_dispute, p.* FROM unnest($2::bigint[]) AS x(dispute)"
        f" CROSS JOIN LATERAL ({suspects_of('x.dispute', '$3', '$4')}) p",
        scope.org_id, list(dispute_ids), after_id or 0, limit)
    out: dict[int, list[Suspect]] = {}
    for r in rows:
        values = dict(r)
        out.setdefault(values.pop("for_dispute"), []).append(Suspect(**values))
    return out


def suspects_of(dispute: str, after: str, limit: str) -> str:
    """The statement of one page of a dispute's suspect coils (``dispute`` its id, up to
    ``limit`` coils past the id ``after``, in coil order), under the rules of the scope
    in ``$1``: the dispute's and the coils' owner."""
    return f"""SELECT c.id AS coil_id, c.coil_no, c.heat_id,
                     EXISTS (SELECT 1 FROM dispute_coil dn JOIN genealogy_edge g1
                               ON g1.child_coil_id = dn.coil_id
                               AND g1.parent_coil_id IS NOT NULL
                             JOIN genealogy_edge g2 ON g2.parent_coil_id = g1.parent_coil_id
                             WHERE dn.dispute_id = {dispute} AND g2.child_coil_id = c.id)
                       AS same_parent,
                     {_WHERE_NOW} AS where_now, cl.site_id, cl.vehicle_id, cl.since,
                     c.quality_status, c.line_id, l.contract_id, c.customer_org_id
              FROM coil c
              LEFT JOIN coil_location cl ON cl.coil_id = c.id
              LEFT JOIN site s ON s.id = cl.site_id
              LEFT JOIN contract_line l ON l.id = c.line_id
              WHERE c.heat_id IN (
                      SELECT n.heat_id FROM dispute_coil dc JOIN coil n ON n.id = dc.coil_id
                      JOIN quality_dispute d ON d.id = dc.dispute_id
                      WHERE dc.dispute_id = {dispute} AND {Scope.owned('d.customer_org_id')})
                AND c.id NOT IN (SELECT dx.coil_id FROM dispute_coil dx
                                 WHERE dx.dispute_id = {dispute})
                AND {Scope.owned('c.customer_org_id')}
                AND c.id > {after}
              ORDER BY c.id LIMIT {limit}"""
