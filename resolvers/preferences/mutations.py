"""Mutations of the individualized interface: preferences, transport per site, views."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from domain.actor import Actor
from domain.errors import Invalid
from domain.preferences import model as preference_model
from domain.preferences import reads as preference_reads
from domain.preferences import views
from domain.preferences import writes as preference_writes
from resolvers.common import INPUT, UserError, act, ctx, customer_id_of
from resolvers.contracts.queries import ContractFilter
from resolvers.contracts.types import TransportMode
from resolvers.preferences.types import CustomerPreferences, SavedView, Units
from resolvers.relay import expect_id
from resolvers.shipments.queries import ShipmentFilter

# Who may change a customer's preferences: the customer, or the mill's sales for it.
CUSTOMER_FIELD = "Global id of the customer (the mill's staff); a customer changes its own."


@strawberry.input(description="Preferences to change; fields left out stay as they are.")
class UpdatePreferencesInput:
    customer_id: strawberry.ID | None = strawberry.field(default=None, description=CUSTOMER_FIELD)
    default_delivery_site_id: strawberry.ID | None = strawberry.field(
        default=None, description="Where new lines are delivered unless they say.")
    clear_default_delivery_site: bool = strawberry.field(
        default=False, description="Unset the default delivery site.")
    units: Units | None = strawberry.field(default=None, description="Units to show.")
    language: str | None = strawberry.field(default=None, description="BCP 47 tag, e.g. de-DE.")
    time_zone: str | None = strawberry.field(default=None, description="IANA time zone.")
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 currency of new contracts.")


@strawberry.input(description="The preferred transport to one delivery site.")
class SetTransportPreferenceInput:
    site_id: strawberry.ID = strawberry.field(description="Global id of the delivery site.")
    transport_mode: TransportMode = strawberry.field(description="Road, rail or water.")
    transit_days: int = strawberry.field(description="Days from the mill to the site, 0-120.")
    customer_id: strawberry.ID | None = strawberry.field(default=None, description=CUSTOMER_FIELD)


@strawberry.input(description="Forget the preferred transport to one delivery site.")
class RemoveTransportPreferenceInput:
    site_id: strawberry.ID = strawberry.field(description="Global id of the delivery site.")
    customer_id: strawberry.ID | None = strawberry.field(default=None, description=CUSTOMER_FIELD)


@strawberry.type(description="Result of a preferences mutation.")
class PreferencesPayload:
    preferences: CustomerPreferences | None = strawberry.field(
        description="The preferences after the change.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Save a named filter (give `id` to replace one of yours); "
                  "exactly one of `contracts` and `shipments`.")
class SaveViewInput:
    name: str = strawberry.field(description="Its name, unique among your views.")
    contracts: ContractFilter | None = strawberry.field(
        default=None, description="A filter over contracts.")
    shipments: ShipmentFilter | None = strawberry.field(
        default=None, description="A filter over shipments.")
    id: strawberry.ID | None = strawberry.field(default=None, description="The view to replace.")
    landing: bool | None = strawberry.field(
        default=None, description="Land on it (true), or not any more (false).")


@strawberry.type(description="Result of `saveView`.")
class SaveViewPayload:
    view: SavedView | None = strawberry.field(description="The view saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="Delete one of your saved views.")
class DeleteViewInput:
    id: strawberry.ID = strawberry.field(description="Global id of the view.")


@strawberry.type(description="Result of `deleteView`.")
class DeleteViewPayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The view deleted.")
    errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


@strawberry.input(description="Choose the view you land on.")
class SetLandingViewInput:
    view_id: strawberry.ID | None = strawberry.field(
        default=None, description="One of your views; null lands on nothing in particular.")


@strawberry.type(description="Result of `setLandingView`.")
class SetLandingViewPayload:
    view: SavedView | None = strawberry.field(description="The landing view now.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def input_json(value: Any) -> Any:
    """A filter input as the JSON a client sends for it: camelCase names, enum names,
    ISO dates, decimals as strings; fields left out stay out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is not None and item is not strawberry.UNSET:
                out[to_camel_case(f.name)] = input_json(item)
        return out
    if isinstance(value, list):
        return [input_json(x) for x in value]
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dt.date | Decimal):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


async def _prefs(info: Info[Any, Any], org: int) -> CustomerPreferences:
    db = ctx(info).db
    return CustomerPreferences.of(await preference_reads.preferences(db, org),
                                  await preference_reads.transport_preferences(db, org))


@strawberry.type
class PreferenceMutations:
    @strawberry.mutation(description="Change a customer's preferences (the customer, or "
                         "sales for it).")
    async def update_preferences(
        self, info: Info[Any, Any], input: Annotated[UpdatePreferencesInput, INPUT],
    ) -> PreferencesPayload:
        async def run(who: Actor) -> CustomerPreferences:
            db = ctx(info).db
            org = await preference_writes.customer_to_edit(
                db, who, customer_id_of(input.customer_id))
            site = input.default_delivery_site_id
            changes = preference_model.PreferenceChanges(
                default_delivery_site_id=expect_id(site, "Site") if site else None,
                clear_default_site=input.clear_default_delivery_site,
                units=input.units.value if input.units else None, language=input.language,
                time_zone=input.time_zone, currency=input.currency)
            async with db.transaction() as tx:
                await preference_writes.set_preferences(tx, org, changes, actor=who)
            return await _prefs(info, org)

        found, errors = await act(info, run)
        return PreferencesPayload(preferences=found, errors=errors)

    @strawberry.mutation(description="Set how a customer prefers goods to travel to one of "
                         "its delivery sites (the customer, or sales for it).")
    async def set_transport_preference(
        self, info: Info[Any, Any], input: Annotated[SetTransportPreferenceInput, INPUT],
    ) -> PreferencesPayload:
        async def run(who: Actor) -> CustomerPreferences:
            db = ctx(info).db
            org = await preference_writes.customer_to_edit(
                db, who, customer_id_of(input.customer_id))
            async with db.transaction() as tx:
                await preference_writes.set_transport_preference(
                    tx, org, expect_id(input.site_id, "Site"), input.transport_mode.value,
                    input.transit_days, actor=who)
            return await _prefs(info, org)

        found, errors = await act(info, run)
        return PreferencesPayload(preferences=found, errors=errors)

    @strawberry.mutation(description="Forget the preferred transport to a delivery site.")
    async def remove_transport_preference(
        self, info: Info[Any, Any], input: Annotated[RemoveTransportPreferenceInput, INPUT],
    ) -> PreferencesPayload:
        async def run(who: Actor) -> CustomerPreferences:
            db = ctx(info).db
            org = await preference_writes.customer_to_edit(
                db, who, customer_id_of(input.customer_id))
            if not await preference_writes.remove_transport_preference(
                    db, org, expect_id(input.site_id, "Site"), actor=who):
                raise Invalid("no transport preference for that site", field="siteId")
            return await _prefs(info, org)

        found, errors = await act(info, run)
        return PreferencesPayload(preferences=found, errors=errors)

    @strawberry.mutation(description="Save a named filter over contracts or shipments for "
                         "yourself, or replace one of yours.")
    async def save_view(
        self, info: Info[Any, Any], input: Annotated[SaveViewInput, INPUT],
    ) -> SaveViewPayload:
        async def run(who: Actor) -> SavedView:
            if (input.contracts is None) == (input.shipments is None):
                raise Invalid("give exactly one of contracts and shipments", field="contracts")
            target = "contracts" if input.contracts is not None else "shipments"
            flt = input_json(input.contracts or input.shipments)
            async with ctx(info).db.transaction() as tx:
                view = await views.save_view(
                    tx, who,
                    view_id=expect_id(input.id, "SavedView") if input.id else None,
                    name=input.name, target=target, filter=flt, landing=input.landing)
            return SavedView.of(view)

        view, errors = await act(info, run)
        return SaveViewPayload(view=view, errors=errors)

    @strawberry.mutation(description="Delete one of your saved views.")
    async def delete_view(
        self, info: Info[Any, Any], input: Annotated[DeleteViewInput, INPUT],
    ) -> DeleteViewPayload:
        async def run(who: Actor) -> strawberry.ID:
            await views.delete_view(ctx(info).db, who, expect_id(input.id, "SavedView"))
            return input.id

        deleted, errors = await act(info, run)
        return DeleteViewPayload(deleted_id=deleted, errors=errors)

    @strawberry.mutation(description="Choose the view you land on, or none.")
    async def set_landing_view(
        self, info: Info[Any, Any], input: Annotated[SetLandingViewInput, INPUT],
    ) -> SetLandingViewPayload:
        async def run(who: Actor) -> SavedView | None:
            pk = expect_id(input.view_id, "SavedView") if input.view_id else None
            async with ctx(info).db.transaction() as tx:
                found = await views.set_landing_view(tx, who, pk)
            return SavedView.of(found) if found else None

        view, errors = await act(info, run)
        return SetLandingViewPayload(view=view, errors=errors)
