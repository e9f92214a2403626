"""Heats, slabs, coils and the genealogy that links them.

Who sees what: a customer sees the coils allocated to its contract lines, the heats
and slabs those coils came from, and nothing of other customers' coils. The trace of
its coil still shows the mill's intermediate material (the hot-rolled mother coil) as
genealogy links, without opening those coils themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.db import Executor, decimals
from domain.tenancy import Scope


@dataclass(frozen=True, slots=True)
class Heat:
    id: int
    heat_no: str
    grade: str
    site_id: int | None
    tapped_at: datetime
    weight_t: Decimal
    chemistry: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Slab:
    id: int
    slab_no: str
    heat_id: int
    weight_kg: Decimal
    thickness_mm: Decimal
    width_mm: Decimal
    length_mm: Decimal
    cast_at: datetime


@dataclass(frozen=True, slots=True)
class Coil:
    id: int
    coil_no: str
    kind: str
    heat_id: int
    slab_id: int | None
    spec_id: int | None
    line_id: int | None
    customer_org_id: int | None
    thickness_mm: Decimal
    width_mm: Decimal
    weight_kg: Decimal
    quality_status: str
    produced_at: datetime


@dataclass(frozen=True, slots=True)
class GenealogyLink:
    """One transformation: parent material in, child coil out."""

    id: int
    operation: str
    parent_slab_id: int | None
    parent_coil_id: int | None
    parent_number: str
    parent_kind: str
    child_coil_id: int
    child_number: str
    child_kind: str
    input_weight_kg: Decimal
    output_weight_kg: Decimal
    occurred_at: datetime
    # Depth from the coil the trace started at (1 = direct parent or child).
    depth: int


_HEAT_COLS = "h.id, h.heat_no, h.grade, h.site_id, h.tapped_at, h.weight_t, h.chemistry"
_SLAB_COLS = (
    "s.id, s.slab_no, s.heat_id, s.weight_kg, s.thickness_mm, s.width_mm, s.length_mm, s.cast_at"
)
COIL_COLS = (
    "c.id, c.coil_no, c.kind, c.heat_id, c.slab_id, c.spec_id, c.line_id, c.customer_org_id,"
    " c.thickness_mm, c.width_mm, c.weight_kg, c.quality_status, c.produced_at"
)


def _heat(row: Any) -> Heat:
    values = dict(row)
    values["chemistry"] = decimals(values["chemistry"])
    return Heat(**values)


async def _heats(db: Executor, scope: Scope, where: str, keys: Sequence[Any]) -> list[Heat]:
    rows = await db.fetch(
        f"SELECT {_HEAT_COLS} FROM heat h WHERE {where} AND {Scope.heat('h')}",
        scope.org_id, list(keys),
    )
    return [_heat(r) for r in rows]


async def heats_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Heat]:
    return await _heats(db, scope, "h.id = ANY($2::bigint[])", ids)


async def heats_by_numbers(db: Executor, scope: Scope, numbers: Sequence[str]) -> list[Heat]:
    return await _heats(db, scope, "h.heat_no = ANY($2::text[])", numbers)


async def slabs_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Slab]:
    rows = await db.fetch(
        f"SELECT {_SLAB_COLS} FROM slab s WHERE s.id = ANY($2::bigint[])"
        f" AND {Scope.slab('s')}",
        scope.org_id, list(ids),
    )
    return [Slab(**dict(r)) for r in rows]


async def _coils(db: Executor, scope: Scope, where: str, keys: Sequence[Any]) -> list[Coil]:
    rows = await db.fetch(
        f"SELECT {COIL_COLS} FROM coil c WHERE {where} AND {Scope.owned('c.customer_org_id')}",
        scope.org_id, list(keys),
    )
    return [Coil(**dict(r)) for r in rows]


async def coils_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Coil]:
    return await _coils(db, scope, "c.id = ANY($2::bigint[])", ids)


async def coils_by_numbers(db: Executor, scope: Scope, numbers: Sequence[str]) -> list[Coil]:
    return await _coils(db, scope, "c.coil_no = ANY($2::text[])", numbers)


async def coil_pages(
    db: Executor,
    scope: Scope,
    parent_column: str,
    parent_ids: Sequence[int],
    limit: int,
    after_id: int | None,
) -> dict[int, list[Coil]]:
    """Up to ``limit`` coils after ``after_id`` for each parent, in one statement.

    ``parent_column`` is ``line_id`` or ``heat_id``: a line's coils or a heat's coils.
    """
    if parent_column not in ("line_id", "heat_id"):
        raise ValueError(parent_column)
    rows = await db.fetch(
        f"SELECT * FROM (SELECT {COIL_COLS}, row_number() OVER"
        f" (PARTITION BY c.{parent_column} ORDER BY c.id) AS rn FROM coil c"
        f" WHERE c.{parent_column} = ANY($2::bigint[]) AND c.id > $3"
        f" AND {Scope.owned('c.customer_org_id')}) t WHERE rn <= $4 ORDER BY id",
        scope.org_id, list(parent_ids), after_id or 0, limit,
    )
    out: dict[int, list[Coil]] = defaultdict(list)
    for r in rows:
        values = dict(r)
        del values["rn"]
        coil = Coil(**values)
        out[getattr(coil, parent_column)].append(coil)
    return out


_LINK_SELECT = """
    SELECT e.id, e.operation, e.parent_slab_id, e.parent_coil_id,
           coalesce(pc.coil_no, ps.slab_no) AS parent_number,
           coalesce(pc.kind, 'slab') AS parent_kind,
           e.child_coil_id, cc.coil_no AS child_number, cc.kind AS child_kind,
           e.input_weight_kg, e.output_weight_kg, e.occurred_at, t.depth, t.origin
    FROM walk t
    JOIN genealogy_edge e ON e.id = t.edge_id
    JOIN coil cc ON cc.id = e.child_coil_id
    LEFT JOIN coil pc ON pc.id = e.parent_coil_id
    LEFT JOIN slab ps ON ps.id = e.parent_slab_id
    ORDER BY t.origin, t.depth, e.id
"""


async def ancestry(db: Executor, coil_ids: Sequence[int]) -> dict[int, list[GenealogyLink]]:
    """Every link from each coil back to its slab, nearest first. Callers pass only
    coils the viewer may see; the links show the material, not other customers' coils."""
    rows = await db.fetch(
        """WITH RECURSIVE walk(edge_id, parent_coil_id, depth, origin) AS (
               SELECT e.id, e.parent_coil_id, 1, e.child_coil_id
               FROM genealogy_edge e WHERE e.child_coil_id = ANY($1::bigint[])
               UNION ALL
               SELECT e.id, e.parent_coil_id, w.depth + 1, w.origin
               FROM walk w JOIN genealogy_edge e ON e.child_coil_id = w.parent_coil_id
               WHERE w.depth < 20)""" + _LINK_SELECT,
        list(coil_ids),
    )
    return _group_links(rows)


async def descendants(
    db: Executor, scope: Scope, coil_ids: Sequence[int]
) -> dict[int, list[GenealogyLink]]:
    """Every link from each coil forward to the pieces cut or slit from it. A customer
    sees the pieces that are its own."""
    rows = await db.fetch(
        """WITH RECURSIVE walk(edge_id, child_coil_id, depth, origin) AS (
               SELECT e.id, e.child_coil_id, 1, e.parent_coil_id
               FROM genealogy_edge e WHERE e.parent_coil_id = ANY($1::bigint[])
               UNION ALL
               SELECT e.id, e.child_coil_id, w.depth + 1, w.origin
               FROM walk w JOIN genealogy_edge e ON e.parent_coil_id = w.child_coil_id
               WHERE w.depth < 20)""" + _LINK_SELECT,
        list(coil_ids),
    )
    links = _group_links(rows)
    if scope.org_id is None:
        return links
    own = {c.id for c in await coils_by_ids(
        db, scope, [link.child_coil_id for ls in links.values() for link in ls])}
    return {k: [link for link in v if link.child_coil_id in own] for k, v in links.items()}


def _group_links(rows: Sequence[Any]) -> dict[int, list[GenealogyLink]]:
    out: dict[int, list[GenealogyLink]] = defaultdict(list)
    for r in rows:
        values = dict(r)
        origin = values.pop("origin")
        out[origin].append(GenealogyLink(**values))
    return out
