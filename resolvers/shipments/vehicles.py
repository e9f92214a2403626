"""GraphQL types of vehicles and where things are: positions, coil locations."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.shipments import positions as position_reads
from domain.shipments import reads as shipment_reads
from resolvers.common import loaders
from resolvers.loaders import SiteByIdLoader
from resolvers.parties import Site
from resolvers.relay import Node
from resolvers.shipments.loaders import (
    FixByVehicleLoader,
    LocationByCoilLoader,
    ShipmentByCoilLoader,
    VehicleByIdLoader,
)

if TYPE_CHECKING:
    from resolvers.shipments.types import Shipment


@strawberry.enum(description="What kind of vehicle carries the coils.")
class VehicleKind(enum.Enum):
    TRUCK = "truck"
    RAIL_WAGON = "rail_wagon"
    SHIP = "ship"


@strawberry.type(description="One position fix of a vehicle, WGS 84.")
class Position:
    fix_time: dt.datetime = strawberry.field(description="When the device took the fix.")
    latitude: float = strawberry.field(description="Latitude in degrees, north positive.")
    longitude: float = strawberry.field(description="Longitude in degrees, east positive.")
    speed_kmh: float | None = strawberry.field(description="Speed over ground in km/h.")
    heading: float | None = strawberry.field(
        description="Course over ground in degrees from true north, 0 to 360."
    )
    accuracy_m: float | None = strawberry.field(
        description="Horizontal accuracy the device reported, in metres."
    )

    @classmethod
    def of(cls, f: position_reads.Fix) -> Position:
        return cls(fix_time=f.fix_time, latitude=f.latitude, longitude=f.longitude,
                   speed_kmh=f.speed_kmh, heading=f.heading, accuracy_m=f.accuracy_m)


@strawberry.type(description="A truck, rail wagon or ship that carries coils on a leg. A "
                 "customer sees the vehicles put on its shipments' legs, and where one is only "
                 "while it carries the customer's coils.")
class Vehicle(Node):
    code: str = strawberry.field(description="Unique code in the tracking registry.")
    kind: VehicleKind = strawberry.field(description="Truck, rail wagon or ship.")
    name: str = strawberry.field(description="Name: a ship's name, a fleet number.")
    plate: str | None = strawberry.field(
        description="Licence plate of a truck, or the number of a rail wagon."
    )
    mmsi: int | None = strawberry.field(description="A ship's AIS identity (MMSI, 9 digits).")
    imo: int | None = strawberry.field(description="A ship's IMO number (7 digits).")
    reported_destination: str | None = strawberry.field(
        description="A ship's destination as its crew last entered it in AIS, unchecked."
    )
    reported_eta: dt.datetime | None = strawberry.field(
        description="The ETA the ship's crew last reported in AIS; the leg's own `eta` is "
        "computed from its track."
    )
    voyage_heard_at: dt.datetime | None = strawberry.field(
        description="When the ship's AIS voyage data was last received."
    )

    @strawberry.field(
        description="Its latest fix; null when none, or when it carries none of your coils now."
    )
    async def latest_position(self, info: Info[Any, Any]) -> Position | None:
        fix = await loaders(info).get(FixByVehicleLoader).load(self.pk)
        return Position.of(fix) if fix else None

    @classmethod
    def of(cls, v: position_reads.Vehicle) -> Vehicle:
        return cls(pk=v.id, code=v.code, kind=VehicleKind(v.kind), name=v.name, plate=v.plate,
                   mmsi=v.mmsi, imo=v.imo, reported_destination=v.reported_destination,
                   reported_eta=v.reported_eta, voyage_heard_at=v.voyage_heard_at)


async def vehicle_of(info: Info[Any, Any], pk: int | None) -> Vehicle | None:
    if pk is None:
        return None
    found = await loaders(info).get(VehicleByIdLoader).load(pk)
    return Vehicle.of(found) if found else None


async def site_of(info: Info[Any, Any], pk: int | None) -> Site | None:
    if pk is None:
        return None
    found = await loaders(info).get(SiteByIdLoader).load(pk)
    return Site.of(found) if found else None


@strawberry.type(description="A new fix of a vehicle, as it arrives.")
class PositionUpdate:
    position: Position = strawberry.field(description="The fix.")
    shipment_ids: list[strawberry.ID] = strawberry.field(
        description="Global ids of the shipments aboard that the viewer may see."
    )
    vehicle_pk: strawberry.Private[int]
    late: bool = strawberry.field(
        default=False,
        description="True when a newer fix of the vehicle was sent before this one: "
                    "history (a device's buffered fix, or one that reached the server late), "
                    "not where the vehicle is now. Each vehicle's other fixes come in "
                    "fix-time order.")

    @strawberry.field(description="The vehicle that reported it.")
    async def vehicle(self, info: Info[Any, Any]) -> Vehicle | None:
        return await vehicle_of(info, self.vehicle_pk)


@strawberry.type(description="Where a coil is, from its latest scan: aboard a vehicle or at a "
                 "site.")
class CoilLocation:
    since: dt.datetime = strawberry.field(description="When the scan put it there.")
    vehicle_pk: strawberry.Private[int | None]
    site_pk: strawberry.Private[int | None]
    coil_pk: strawberry.Private[int]

    @strawberry.field(description="The vehicle it is aboard; null when it is at a site.")
    async def on_vehicle(self, info: Info[Any, Any]) -> Vehicle | None:
        return await vehicle_of(info, self.vehicle_pk)

    @strawberry.field(description="The site it is at; null while it travels.")
    async def at_site(self, info: Info[Any, Any]) -> Site | None:
        return await site_of(info, self.site_pk)

    @strawberry.field(description="The latest shipment whose manifest lists it.")
    async def shipment(
        self, info: Info[Any, Any]
    ) -> Annotated[Shipment, strawberry.lazy("resolvers.shipments.types")] | None:
        from resolvers.shipments.types import Shipment

        found = await loaders(info).get(ShipmentByCoilLoader).load(self.coil_pk)
        return Shipment.of(found) if found else None

    @classmethod
    def of(cls, c: shipment_reads.CoilLocation) -> CoilLocation:
        return cls(since=c.since, vehicle_pk=c.vehicle_id, site_pk=c.site_id, coil_pk=c.coil_id)


async def coil_location(info: Info[Any, Any], coil_pk: int) -> CoilLocation | None:
    """`Coil.location`: kept here so that the quality types need not know tracking."""
    found = await loaders(info).get(LocationByCoilLoader).load(coil_pk)
    return CoilLocation.of(found) if found else None
