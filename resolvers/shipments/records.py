"""Sites, vehicles, devices and shipments written by hand by the mill's logistics staff,
through the plant feeds' own checks (:mod:`resolvers.feeds`). A put is the whole record,
as a feed sends it: a field left out is cleared, or takes the default the feeds give it.
What a put returns is read back through the request's loaders, as any query reads it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from resolvers.common import INPUT, UserError, loaders
from resolvers.contracts.types import TransportMode
from resolvers.feeds import Names, put_record, roles, version_field, without_nulls
from resolvers.loaders import SiteByIdLoader
from resolvers.parties import Site, SiteKind
from resolvers.shipments.devices import Device, DeviceKind
from resolvers.shipments.loaders import DeviceByIdLoader, ShipmentByIdLoader, VehicleByIdLoader
from resolvers.shipments.types import Shipment
from resolvers.shipments.vehicles import Vehicle, VehicleKind

_CODE = "Its code, the plant's identity for it: a new code creates, a known one replaces."


@strawberry.input(description="A site, whole: created, or replaced by its code.")
class PutSiteInput:
    code: str = strawberry.field(description=_CODE)
    name: str = strawberry.field(description="Its name.")
    kind: SiteKind = strawberry.field(description="Plant, port, rail station or warehouse.")
    organization_code: str | None = strawberry.field(
        default=None, description="Code of the organization that runs it; none for shared "
        "ports and stations, which every party sees."
    )
    latitude: float = strawberry.field(description="Latitude of its centre, WGS 84.")
    longitude: float = strawberry.field(description="Longitude of its centre, WGS 84.")
    geofence: JSON | None = strawberry.field(
        default=None, description="Its fence: a GeoJSON Polygon or MultiPolygon (WGS 84). "
        "Give this or `geofenceRadiusM`."
    )
    geofence_radius_m: float | None = strawberry.field(
        default=None, description="Radius of a circular fence around the centre, in metres "
        "(at most 100,000), when there is no polygon."
    )
    time_zone: str | None = strawberry.field(
        default=None, description="IANA time zone; default `Asia/Shanghai`."
    )
    version: str | None = version_field()


@strawberry.type(description="Result of `putSite`.")
class PutSitePayload:
    site: Site | None = strawberry.field(description="The site as it reads now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was written.")


@strawberry.input(description="A vehicle, whole: created, or replaced by its code.")
class PutVehicleInput:
    code: str = strawberry.field(description=_CODE)
    kind: VehicleKind = strawberry.field(description="Truck, rail wagon or ship.")
    name: str = strawberry.field(description="A name people know it by.")
    plate: str | None = strawberry.field(
        default=None, description="Licence plate of a truck, or the number of a rail wagon."
    )
    mmsi: int | None = strawberry.field(
        default=None, description="A ship's AIS identity (9 digits); a ship needs one."
    )
    imo: int | None = strawberry.field(default=None, description="A ship's IMO number (7 digits).")
    carrier_code: str | None = strawberry.field(
        default=None, description="Code of the carrier that operates it."
    )
    version: str | None = version_field()


@strawberry.type(description="Result of `putVehicle`.")
class PutVehiclePayload:
    vehicle: Vehicle | None = strawberry.field(description="The vehicle as it reads now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was written.")


@strawberry.input(description="A device, whole: created, or replaced by its code. Its broker "
                  "password is not part of it and stays as it was.")
class PutDeviceInput:
    code: str = strawberry.field(
        description="Its code, which is its MQTT user name and client id: letters, digits, "
        "`_`, `.` and `-`, not starting with `keylink-`."
    )
    kind: DeviceKind = strawberry.field(description="What it is.")
    vehicle_code: str | None = strawberry.field(
        default=None, description="Code of the vehicle it is mounted on."
    )
    site_code: str | None = strawberry.field(
        default=None, description="Code of the site a scanner is installed at."
    )
    owntracks_id: str | None = strawberry.field(
        default=None, description="For an OwnTracks app, its `USER/DEVICE`."
    )
    enabled: bool = strawberry.field(
        default=True, description="Whether its messages are taken; default true."
    )
    version: str | None = version_field()


@strawberry.type(description="Result of `putDevice`.")
class PutDevicePayload:
    device: Device | None = strawberry.field(description="The device as written.")
    errors: list[UserError] = strawberry.field(description="Why nothing was written.")


@strawberry.input(description="One leg of a shipment, from a site to the next.")
class PutShipmentLegInput:
    mode: TransportMode = strawberry.field(description="Road, rail or water.")
    vehicle_code: str | None = strawberry.field(
        default=None, description="Code of the vehicle that carries it."
    )
    origin_code: str = strawberry.field(
        description="Code of the site it starts from: where the previous leg ends."
    )
    destination_code: str = strawberry.field(description="Code of the site it ends at.")
    planned_departure: dt.datetime = strawberry.field(
        description="Planned departure, with its offset."
    )
    planned_arrival: dt.datetime = strawberry.field(
        description="Planned arrival, with its offset."
    )
    promised_by: dt.datetime | None = strawberry.field(
        default=None, description="Latest end of the delivery windows promised for it."
    )
    coil_numbers: list[str] = strawberry.field(
        default_factory=list, description="Its manifest: the numbers of the coils aboard, at "
        "most 2,000, each on no other open shipment."
    )


@strawberry.input(description="A shipment, whole, with its legs in order: created, or "
                  "replaced by its number. Once a leg has left, its vehicle and manifest "
                  "stay as they were.")
class PutShipmentInput:
    number: str = strawberry.field(
        description="Its number, the plant's identity for it: a new number creates, a known "
        "one replaces."
    )
    carrier_code: str | None = strawberry.field(
        default=None, description="Code of the carrier."
    )
    legs: list[PutShipmentLegInput] = strawberry.field(
        description="Its legs, in order: 1 to 20, each starting where the previous one ended."
    )
    version: str | None = version_field()


@strawberry.type(description="Result of `putShipment`.")
class PutShipmentPayload:
    shipment: Shipment | None = strawberry.field(description="The shipment as it reads now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was written.")


_SITE: Names = {"key": "code", "organization": "organizationCode"}
_VEHICLE: Names = {"key": "code", "carrier": "carrierCode"}
_DEVICE: Names = {"key": "code", "vehicle": "vehicleCode", "site": "siteCode"}
_SHIPMENT: Names = {
    "key": "number", "carrier": "carrierCode",
    "legs": ("legs", {"vehicle": "vehicleCode", "origin": "originCode",
                      "destination": "destinationCode", "coils": "coilNumbers"}),
}


def _leg(leg: PutShipmentLegInput) -> dict[str, Any]:
    return without_nulls({
        "mode": leg.mode.value, "vehicle": leg.vehicle_code, "origin": leg.origin_code,
        "destination": leg.destination_code,
        "plannedDeparture": leg.planned_departure.isoformat(),
        "plannedArrival": leg.planned_arrival.isoformat(),
        "promisedBy": leg.promised_by.isoformat() if leg.promised_by else None,
        "coils": list(leg.coil_numbers),
    })


_WRITES = "Writes `{0}.created` or `{0}.updated` (roles: {1})."


@strawberry.type
class ShipmentRecordMutations:
    @strawberry.mutation(
        description="Logistics records a site by its code, checked as the plant feeds' "
        "sites are (a valid fence, a known owner and time zone). " + _WRITES.format(
            "site", roles("site"))
    )
    async def put_site(
        self, info: Info[Any, Any], input: Annotated[PutSiteInput, INPUT],
    ) -> PutSitePayload:
        data = without_nulls({
            "name": input.name, "kind": input.kind.value,
            "organization": input.organization_code, "latitude": input.latitude,
            "longitude": input.longitude, "geofence": input.geofence,
            "geofenceRadiusM": input.geofence_radius_m, "timeZone": input.time_zone,
        })
        row_id, errors = await put_record(info, "site", input.code, data, input.version, _SITE)
        found = await loaders(info).get(SiteByIdLoader).load(row_id) if row_id else None
        return PutSitePayload(site=Site.of(found) if found else None, errors=errors)

    @strawberry.mutation(
        description="Logistics records a vehicle by its code (a ship with its MMSI). "
        + _WRITES.format("vehicle", roles("vehicle"))
    )
    async def put_vehicle(
        self, info: Info[Any, Any], input: Annotated[PutVehicleInput, INPUT],
    ) -> PutVehiclePayload:
        data = without_nulls({
            "kind": input.kind.value, "name": input.name, "plate": input.plate,
            "mmsi": input.mmsi, "imo": input.imo, "carrier": input.carrier_code,
        })
        row_id, errors = await put_record(info, "vehicle", input.code, data, input.version,
                                          _VEHICLE)
        found = await loaders(info).get(VehicleByIdLoader).load(row_id) if row_id else None
        return PutVehiclePayload(vehicle=Vehicle.of(found) if found else None, errors=errors)

    @strawberry.mutation(
        description="Logistics records a device by its code: what it is, the vehicle or "
        "site it is bound to, whether it is enabled. Its broker password is set apart. "
        + _WRITES.format("device", roles("device"))
    )
    async def put_device(
        self, info: Info[Any, Any], input: Annotated[PutDeviceInput, INPUT],
    ) -> PutDevicePayload:
        data = without_nulls({
            "kind": str(input.kind.value), "vehicle": input.vehicle_code, "site": input.site_code,
            "owntracksId": input.owntracks_id, "enabled": input.enabled,
        })
        row_id, errors = await put_record(info, "device", input.code, data, input.version,
                                          _DEVICE)
        found = await loaders(info).get(DeviceByIdLoader).load(row_id) if row_id else None
        return PutDevicePayload(device=Device.of(found) if found else None, errors=errors)

    @strawberry.mutation(
        description="Logistics plans a shipment by its number, with its legs and their "
        "manifests, checked as the plant feeds' shipments are: each leg starts where the "
        "previous one ended, a coil is on one open shipment at a time (`CONFLICT`), a leg "
        "that has left keeps its vehicle and manifest. The customers of its coils are told. "
        + _WRITES.format("shipment", roles("shipment"))
    )
    async def put_shipment(
        self, info: Info[Any, Any], input: Annotated[PutShipmentInput, INPUT],
    ) -> PutShipmentPayload:
        data = without_nulls({"carrier": input.carrier_code,
                              "legs": [_leg(leg) for leg in input.legs]})
        row_id, errors = await put_record(info, "shipment", input.number, data, input.version,
                                          _SHIPMENT)
        found = await loaders(info).get(ShipmentByIdLoader).load(row_id) if row_id else None
        return PutShipmentPayload(shipment=Shipment.of(found) if found else None,
                                  errors=errors)
