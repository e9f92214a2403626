"""Creating shipments with their legs and manifests, who they are for, and where each
coil is."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain import events
from domain.db import Executor
from domain.errors import Conflict, Invalid, NotFound
from domain.shipments.states import ACTIVE


@dataclass(frozen=True, slots=True)
class LegInput:
    mode: str
    origin_site_id: int
    destination_site_id: int
    planned_departure: datetime
    planned_arrival: datetime
    vehicle_id: int | None = None
    promised_by: datetime | None = None
    coil_ids: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class CreatedShipment:
    id: int
    leg_ids: tuple[int, ...]


async def create_shipment(
    tx: Executor, number: str, legs: Sequence[LegInput], *, carrier_org_id: int | None = None,
    actor: str | None = None,
) -> CreatedShipment:
    """A planned shipment with its legs (numbered in order) and their manifests."""
    if not legs:
        raise Invalid("a shipment needs at least one leg", field="legs")
    for prev, nxt in itertools.pairwise(legs):
        if nxt.origin_site_id != prev.destination_site_id:
            raise Invalid("each leg must start where the previous one ended", field="legs")
    await lock_coils(tx, [c for leg in legs for c in leg.coil_ids])
    taken = await tx.fetch(
        "SELECT DISTINCT c.coil_no FROM leg_coil lc JOIN shipment_leg l ON l.id = lc.leg_id"
        " JOIN coil c ON c.id = lc.coil_id WHERE lc.coil_id = ANY($1) AND l.status = ANY($2)"
        " ORDER BY c.coil_no", [c for leg in legs for c in leg.coil_ids], list(ACTIVE))
    if taken:  # a coil travels on one shipment at a time
        raise Conflict("already on an open shipment: " + ", ".join(r["coil_no"] for r in taken),
                       field="legs")
    try:
        shipment_id: int = await tx.fetchval(
            "INSERT INTO shipment (number, carrier_org_id) VALUES ($1, $2) RETURNING id",
            number, carrier_org_id)
        leg_ids: list[int] = []
        for seq, leg in enumerate(legs, start=1):
            leg_ids.append(await tx.fetchval(
                "INSERT INTO shipment_leg (shipment_id, seq, mode, vehicle_id, origin_site_id,"
                " destination_site_id, planned_departure, planned_arrival, promised_by)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                shipment_id, seq, leg.mode, leg.vehicle_id, leg.origin_site_id,
                leg.destination_site_id, leg.planned_departure, leg.planned_arrival,
                leg.promised_by))
        await tx.executemany(
            "INSERT INTO leg_coil (leg_id, coil_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(leg_id, c) for leg_id, leg in zip(leg_ids, legs, strict=True) for c in leg.coil_ids])
    except asyncpg.UniqueViolationError as e:
        raise Conflict(f"shipment {number} exists", field="number") from e
    except asyncpg.ForeignKeyViolationError as e:
        raise NotFound(f"a site, vehicle or coil does not exist: {e.detail}") from e
    except asyncpg.CheckViolationError as e:
        raise Invalid(f"a leg is inconsistent: {e.constraint_name}", field="legs") from e
    customers: list[int | None] = list(await sync_shipment_customers(tx, shipment_id))
    for org_id in customers or [None]:
        await events.append(
            tx, "shipment.created", org_id=org_id, aggregate_type="shipment",
            aggregate_id=shipment_id, payload={"number": number, "legs": len(legs)}, actor=actor)
    return CreatedShipment(shipment_id, tuple(leg_ids))


async def lock_coils(tx: Executor, coil_ids: Sequence[int]) -> None:
    """Holds the coils (in id order, so two writers cannot deadlock) until commit: whoever
    checks that a coil is on no other open shipment, and then puts it on one, does so
    alone. The lock does not block reading the coils, nor their foreign keys."""
    await tx.execute("SELECT 1 FROM coil WHERE id = ANY($1::bigint[]) ORDER BY id"
                     " FOR NO KEY UPDATE", sorted(set(coil_ids)))


async def add_coils_to_leg(tx: Executor, leg_id: int, coil_ids: Sequence[int]) -> None:
    shipment_id = await tx.fetchval("SELECT shipment_id FROM shipment_leg WHERE id = $1", leg_id)
    if shipment_id is None:
        raise NotFound("no such leg", field="legId")
    await tx.executemany(
        "INSERT INTO leg_coil (leg_id, coil_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(leg_id, c) for c in coil_ids])
    await sync_shipment_customers(tx, shipment_id)


async def sync_shipment_customers(tx: Executor, shipment_id: int) -> list[int]:
    """shipment_customer = the owners of the coils on the shipment's manifests: a
    customer sees a shipment exactly while it carries that customer's coils."""
    await tx.execute(
        "DELETE FROM shipment_customer sc WHERE sc.shipment_id = $1 AND NOT EXISTS ("
        " SELECT 1 FROM shipment_leg l JOIN leg_coil lc ON lc.leg_id = l.id"
        " JOIN coil c ON c.id = lc.coil_id"
        " WHERE l.shipment_id = $1 AND c.customer_org_id = sc.org_id)", shipment_id)
    await tx.execute(
        "INSERT INTO shipment_customer (shipment_id, org_id)"
        " SELECT DISTINCT $1::bigint, c.customer_org_id FROM shipment_leg l"
        " JOIN leg_coil lc ON lc.leg_id = l.id JOIN coil c ON c.id = lc.coil_id"
        " WHERE l.shipment_id = $1 AND c.customer_org_id IS NOT NULL"
        " ON CONFLICT DO NOTHING", shipment_id)
    orgs = await tx.fetch(
        "SELECT org_id FROM shipment_customer WHERE shipment_id = $1 ORDER BY org_id",
        shipment_id)
    return [r["org_id"] for r in orgs]


async def set_coil_location(
    tx: Executor, coil_id: int, *, vehicle_id: int | None = None, site_id: int | None = None,
    since: datetime, scan_id: int | None = None,
) -> bool:
    """Put the coil on a vehicle or at a site as of ``since``; True when it moved. Only
    a newer scan moves it: a late scan tells where the coil was, not where it is."""
    if (vehicle_id is None) == (site_id is None):
        raise Invalid("a coil is either on a vehicle or at a site")
    status = await tx.execute(
        "INSERT INTO coil_location (coil_id, vehicle_id, site_id, since, scan_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (coil_id) DO UPDATE SET"
        " vehicle_id = EXCLUDED.vehicle_id, site_id = EXCLUDED.site_id,"
        " since = EXCLUDED.since, scan_id = EXCLUDED.scan_id"
        " WHERE coil_location.since < EXCLUDED.since",
        coil_id, vehicle_id, site_id, since, scan_id)
    return status.endswith(" 1")
