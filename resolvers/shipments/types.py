"""GraphQL types of shipments: legs, manifests, events, and the pages that list them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.shipments import positions as position_reads
from domain.shipments import reads as shipment_reads
from resolvers.common import loaders, viewer
from resolvers.contracts.types import TransportMode
from resolvers.loaders import OrganizationByIdLoader
from resolvers.parties import Organization, Site
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    Node,
    after_id,
    after_time_key,
    check_first,
    connection,
)
from resolvers.shipments.loaders import (
    CustomersByShipmentLoader,
    EventPageByShipmentLoader,
    FixByShipmentLoader,
    LegByIdLoader,
    LegsByShipmentLoader,
    ManifestPageByLegLoader,
    ManifestPageByShipmentLoader,
    ShipmentByIdLoader,
    ShipmentPageByContractLoader,
    TrackByShipmentLoader,
)
from resolvers.shipments.vehicles import Position, Vehicle, site_of, vehicle_of

if TYPE_CHECKING:
    from resolvers.quality.types import Coil

FIRST = strawberry.argument(description="Page size, at most 100.")
AFTER = strawberry.argument(description="`endCursor` of the previous page.")
# Legs in these states are over: their vehicle no longer has the coils.
ENDED = frozenset({"unloaded", "received", "cancelled"})


@strawberry.enum(description="Where a shipment or one of its legs stands. `planned -> loading "
                 "-> departed -> in_transit -> arrived -> unloaded -> received`; any open state "
                 "may turn `exception` and back to `in_transit`; `planned -> cancelled`.")
class ShipmentStatus(enum.Enum):
    PLANNED = "planned"
    LOADING = "loading"
    DEPARTED = "departed"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    UNLOADED = "unloaded"
    RECEIVED = "received"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"


async def manifest(
    info: Info[Any, Any], loader: Any, parent: int, first: int, after: str | None
) -> Connection[Coil]:
    """A page of the coils aboard a leg or a shipment: the viewer's own coils only."""
    from resolvers.quality.types import Coil, with_certificates

    check_first(first)
    rows = await loader.load((parent, first + 1, after_id(after)))
    coils = await with_certificates(info, [Coil.of(c) for c in rows])
    return connection([(c, [c.pk]) for c in coils], first, after is not None)


@strawberry.type(description="One leg of a shipment: one vehicle, one mode, from a site to a "
                 "site.")
class ShipmentLeg:
    seq: int = strawberry.field(description="Position in the shipment, from 1.")
    mode: TransportMode = strawberry.field(description="Road, rail or water.")
    planned_departure: dt.datetime = strawberry.field(description="Planned departure.")
    planned_arrival: dt.datetime = strawberry.field(description="Planned arrival.")
    promised_by: dt.datetime | None = strawberry.field(
        description="Latest end of the promised delivery windows this leg serves."
    )
    status: ShipmentStatus = strawberry.field(description="Where the leg stands.")
    actual_departure: dt.datetime | None = strawberry.field(description="When it set off.")
    actual_arrival: dt.datetime | None = strawberry.field(description="When it arrived.")
    eta: dt.datetime | None = strawberry.field(
        description="Estimated arrival, from the latest fixes; null once arrived."
    )
    eta_confidence: float | None = strawberry.field(
        description="How sure the ETA is, 0 to 1 (steady speed, fresh fix, short distance)."
    )
    delayed: bool = strawberry.field(
        description="The ETA falls after the planned arrival, or the leg departed late."
    )
    pk: strawberry.Private[int]
    shipment_pk: strawberry.Private[int]
    vehicle_pk: strawberry.Private[int | None]
    origin_pk: strawberry.Private[int]
    destination_pk: strawberry.Private[int]

    @strawberry.field(description="The vehicle assigned to it.")
    async def vehicle(self, info: Info[Any, Any]) -> Vehicle | None:
        return await vehicle_of(info, self.vehicle_pk)

    @strawberry.field(description="Where it starts.")
    async def origin(self, info: Info[Any, Any]) -> Site | None:
        return await site_of(info, self.origin_pk)

    @strawberry.field(description="Where it ends.")
    async def destination(self, info: Info[Any, Any]) -> Site | None:
        return await site_of(info, self.destination_pk)

    @strawberry.field(description="The shipment it belongs to.")
    async def shipment(self, info: Info[Any, Any]) -> Shipment | None:
        found = await loaders(info).get(ShipmentByIdLoader).load(self.shipment_pk)
        return Shipment.of(found) if found else None

    @strawberry.field(description="The coils aboard (its manifest): a customer sees only its "
                      "own coils, in coil order.")
    async def coils(
        self, info: Info[Any, Any],
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Annotated[Coil, strawberry.lazy("resolvers.quality.types")]]:
        return await manifest(info, loaders(info).get(ManifestPageByLegLoader), self.pk, first,
                              after)

    @classmethod
    def of(cls, g: shipment_reads.Leg) -> ShipmentLeg:
        return cls(
            pk=g.id, seq=g.seq, mode=TransportMode(g.mode), planned_departure=g.planned_departure,
            planned_arrival=g.planned_arrival, promised_by=g.promised_by,
            status=ShipmentStatus(g.status), actual_departure=g.actual_departure,
            actual_arrival=g.actual_arrival, eta=g.eta,
            eta_confidence=float(g.eta_confidence) if g.eta_confidence is not None else None,
            delayed=g.delayed, shipment_pk=g.shipment_id, vehicle_pk=g.vehicle_id,
            origin_pk=g.origin_site_id, destination_pk=g.destination_site_id,
        )


def current_leg(legs: list[shipment_reads.Leg]) -> shipment_reads.Leg | None:
    """The first leg not yet over: the one under way, or the next to go."""
    return next((g for g in legs if g.status not in ENDED), None)


@strawberry.type(description="What detection found on a shipment: departed, arrived, delayed, "
                 "back on time, a geofence entered or left, a scan anomaly.")
class ShipmentEvent:
    kind: str = strawberry.field(
        description="What happened: `departed`, `arrived`, `delayed`, `back_on_time`, "
        "`unloaded`, `received`, `arrival_without_unload`; for the mill also "
        "`geofence_entered`, `geofence_exited` and the scan anomalies "
        "(`scan_far_from_vehicle`, `coil_not_on_manifest`, `unknown_coil`, "
        "`blocked_coil_loaded`, `scan_off_route`)."
    )
    occurred_at: dt.datetime = strawberry.field(description="When it happened.")
    details: JSON = strawberry.field(description="Particulars, by kind (site, ETA, delay).")
    shipment_pk: strawberry.Private[int | None]
    leg_pk: strawberry.Private[int | None]
    vehicle_pk: strawberry.Private[int | None]

    @strawberry.field(description="The shipment it concerns.")
    async def shipment(self, info: Info[Any, Any]) -> Shipment | None:
        if self.shipment_pk is None:
            return None
        found = await loaders(info).get(ShipmentByIdLoader).load(self.shipment_pk)
        return Shipment.of(found) if found else None

    @strawberry.field(description="The leg it concerns, if one.")
    async def leg(self, info: Info[Any, Any]) -> ShipmentLeg | None:
        if self.leg_pk is None:
            return None
        found = await loaders(info).get(LegByIdLoader).load(self.leg_pk)
        return ShipmentLeg.of(found) if found else None

    @strawberry.field(description="The vehicle it concerns, if one.")
    async def vehicle(self, info: Info[Any, Any]) -> Vehicle | None:
        return await vehicle_of(info, self.vehicle_pk)

    @classmethod
    def of(cls, e: shipment_reads.ShipmentEvent) -> ShipmentEvent:
        return cls(kind=e.kind, occurred_at=e.occurred_at, details=JSON(e.details),
                   shipment_pk=e.shipment_id, leg_pk=e.leg_id, vehicle_pk=e.vehicle_id)


@strawberry.type(description="Coils on their way: one or more legs from the mill to a "
                 "customer. A customer sees the shipments that carry its coils.")
class Shipment(Node):
    number: str = strawberry.field(description="Shipment number, e.g. `SH260301-0007`.")
    status: ShipmentStatus = strawberry.field(description="Where the shipment stands.")
    created_at: dt.datetime = strawberry.field(description="When it was planned.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")

    async def _legs(self, info: Info[Any, Any]) -> list[shipment_reads.Leg]:
        found: list[shipment_reads.Leg] = await loaders(info).get(LegsByShipmentLoader).load(
            self.pk)
        return found

    @strawberry.field(description="Its legs, in order.")
    async def legs(self, info: Info[Any, Any]) -> list[ShipmentLeg]:
        return [ShipmentLeg.of(g) for g in await self._legs(info)]

    @strawberry.field(description="The leg under way, or the next to go; null once all are "
                      "over.")
    async def current_leg(self, info: Info[Any, Any]) -> ShipmentLeg | None:
        leg = current_leg(await self._legs(info))
        return ShipmentLeg.of(leg) if leg else None

    @strawberry.field(description="The current leg's estimated arrival.")
    async def eta(self, info: Info[Any, Any]) -> dt.datetime | None:
        leg = current_leg(await self._legs(info))
        return leg.eta if leg else None

    @strawberry.field(description="Some leg is delayed.")
    async def delayed(self, info: Info[Any, Any]) -> bool:
        return any(g.delayed for g in await self._legs(info))

    @strawberry.field(description="The coils aboard any of its legs: a customer sees only its "
                      "own coils, in coil order.")
    async def coils(
        self, info: Info[Any, Any],
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Annotated[Coil, strawberry.lazy("resolvers.quality.types")]]:
        return await manifest(info, loaders(info).get(ManifestPageByShipmentLoader), self.pk,
                              first, after)

    @strawberry.field(description="Where it is: the latest fix of the vehicle of its current "
                      "leg, or where the last leg ended; null before it sets off.")
    async def latest_position(self, info: Info[Any, Any]) -> Position | None:
        fix = await loaders(info).get(FixByShipmentLoader).load(self.pk)
        return Position.of(fix) if fix else None

    @strawberry.field(description="The way it went, oldest first: each leg's vehicle's fixes "
                      "while it had the shipment aboard, thinned to at most `maxPoints` evenly "
                      "in time (the first and last fix always kept).")
    async def track(
        self, info: Info[Any, Any],
        from_: Annotated[dt.datetime | None, strawberry.argument(
            name="from", description="Start of the period; default: the first departure.")]
        = None,
        to: Annotated[dt.datetime | None, strawberry.argument(
            description="End of the period; default: now.")] = None,
        max_points: Annotated[int, strawberry.argument(
            description="Most points to return, 2 to 5000.")] = 500,
    ) -> list[Position]:
        if not 2 <= max_points <= position_reads.MAX_TRACK_POINTS:
            raise BadInput(f"`maxPoints` must be between 2 and {position_reads.MAX_TRACK_POINTS}")
        if from_ is not None and to is not None and to < from_:
            raise BadInput("`to` is before `from`")
        fixes = await loaders(info).get(TrackByShipmentLoader).load(
            (self.pk, max_points, (from_, to)))
        return [Position.of(f) for f in fixes]

    @strawberry.field(description="What detection found, oldest first. A customer reads "
                      "the movement and delivery events; fence crossings and scan anomalies "
                      "are the mill's.")
    async def events(
        self, info: Info[Any, Any],
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[ShipmentEvent]:
        check_first(first)
        rows = await loaders(info).get(EventPageByShipmentLoader).load(
            (self.pk, first + 1, after_time_key(after)))
        return connection([(ShipmentEvent.of(e), [e.occurred_at.isoformat(), e.id])
                           for e in rows], first, after is not None)

    @strawberry.field(description="The customers it carries coils for: the mill's staff only; "
                      "null for a customer.")
    async def customers(self, info: Info[Any, Any]) -> list[Organization] | None:
        if (await viewer(info)).is_customer:
            return None
        found = loaders(info)
        orgs = await found.get(OrganizationByIdLoader).load_many(
            await found.get(CustomersByShipmentLoader).load(self.pk))
        return [Organization.of(o) for o in orgs if o is not None]

    @classmethod
    def of(cls, s: shipment_reads.Shipment) -> Shipment:
        return cls(pk=s.id, number=s.number, status=ShipmentStatus(s.status),
                   created_at=s.created_at, updated_at=s.updated_at)


async def shipment_page(
    info: Info[Any, Any], contract_pk: int, first: int, after: str | None
) -> Connection[Shipment]:
    """`Contract.shipments`: a page of the shipments that carry a contract's coils."""
    check_first(first)
    rows = await loaders(info).get(ShipmentPageByContractLoader).load(
        (contract_pk, first + 1, after_id(after)))
    return connection([(Shipment.of(s), [s.id]) for s in rows], first, after is not None)
