"""Organizations, sites and steel specs: the parties and places of the business."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.actor import Actor
from domain.db import Executor
from domain.errors import Invalid, NotFound
from domain.tenancy import Scope


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    code: str
    name: str
    kind: str
    org_id: int | None
    latitude: float
    longitude: float
    geofence: dict[str, Any] | None
    geofence_radius_m: float | None
    time_zone: str


@dataclass(frozen=True, slots=True)
class SteelSpec:
    id: int
    code: str
    grade: str
    standard: str
    product: str
    thickness_mm: Decimal
    width_mm: Decimal
    coating: str | None
    customer_org_id: int | None
    customer_part_number: str | None
    coil_nominal_weight_t: Decimal


async def organization_by_code(db: Executor, code: str) -> Organization | None:
    row = await db.fetchrow("SELECT id, code, name, kind FROM organization WHERE code = $1", code)
    return Organization(**dict(row)) if row else None


async def is_customer(db: Executor, org_id: int) -> bool:
    """Whether the organization exists and is a customer (not the mill, not a carrier)."""
    return bool(await db.fetchval("SELECT kind FROM organization WHERE id = $1", org_id)
                == "customer")


async def customer_acted_for(db: Executor, actor: Actor, customer_org_id: int | None) -> int:
    """The customer a request acts for. A customer acts for itself (naming another is
    not found); the mill's staff name the customer they act for."""
    if actor.is_customer:
        actor.check_acts_for(customer_org_id if customer_org_id is not None else actor.org_id)
        return actor.org_id
    if customer_org_id is None:
        raise Invalid("say which customer: give customerId", field="customerId")
    if not await is_customer(db, customer_org_id):
        raise NotFound("no such customer", field="customerId")
    return customer_org_id


async def organizations_by_ids(
    db: Executor, scope: Scope, ids: Sequence[int]
) -> list[Organization]:
    """A customer sees itself and the mill (its counterpart), never another customer."""
    rows = await db.fetch(
        "SELECT id, code, name, kind FROM organization o WHERE o.id = ANY($2::bigint[])"
        f" AND {Scope.organization('o')}",
        scope.org_id, list(ids),
    )
    return [Organization(**dict(r)) for r in rows]


_SITE_COLS = (
    "id, code, name, kind, org_id, latitude, longitude, geofence, geofence_radius_m, time_zone"
)


async def sites_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Site]:
    """Shared sites (ports, stations: no owner) and the mill's plants are public; a
    customer's warehouse is its own."""
    rows = await db.fetch(
        f"SELECT {_SITE_COLS} FROM site s WHERE s.id = ANY($2::bigint[])"
        f" AND {Scope.site('s')}",
        scope.org_id, list(ids),
    )
    return [Site(**dict(r)) for r in rows]


async def list_sites(
    db: Executor, scope: Scope, limit: int, after_id: int | None = None
) -> list[Site]:
    """The sites the viewer may see (the same rule as `sites_by_ids`), in id order, a
    keyset page at a time."""
    rows = await db.fetch(
        f"SELECT {_SITE_COLS} FROM site s WHERE {Scope.site('s')}"
        " AND ($2::bigint IS NULL OR s.id > $2) ORDER BY s.id LIMIT $3",
        scope.org_id, after_id, limit,
    )
    return [Site(**dict(r)) for r in rows]


_SPEC_COLS = (
    "id, code, grade, standard, product, thickness_mm, width_mm, coating, customer_org_id,"
    " customer_part_number, coil_nominal_weight_t"
)


async def specs_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[SteelSpec]:
    """Catalogue specs are public; a spec with a customer's part number is that customer's."""
    rows = await db.fetch(
        f"SELECT {_SPEC_COLS} FROM steel_spec s WHERE s.id = ANY($2::bigint[])"
        f" AND {Scope.spec('s')}",
        scope.org_id, list(ids),
    )
    return [SteelSpec(**dict(r)) for r in rows]
