"""Shipment queries: `shipments` (filtered keyset pages), `shipment`, `vehicle` and the
`sites` they travel between."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain import parties
from domain.shipments import reads as shipment_reads
from resolvers.common import ctx, loaders, viewer
from resolvers.contracts.types import TransportMode
from resolvers.loaders import SiteByIdLoader
from resolvers.parties import Site
from resolvers.relay import (
    DEFAULT_PAGE,
    Connection,
    after_id,
    by_id_or_number,
    check_first,
    connection,
    exactly_one,
    expect_id,
)
from resolvers.shipments.loaders import (
    ShipmentByIdLoader,
    ShipmentByNumberLoader,
    VehicleByCodeLoader,
    VehicleByIdLoader,
)
from resolvers.shipments.types import AFTER, FIRST, Shipment, ShipmentStatus
from resolvers.shipments.vehicles import Vehicle


@strawberry.input(description="Narrows `shipments`; all given conditions must hold.")
class ShipmentFilter:
    status: list[ShipmentStatus] | None = strawberry.field(
        default=None, description="Any of these states."
    )
    mode: list[TransportMode] | None = strawberry.field(
        default=None, description="Has a leg of any of these modes."
    )
    contract_id: strawberry.ID | None = strawberry.field(
        default=None, description="Carries coils of this contract (global id)."
    )
    delayed_only: bool = strawberry.field(
        default=False, description="Only shipments with a delayed leg."
    )


def _filter(flt: ShipmentFilter | None) -> shipment_reads.ShipmentFilter:
    if flt is None:
        return shipment_reads.ShipmentFilter()
    return shipment_reads.ShipmentFilter(
        statuses=[s.value for s in flt.status or []], modes=[m.value for m in flt.mode or []],
        contract_id=expect_id(flt.contract_id, "Contract") if flt.contract_id else None,
        delayed_only=flt.delayed_only,
    )


@strawberry.type
class ShipmentQueries:
    @strawberry.field(description="Shipments the viewer may see, newest first, a keyset page "
                      "at a time: a customer's are those carrying its coils.")
    async def shipments(
        self, info: Info[Any, Any],
        filter: Annotated[ShipmentFilter | None, strawberry.argument(
            description="Conditions the shipments must meet.")] = None,
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Shipment]:
        who = await viewer(info)
        check_first(first)
        rows = await shipment_reads.list_shipments(
            ctx(info).db, who.scope, _filter(filter), first + 1, after_id(after))
        cache = loaders(info).get(ShipmentByIdLoader)
        for row in rows:
            cache.prime(row.id, row)
        return connection([(Shipment.of(s), [s.id]) for s in rows], first, after is not None)

    @strawberry.field(description="One shipment by id or number; null if not yours or unknown.")
    async def shipment(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        number: Annotated[str | None, strawberry.argument(description="Shipment number.")]
        = None,
    ) -> Shipment | None:
        await viewer(info)
        found = await by_id_or_number(id, number, "Shipment",
                                      loaders(info).get(ShipmentByIdLoader),
                                      loaders(info).get(ShipmentByNumberLoader))
        return Shipment.of(found) if found else None

    @strawberry.field(description="One vehicle by id or code; null if unknown or, for a "
                      "customer, never on a leg of its shipments.")
    async def vehicle(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        code: Annotated[str | None, strawberry.argument(description="Registry code.")] = None,
    ) -> Vehicle | None:
        await viewer(info)
        exactly_one(id, code, "code")
        if id is not None:
            found = await loaders(info).get(VehicleByIdLoader).load(expect_id(id, "Vehicle"))
        else:
            assert code is not None
            found = await loaders(info).get(VehicleByCodeLoader).load(code)
        return Vehicle.of(found) if found else None

    @strawberry.field(description="Sites the viewer may see, with their geofences, in a "
                      "keyset page: a customer's own warehouses, the shared ports and "
                      "stations, and the mill's plants.")
    async def sites(
        self, info: Info[Any, Any],
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Site]:
        who = await viewer(info)
        check_first(first)
        rows = await parties.list_sites(ctx(info).db, who.scope, first + 1, after_id(after))
        cache = loaders(info).get(SiteByIdLoader)
        for row in rows:
            cache.prime(row.id, row)
        return connection([(Site.of(s), [s.id]) for s in rows], first, after is not None)
