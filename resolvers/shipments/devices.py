"""The device registry over GraphQL, for the mill's logistics staff: `devices` (filtered
keyset pages in code order), `Device` nodes, and the mutations `disableDevice`,
`enableDevice`, `rotateDevicePassword` and `bindDevice`.

The domain (`domain.shipments.devices`) decides who may do what: the query turns its
refusal into a `FORBIDDEN` error, the mutations into typed payload errors. A device's id
reads to anyone who may not list devices like an id that does not exist.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.errors import DomainError
from domain.shipments import devices
from resolvers.common import INPUT, UserError, act, ctx, viewer
from resolvers.parties import Site
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    Node,
    after_text,
    check_first,
    connection,
    expect_id,
)
from resolvers.shipments.loaders import DeviceByIdLoader
from resolvers.shipments.types import AFTER, FIRST
from resolvers.shipments.vehicles import Vehicle, site_of, vehicle_of

if TYPE_CHECKING:
    pass

# The longest device code (the table's CHECK): what a cursor of `devices` may hold.
CODE_LENGTH = 64


class Refused(BadInput):
    """A domain refusal of a query, which has no payload to carry it: reported under the
    domain's own code (`FORBIDDEN`)."""

    def __init__(self, exc: DomainError) -> None:
        super().__init__(exc.message)
        self.code = exc.code


@strawberry.enum(description="What a device is, which decides what it may publish and what "
                 "it is bound to.")
class DeviceKind(enum.Enum):
    GPS_UNIT = strawberry.enum_value(
        "gps_unit", description="A GPS tracker (or an OwnTracks phone) on a vehicle: "
        "publishes the vehicle's positions. Bound to a vehicle, never to a site.")
    AIS_GATEWAY = strawberry.enum_value(
        "ais_gateway", description="An AIS receiver aboard a ship or on a quay: relays the "
        "AIS sentences of the vessels it hears, stored for the vessel each names.")
    SCANNER = strawberry.enum_value(
        "scanner", description="A barcode scanner, handheld on a vehicle or fixed at a "
        "site: publishes coil label scans.")


@strawberry.type(description="A device registered to publish to the MQTT broker: the mill's "
                 "logistics staff (roles logistics or admin) list and manage them.")
class Device(Node):
    code: str = strawberry.field(
        description="Its code: its MQTT user name, client id and topic level.")
    kind: DeviceKind = strawberry.field(description="GPS unit, AIS gateway or scanner.")
    owntracks_id: str | None = strawberry.field(
        description="For an OwnTracks app, `CODE/DEVICE`: it publishes under "
        "`owntracks/CODE/DEVICE`.")
    enabled: bool = strawberry.field(
        description="Whether its messages are taken. A disabled device's are refused "
        "(`DISABLED_DEVICE`) by the ingesters within a second, and its login is left "
        "out of the broker's next access file.")
    has_broker_login: bool = strawberry.field(
        description="Whether it has a broker password (only its hash is kept); without one "
        "the broker's files name no login for it.")
    created_at: dt.datetime = strawberry.field(description="When it was registered.")
    vehicle_pk: strawberry.Private[int | None]
    site_pk: strawberry.Private[int | None]

    @strawberry.field(description="The vehicle it is on; null when it is bound to none.")
    async def vehicle(self, info: Info[Any, Any]) -> Vehicle | None:
        return await vehicle_of(info, self.vehicle_pk)

    @strawberry.field(description="The site it is at (a scanner at a dock, an AIS gateway "
                      "on a quay); null when it is bound to none.")
    async def site(self, info: Info[Any, Any]) -> Site | None:
        return await site_of(info, self.site_pk)

    @classmethod
    def of(cls, d: devices.Device) -> Device:
        return cls(pk=d.id, code=d.code, kind=DeviceKind(d.kind), owntracks_id=d.owntracks_id,
                   enabled=d.enabled, has_broker_login=d.has_login, created_at=d.created_at,
                   vehicle_pk=d.vehicle_id, site_pk=d.site_id)


@strawberry.input(description="Narrows `devices`; all given conditions must hold.")
class DeviceFilter:
    kinds: list[DeviceKind] | None = strawberry.field(
        default=None, description="Of any of these kinds.")
    enabled: bool | None = strawberry.field(
        default=None, description="Only enabled (true) or only disabled (false) devices.")
    vehicle_id: strawberry.ID | None = strawberry.field(
        default=None, description="Bound to this vehicle (global id).")
    site_id: strawberry.ID | None = strawberry.field(
        default=None, description="Bound to this site (global id).")


def _filter(flt: DeviceFilter | None) -> devices.DeviceFilter:
    if flt is None:
        return devices.DeviceFilter()
    return devices.DeviceFilter(
        kinds=[str(k.value) for k in flt.kinds or []], enabled=flt.enabled,
        vehicle=expect_id(flt.vehicle_id, "Vehicle") if flt.vehicle_id else None,
        site=expect_id(flt.site_id, "Site") if flt.site_id else None,
    )


@strawberry.type
class DeviceQueries:
    @strawberry.field(description="Registered devices in code order, a keyset page at a "
                      "time: for the mill's staff with the role logistics or admin; anyone "
                      "else is refused (`FORBIDDEN`).")
    async def devices(
        self, info: Info[Any, Any],
        filter: Annotated[DeviceFilter | None, strawberry.argument(
            description="Conditions the devices must meet.")] = None,
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Device]:
        await viewer(info)
        check_first(first)
        cursor, flt = after_text(after, longest=CODE_LENGTH), _filter(filter)
        try:
            rows = await devices.list_devices(ctx(info).db, await ctx(info).actor(), flt,
                                              first + 1, cursor)
        except DomainError as exc:
            raise Refused(exc) from None
        cache = ctx(info).loaders.get(DeviceByIdLoader)
        for row in rows:
            cache.prime(row.id, row)
        return connection([(Device.of(d), [d.code]) for d in rows], first, after is not None)


@strawberry.input(description="Names a device.")
class DeviceIdInput:
    device_id: strawberry.ID = strawberry.field(description="Global id of the device.")


@strawberry.input(description="Binds a device to a vehicle or to a site: give exactly one. "
                  "A GPS unit is bound to a vehicle only; a scanner or an AIS gateway to "
                  "either.")
class BindDeviceInput:
    device_id: strawberry.ID = strawberry.field(description="Global id of the device.")
    vehicle_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the vehicle it is on from now.")
    site_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the site it is at from now.")


@strawberry.type(description="Result of a device mutation.")
class DevicePayload:
    device: Device | None = strawberry.field(description="The device after the change.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="Result of `rotateDevicePassword`.")
class RotateDevicePasswordPayload:
    device: Device | None = strawberry.field(description="The device after the change.")
    password: str | None = strawberry.field(
        description="Its new broker password, shown only here: Keylink keeps its hash "
        "alone. Put it into the device, then write the broker's access file again (`keylink "
        "devices mosquitto-dynsec`) and restart the broker; until then the old one works.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _payload(found: devices.Device | None, errors: list[UserError]) -> DevicePayload:
    return DevicePayload(device=Device.of(found) if found else None, errors=errors)


def _device_id(input: DeviceIdInput | BindDeviceInput) -> int:
    return expect_id(input.device_id, "Device")


@strawberry.type
class DeviceMutations:
    @strawberry.mutation(description="Switch a device off (roles: logistics, admin): the "
                         "ingesters refuse its messages within a second (they follow the "
                         "registry's changes), and the broker's next access file "
                         "leaves its login out.")
    async def disable_device(
        self, info: Info[Any, Any], input: Annotated[DeviceIdInput, INPUT],
    ) -> DevicePayload:
        async def run(who: Actor) -> devices.Device:
            return await devices.disable_device(ctx(info).db, who, _device_id(input))

        return _payload(*await act(info, run))

    @strawberry.mutation(description="Switch a disabled device back on (roles: logistics, "
                         "admin).")
    async def enable_device(
        self, info: Info[Any, Any], input: Annotated[DeviceIdInput, INPUT],
    ) -> DevicePayload:
        async def run(who: Actor) -> devices.Device:
            return await devices.enable_device(ctx(info).db, who, _device_id(input))

        return _payload(*await act(info, run))

    @strawberry.mutation(description="Give a device a new random broker password, returned "
                         "once (roles: logistics, admin); the broker takes it when its access "
                         "file is written again and it restarts.")
    async def rotate_device_password(
        self, info: Info[Any, Any], input: Annotated[DeviceIdInput, INPUT],
    ) -> RotateDevicePasswordPayload:
        async def run(who: Actor) -> devices.IssuedPassword:
            return await devices.rotate_password(ctx(info).db, who, _device_id(input))

        issued, errors = await act(info, run)
        if issued is None:
            return RotateDevicePasswordPayload(device=None, password=None, errors=errors)
        return RotateDevicePasswordPayload(device=Device.of(issued.device),
                                           password=issued.password, errors=[])

    @strawberry.mutation(description="Bind a device to another vehicle, or to a site (roles: "
                         "logistics, admin); its next messages count for it within a "
                         "second.")
    async def bind_device(
        self, info: Info[Any, Any], input: Annotated[BindDeviceInput, INPUT],
    ) -> DevicePayload:
        async def run(who: Actor) -> devices.Device:
            return await devices.bind_device(
                ctx(info).db, who, _device_id(input),
                vehicle=expect_id(input.vehicle_id, "Vehicle") if input.vehicle_id else None,
                site=expect_id(input.site_id, "Site") if input.site_id else None)

        return _payload(*await act(info, run))
