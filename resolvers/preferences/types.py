"""GraphQL types of a customer's preferences, saved views and order form."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.contracts import order_lines
from domain.preferences import model as preference_model
from domain.preferences import views
from resolvers.common import loaders
from resolvers.contracts.types import Firmness, TransportMode
from resolvers.loaders import OrganizationByIdLoader, SiteByIdLoader, SpecByIdLoader
from resolvers.parties import Organization, Site, SteelSpec
from resolvers.relay import to_global_id


@strawberry.enum(description="How a customer's front end shows quantities; the API itself "
                 "always speaks tonnes, kilograms and millimetres.")
class Units(enum.Enum):
    METRIC = "metric"
    IMPERIAL = "imperial"


async def _site(info: Info[Any, Any], pk: int | None) -> Site | None:
    if pk is None:
        return None
    found = await loaders(info).get(SiteByIdLoader).load(pk)
    return Site.of(found) if found else None


@strawberry.type(description="How a customer prefers goods to travel to one delivery site.")
class TransportPreference:
    transport_mode: TransportMode = strawberry.field(description="Road, rail or water.")
    transit_days: int = strawberry.field(description="Days from the mill to the site.")
    site_pk: strawberry.Private[int]

    @strawberry.field(description="The delivery site.")
    async def site(self, info: Info[Any, Any]) -> Site | None:
        return await _site(info, self.site_pk)

    @classmethod
    def of(cls, t: preference_model.TransportPreference) -> TransportPreference:
        return cls(transport_mode=TransportMode(t.transport_mode), transit_days=t.transit_days,
                   site_pk=t.site_id)


@strawberry.type(description="A customer organization's own way of working.")
class CustomerPreferences:
    units: Units = strawberry.field(description="Units its front end shows.")
    language: str = strawberry.field(description="BCP 47 language tag, e.g. `zh-CN`.")
    time_zone: str = strawberry.field(description="IANA time zone, e.g. `Asia/Shanghai`.")
    currency: str = strawberry.field(description="ISO 4217 currency of its new contracts.")
    transport: list[TransportPreference] = strawberry.field(
        description="Its preferred transport per delivery site.")
    updated_at: dt.datetime | None = strawberry.field(
        description="Last change; null while it has set nothing.")
    updated_by: str | None = strawberry.field(description="Who made the last change.")
    org_pk: strawberry.Private[int]
    site_pk: strawberry.Private[int | None]

    @strawberry.field(description="The organization these preferences are for.")
    async def organization(self, info: Info[Any, Any]) -> Organization | None:
        org = await loaders(info).get(OrganizationByIdLoader).load(self.org_pk)
        return Organization.of(org) if org else None

    @strawberry.field(description="Where its new lines are delivered unless they say.")
    async def default_delivery_site(self, info: Info[Any, Any]) -> Site | None:
        return await _site(info, self.site_pk)

    @classmethod
    def of(cls, p: preference_model.Preferences,
           transport: list[preference_model.TransportPreference]) -> CustomerPreferences:
        return cls(
            units=Units(p.units), language=p.language, time_zone=p.time_zone,
            currency=p.currency, transport=[TransportPreference.of(t) for t in transport],
            updated_at=p.updated_at, updated_by=p.updated_by, org_pk=p.org_id,
            site_pk=p.default_delivery_site_id,
        )


@strawberry.enum(description="What a saved view lists.")
class SavedViewTarget(enum.Enum):
    CONTRACTS = "contracts"
    SHIPMENTS = "shipments"


@strawberry.type(description="A user's named filter over contracts or shipments; only "
                 "that user sees it.")
class SavedView:
    name: str = strawberry.field(description="Its name, unique per user.")
    target: SavedViewTarget = strawberry.field(description="Contracts or shipments.")
    filter: JSON = strawberry.field(
        description="The filter, as the `filter` argument of `contracts` or `shipments` "
        "takes it: send it back as that variable.")
    landing: bool = strawberry.field(description="The user lands on this view.")
    created_at: dt.datetime = strawberry.field(description="When it was saved first.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")
    pk: strawberry.Private[int]

    @strawberry.field(description="Global, opaque id of this view.")
    def id(self) -> strawberry.ID:
        return to_global_id("SavedView", self.pk)

    @classmethod
    def of(cls, v: views.SavedView) -> SavedView:
        return cls(pk=v.id, name=v.name, target=SavedViewTarget(v.target),
                   filter=JSON(v.filter), landing=v.landing, created_at=v.created_at,
                   updated_at=v.updated_at)


@strawberry.type(description="What a new line takes where the form leaves a field out.")
class LineDefaults:
    transport_mode: TransportMode = strawberry.field(description="Preferred mode to the site.")
    transit_days: int = strawberry.field(description="Days from the mill to the site.")
    firmness: Firmness = strawberry.field(description="How binding a new line is.")
    currency: str = strawberry.field(description="Currency of the prices.")
    units: Units = strawberry.field(description="Units the customer's front end shows.")
    language: str = strawberry.field(description="The customer's language.")
    time_zone: str = strawberry.field(description="The customer's time zone.")
    site_pk: strawberry.Private[int | None]

    @strawberry.field(description="Delivery site; null when none is known yet.")
    async def delivery_site(self, info: Info[Any, Any]) -> Site | None:
        return await _site(info, self.site_pk)

    @classmethod
    def of(cls, d: preference_model.LineDefaults) -> LineDefaults:
        return cls(transport_mode=TransportMode(d.transport_mode), transit_days=d.transit_days,
                   firmness=Firmness.FIRM, currency=d.currency, units=Units(d.units),
                   language=d.language, time_zone=d.time_zone, site_pk=d.delivery_site_id)


@strawberry.type(description="A site the customer may take delivery at, with its route.")
class DeliveryOption:
    transport_mode: TransportMode = strawberry.field(description="Mode a line there takes.")
    transit_days: int = strawberry.field(description="Days from the mill to the site.")
    default: bool = strawberry.field(description="The customer's default delivery site.")
    site_pk: strawberry.Private[int]

    @strawberry.field(description="The site.")
    async def site(self, info: Info[Any, Any]) -> Site | None:
        return await _site(info, self.site_pk)


@strawberry.type(description="A spec the customer orders, with its latest price.")
class SpecOption:
    last_unit_price: Decimal | None = strawberry.field(
        description="Its latest price per tonne to this customer (a new line's default); "
        "null when it has none, and a line must give one.")
    spec_pk: strawberry.Private[int]

    @strawberry.field(description="The spec.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        found = await loaders(info).get(SpecByIdLoader).load(self.spec_pk)
        return SteelSpec.of(found) if found else None


@strawberry.type(description="A customer's own form for a new order or plan line: its "
                 "defaults and the options it may choose from.")
class OrderForm:
    defaults: LineDefaults = strawberry.field(description="What a line left blank takes.")
    earliest_delivery_from: dt.date = strawberry.field(
        description="The earliest window start the mill can plan for without being late.")
    delivery_sites: list[DeliveryOption] = strawberry.field(
        description="Where it may take delivery: its own sites and shared ports and stations.")
    specs: list[SpecOption] = strawberry.field(
        description="Its own specs and the catalogue specs it has bought; any catalogue spec "
        "is accepted with a price.")
    transport_modes: list[TransportMode] = strawberry.field(description="Modes to choose from.")
    firmness_options: list[Firmness] = strawberry.field(description="Firmness to choose from.")
    org_pk: strawberry.Private[int]

    @strawberry.field(description="The customer the form is for.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        org = await loaders(info).get(OrganizationByIdLoader).load(self.org_pk)
        return Organization.of(org) if org else None

    @classmethod
    def of(cls, f: order_lines.OrderForm) -> OrderForm:
        return cls(
            defaults=LineDefaults.of(f.defaults), earliest_delivery_from=f.earliest_delivery_from,
            delivery_sites=[DeliveryOption(transport_mode=TransportMode(s.transport_mode),
                                           transit_days=s.transit_days, default=s.default,
                                           site_pk=s.site_id) for s in f.sites],
            specs=[SpecOption(last_unit_price=s.last_unit_price, spec_pk=s.spec_id)
                   for s in f.specs],
            transport_modes=list(TransportMode), firmness_options=list(Firmness),
            org_pk=f.org_id,
        )
