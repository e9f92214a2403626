"""Organizations, sites, steel specs and the viewer."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import parties
from domain.quality.model import SpecLimitsState
from resolvers.common import loaders
from resolvers.loaders import OrganizationByIdLoader
from resolvers.quality.limits import SpecLimits
from resolvers.quality.loaders import LimitsBySpecLoader
from resolvers.relay import Node


@strawberry.enum(description="What part an organization plays.")
class OrganizationKind(enum.Enum):
    MILL = "mill"
    CUSTOMER = "customer"
    CARRIER = "carrier"


@strawberry.type(description="The mill, a key customer, or a carrier.")
class Organization(Node):
    code: str = strawberry.field(description="Short unique code, e.g. `FAW-VW`.")
    name: str = strawberry.field(description="Full name.")
    kind: OrganizationKind = strawberry.field(description="Mill, customer or carrier.")

    @classmethod
    def of(cls, o: parties.Organization) -> Organization:
        return cls(pk=o.id, code=o.code, name=o.name, kind=OrganizationKind(o.kind))


@strawberry.enum(description="What kind of place a site is; dwell rules differ per kind.")
class SiteKind(enum.Enum):
    PLANT = "plant"
    PORT = "port"
    RAIL_STATION = "rail_station"
    CUSTOMER_WAREHOUSE = "customer_warehouse"


@strawberry.type(description="A place material passes: a plant, port, rail station or warehouse.")
class Site(Node):
    code: str = strawberry.field(description="Unique code, as scanners report it.")
    name: str = strawberry.field(description="Name.")
    kind: SiteKind = strawberry.field(description="Plant, port, rail station or warehouse.")
    latitude: float = strawberry.field(description="Latitude of the site's centre, WGS 84.")
    longitude: float = strawberry.field(description="Longitude of the site's centre, WGS 84.")
    geofence: JSON | None = strawberry.field(
        description="GeoJSON Polygon or MultiPolygon of the fence; null for a circular fence."
    )
    geofence_radius_m: float | None = strawberry.field(
        description="Radius of a circular fence around the centre, in metres."
    )
    time_zone: str = strawberry.field(description="IANA time zone, e.g. `Asia/Shanghai`.")
    owner_pk: strawberry.Private[int | None]

    @strawberry.field(description="The organization that runs the site; null for shared ones.")
    async def owner(self, info: Info[Any, Any]) -> Organization | None:
        if self.owner_pk is None:
            return None
        org = await loaders(info).get(OrganizationByIdLoader).load(self.owner_pk)
        return Organization.of(org) if org else None

    @classmethod
    def of(cls, s: parties.Site) -> Site:
        return cls(
            pk=s.id, code=s.code, name=s.name, kind=SiteKind(s.kind), latitude=s.latitude,
            longitude=s.longitude, geofence=JSON(s.geofence) if s.geofence else None,
            geofence_radius_m=s.geofence_radius_m,
            time_zone=s.time_zone, owner_pk=s.org_id,
        )


@strawberry.enum(description="Product family, which decides the route through the mill.")
class Product(enum.Enum):
    HOT_ROLLED = "hot_rolled"
    COLD_ROLLED = "cold_rolled"
    GALVANIZED = "galvanized"
    ELECTROGALVANIZED = "electrogalvanized"
    GALVANNEALED = "galvannealed"
    TINPLATE = "tinplate"
    ELECTRICAL = "electrical"


@strawberry.type(description="A steel specification: grade, standard, dimensions, coating.")
class SteelSpec(Node):
    code: str = strawberry.field(description="The mill's spec code.")
    grade: str = strawberry.field(description="Steel grade, e.g. `DC04`, `HC340LA`, `DX51D+Z`.")
    standard: str = strawberry.field(
        description="Standard the grade is defined in, e.g. `EN 10130`."
    )
    product: Product = strawberry.field(description="Product family.")
    thickness_mm: Decimal = strawberry.field(description="Nominal thickness in millimetres.")
    width_mm: Decimal = strawberry.field(description="Nominal width in millimetres.")
    coating: str | None = strawberry.field(description="Coating designation, e.g. `Z275`.")
    customer_part_number: str | None = strawberry.field(
        description="The customer's own part number for this spec, if it has one."
    )
    coil_nominal_weight_t: Decimal = strawberry.field(description="Nominal coil weight in tonnes.")

    @strawberry.field(description="Revision of its limits: 0 until limits are set, then one "
                      "more each time they change. A certificate names the revision it was "
                      "checked against (`QualityCertificate.limitsRevision`).")
    async def limits_revision(self, info: Info[Any, Any]) -> int:
        state = await self._limits(info)
        return state.revision if state else 0

    @strawberry.field(description="When its limits last changed; null while it has none.")
    async def limits_changed_at(self, info: Info[Any, Any]) -> dt.datetime | None:
        state = await self._limits(info)
        return state.changed_at if state else None

    @strawberry.field(description="The limits of its standard that certificates are checked "
                      "against now; null while none are set.")
    async def limits(self, info: Info[Any, Any]) -> SpecLimits | None:
        state = await self._limits(info)
        return SpecLimits.of(state.limits) if state and state.limits else None

    async def _limits(self, info: Info[Any, Any]) -> SpecLimitsState | None:
        found: SpecLimitsState | None = await loaders(info).get(LimitsBySpecLoader).load(self.pk)
        return found

    @classmethod
    def of(cls, s: parties.SteelSpec) -> SteelSpec:
        return cls(
            pk=s.id, code=s.code, grade=s.grade, standard=s.standard, product=Product(s.product),
            thickness_mm=s.thickness_mm, width_mm=s.width_mm, coating=s.coating,
            customer_part_number=s.customer_part_number,
            coil_nominal_weight_t=s.coil_nominal_weight_t,
        )


@strawberry.type(description="Who is asking: the bearer of the token.")
class Viewer:
    subject: str = strawberry.field(description="The token's subject (`sub`).")
    roles: list[str] = strawberry.field(description="Roles the token grants.")
    organization: Organization = strawberry.field(description="The viewer's organization.")
    is_customer: bool = strawberry.field(
        description="True for a customer, who sees only its own organization's data."
    )
