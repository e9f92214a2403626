"""Reading shipments: their legs, manifests and events, and where coils are.

The read side only; the ingester and detection write these tables. Every statement
binds the viewer's scope as ``$1`` and fences rows with ``domain/tenancy.py``: a
customer sees the shipments that carry its coils, and of their manifests only its own
coils. Vehicles, positions and tracks are in :mod:`domain.shipments.positions`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.db import Executor
from domain.material import COIL_COLS, Coil
from domain.shipments.legs import LEG_COLS
from domain.shipments.legs import Leg as Leg  # readers of shipments take legs from here
from domain.tenancy import Scope, Where


@dataclass(frozen=True, slots=True)
class Shipment:
    id: int
    number: str
    status: str
    carrier_org_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ShipmentEvent:
    id: int
    shipment_id: int | None
    leg_id: int | None
    vehicle_id: int | None
    kind: str
    occurred_at: datetime
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CoilLocation:
    coil_id: int
    vehicle_id: int | None
    site_id: int | None
    since: datetime


@dataclass(frozen=True)
class ShipmentFilter:
    """All given conditions must hold; empty lists mean no condition."""

    statuses: Sequence[str] = field(default_factory=list)
    modes: Sequence[str] = field(default_factory=list)
    contract_id: int | None = None
    delayed_only: bool = False


SHIPMENT_COLS = "s.id, s.number, s.status, s.carrier_org_id, s.created_at, s.updated_at"
EVENT_COLS = "e.id, e.shipment_id, e.leg_id, e.vehicle_id, e.kind, e.occurred_at, e.details"
# The shipments that carry a contract's coils, by contract.
_CONTRACT_SHIPMENTS = (
    "SELECT DISTINCT cl.contract_id, l.shipment_id FROM contract_line cl"
    " JOIN coil c ON c.line_id = cl.id JOIN leg_coil lc ON lc.coil_id = c.id"
    " JOIN shipment_leg l ON l.id = lc.leg_id"
)


def _rows(rows: Sequence[Any], cls: type[Any], *extra: str) -> list[Any]:
    out = []
    for r in rows:
        values = dict(r)
        for name in extra:
            values.pop(name, None)
        out.append(cls(**values))
    return out


async def shipments_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Shipment]:
    rows = await db.fetch(
        f"SELECT {SHIPMENT_COLS} FROM shipment s WHERE s.id = ANY($2::bigint[])"
        f" AND {Scope.shipment('s')}", scope.org_id, list(ids))
    return _rows(rows, Shipment)


async def shipments_by_numbers(
    db: Executor, scope: Scope, numbers: Sequence[str]
) -> list[Shipment]:
    rows = await db.fetch(
        f"SELECT {SHIPMENT_COLS} FROM shipment s WHERE s.number = ANY($2::text[])"
        f" AND {Scope.shipment('s')}", scope.org_id, list(numbers))
    return _rows(rows, Shipment)


async def list_shipments(
    db: Executor, scope: Scope, flt: ShipmentFilter, limit: int, before_id: int | None
) -> list[Shipment]:
    """One keyset page of the shipments the scope sees, newest first."""
    where = scope.where()
    rows = await db.fetch(shipment_page(where, flt, limit, before_id), *where.args)
    return _rows(rows, Shipment)


def shipment_page(where: Where, flt: ShipmentFilter, limit: int, before_id: int | None,
                  columns: str = SHIPMENT_COLS) -> str:
    """The statement of one keyset page of shipments (as ``s``, newest first) under
    ``where``, whose ``$1`` is the scope."""
    where.add(Scope.shipment("s"))
    where.any_of("s.status", flt.statuses)
    if flt.modes:
        where.add("EXISTS (SELECT 1 FROM shipment_leg m WHERE m.shipment_id = s.id"
                  f" AND m.mode = ANY({where.arg(list(flt.modes))}::text[]))")
    if flt.delayed_only:
        where.add("EXISTS (SELECT 1 FROM shipment_leg d WHERE d.shipment_id = s.id"
                  " AND d.delayed)")
    where.given(flt.contract_id, f"s.id IN (SELECT shipment_id FROM ({_CONTRACT_SHIPMENTS}"
                " WHERE cl.contract_id = {}::bigint) k)")
    where.given(before_id, "s.id < {}::bigint")
    return (f"SELECT {columns} FROM shipment s WHERE {where.sql()}"
            f" ORDER BY s.id DESC LIMIT {where.arg(limit)}")


async def shipment_pages_by_contract(
    db: Executor, scope: Scope, contract_ids: Sequence[int], limit: int, before_id: int | None
) -> dict[int, list[Shipment]]:
    """Up to ``limit`` shipments carrying each contract's coils, newest first."""
    rows = await db.fetch(
        f"SELECT * FROM (SELECT {SHIPMENT_COLS}, k.contract_id, row_number() OVER"
        " (PARTITION BY k.contract_id ORDER BY s.id DESC) AS rn"
        f" FROM ({_CONTRACT_SHIPMENTS} WHERE cl.contract_id = ANY($2::bigint[])) k"
        " JOIN shipment s ON s.id = k.shipment_id"
        f" WHERE ($3::bigint IS NULL OR s.id < $3) AND {Scope.shipment('s')}) t"
        " WHERE rn <= $4 ORDER BY contract_id, id DESC",
        scope.org_id, list(contract_ids), before_id, limit)
    out: dict[int, list[Shipment]] = defaultdict(list)
    for r in rows:
        out[r["contract_id"]].append(_rows([r], Shipment, "contract_id", "rn")[0])
    return out


async def shipment_ids_of_contract(db: Executor, scope: Scope, contract_id: int) -> set[int]:
    """Every shipment the scope sees that carries the contract's coils."""
    rows = await db.fetch(
        f"SELECT s.id FROM ({_CONTRACT_SHIPMENTS} WHERE cl.contract_id = $2) k"
        f" JOIN shipment s ON s.id = k.shipment_id WHERE {Scope.shipment('s')}",
        scope.org_id, contract_id)
    return {r["id"] for r in rows}


async def latest_shipment_by_coil(
    db: Executor, scope: Scope, coil_ids: Sequence[int]
) -> dict[int, Shipment]:
    """The newest shipment whose manifest lists each coil (of the scope's coils)."""
    rows = await db.fetch(
        f"SELECT DISTINCT ON (lc.coil_id) lc.coil_id, {SHIPMENT_COLS} FROM leg_coil lc"
        " JOIN coil c ON c.id = lc.coil_id JOIN shipment_leg l ON l.id = lc.leg_id"
        " JOIN shipment s ON s.id = l.shipment_id WHERE lc.coil_id = ANY($2::bigint[])"
        f" AND {Scope.owned('c.customer_org_id')} AND {Scope.shipment('s')}"
        " ORDER BY lc.coil_id, s.id DESC", scope.org_id, list(coil_ids))
    return {r["coil_id"]: _rows([r], Shipment, "coil_id")[0] for r in rows}


async def customers_by_shipment(
    db: Executor, scope: Scope, shipment_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Organization ids a shipment carries coils for; a customer sees only itself."""
    rows = await db.fetch(
        "SELECT shipment_id, org_id FROM shipment_customer WHERE shipment_id = ANY($2::bigint[])"
        " AND ($1::bigint IS NULL OR org_id = $1) ORDER BY shipment_id, org_id",
        scope.org_id, list(shipment_ids))
    out: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        out[r["shipment_id"]].append(r["org_id"])
    return out


async def legs_by_shipment(
    db: Executor, scope: Scope, shipment_ids: Sequence[int]
) -> dict[int, list[Leg]]:
    rows = await db.fetch(
        f"SELECT {LEG_COLS} FROM shipment_leg l JOIN shipment s ON s.id = l.shipment_id"
        f" WHERE l.shipment_id = ANY($2::bigint[]) AND {Scope.shipment('s')}"
        " ORDER BY l.shipment_id, l.seq", scope.org_id, list(shipment_ids))
    out: dict[int, list[Leg]] = defaultdict(list)
    for leg in _rows(rows, Leg):
        out[leg.shipment_id].append(leg)
    return out


async def legs_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Leg]:
    rows = await db.fetch(
        f"SELECT {LEG_COLS} FROM shipment_leg l JOIN shipment s ON s.id = l.shipment_id"
        f" WHERE l.id = ANY($2::bigint[]) AND {Scope.shipment('s')}",
        scope.org_id, list(ids))
    return _rows(rows, Leg)


async def manifest_pages(
    db: Executor, scope: Scope, by: str, parent_ids: Sequence[int], limit: int,
    after_id: int | None,
) -> dict[int, list[Coil]]:
    """Up to ``limit`` coils after ``after_id`` aboard each leg (``by="leg"``) or each
    shipment over all its legs (``by="shipment"``), in coil order: of the scope's
    coils only, so a shared truck's manifest never names another customer's coils."""
    parent = {"leg": "lc.leg_id", "shipment": "l.shipment_id"}[by]
    rows = await db.fetch(
        f"SELECT * FROM (SELECT {COIL_COLS}, k.parent, row_number() OVER"
        " (PARTITION BY k.parent ORDER BY c.id) AS rn"
        f" FROM (SELECT DISTINCT {parent} AS parent, lc.coil_id FROM leg_coil lc"
        " JOIN shipment_leg l ON l.id = lc.leg_id"
        f" WHERE {parent} = ANY($2::bigint[])) k JOIN coil c ON c.id = k.coil_id"
        f" WHERE c.id > $3 AND {Scope.owned('c.customer_org_id')}) t"
        " WHERE rn <= $4 ORDER BY parent, id",
        scope.org_id, list(parent_ids), after_id or 0, limit)
    out: dict[int, list[Coil]] = defaultdict(list)
    for r in rows:
        out[r["parent"]].append(_rows([r], Coil, "parent", "rn")[0])
    return out


async def event_pages(
    db: Executor, scope: Scope, shipment_ids: Sequence[int], limit: int,
    after: tuple[datetime, int] | None,
) -> dict[int, list[ShipmentEvent]]:
    """Up to ``limit`` events of each shipment after the (time, id) keyset, oldest first."""
    at, after_id = after if after is not None else (None, None)
    rows = await db.fetch(
        f"SELECT * FROM (SELECT {EVENT_COLS}, row_number() OVER (PARTITION BY e.shipment_id"
        " ORDER BY e.occurred_at, e.id) AS rn FROM shipment_event e"
        " JOIN shipment s ON s.id = e.shipment_id WHERE e.shipment_id = ANY($2::bigint[])"
        " AND ($3::timestamptz IS NULL OR (e.occurred_at, e.id) > ($3, $4::bigint))"
        f" AND {Scope.shipment('s')} AND {Scope.shipment_event('e')})"
        " t WHERE rn <= $5 ORDER BY shipment_id, occurred_at, id",
        scope.org_id, list(shipment_ids), at, after_id, limit)
    out: dict[int, list[ShipmentEvent]] = defaultdict(list)
    for ev in _rows(rows, ShipmentEvent, "rn"):
        assert ev.shipment_id is not None
        out[ev.shipment_id].append(ev)
    return out


async def recent_events(
    db: Executor, scope: Scope, shipment_ids: Sequence[int], limit: int,
    since: datetime | None = None,
) -> list[ShipmentEvent]:
    """The latest ``limit`` events of these shipments (those after ``since``, when
    given), oldest first: what a new or reconnected subscriber is sent first."""
    rows = await db.fetch(
        f"SELECT * FROM (SELECT {EVENT_COLS} FROM shipment_event e"
        " JOIN shipment s ON s.id = e.shipment_id WHERE e.shipment_id = ANY($2::bigint[])"
        f" AND ($3::timestamptz IS NULL OR e.occurred_at >= $3) AND {Scope.shipment('s')}"
        f" AND {Scope.shipment_event('e')}"
        " ORDER BY e.occurred_at DESC, e.id DESC LIMIT $4) t ORDER BY occurred_at, id",
        scope.org_id, list(shipment_ids), since, limit)
    return _rows(rows, ShipmentEvent)


async def coil_locations(
    db: Executor, scope: Scope, coil_ids: Sequence[int]
) -> dict[int, CoilLocation]:
    """Where each of the scope's coils was last scanned: aboard a vehicle or at a site."""
    rows = await db.fetch(
        "SELECT cl.coil_id, cl.vehicle_id, cl.site_id, cl.since FROM coil_location cl"
        " JOIN coil c ON c.id = cl.coil_id WHERE cl.coil_id = ANY($2::bigint[])"
        f" AND {Scope.owned('c.customer_org_id')}", scope.org_id, list(coil_ids))
    return {r["coil_id"]: CoilLocation(**dict(r)) for r in rows}
