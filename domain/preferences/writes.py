"""Changing a customer's preferences and transport, by the customer or the mill's sales staff."""

from __future__ import annotations

import zoneinfo

from domain import events, parties
from domain.actor import Actor
from domain.db import Executor
from domain.errors import Invalid
from domain.preferences.model import (
    _CURRENCY,
    _LANGUAGE,
    _PREF_COLS,
    MODES,
    PERMISSIONS,
    UNITS,
    PreferenceChanges,
    Preferences,
    TransportPreference,
)
from domain.preferences.reads import (
    check_delivery_site,
    preferences,
)


def _check(changes: PreferenceChanges) -> None:
    if changes.units is not None and changes.units not in UNITS:
        raise Invalid(f"units must be one of {', '.join(UNITS)}", field="units")
    if changes.language is not None and not _LANGUAGE.match(changes.language):
        raise Invalid("language must be a BCP 47 tag such as zh-CN or de-DE", field="language")
    if changes.currency is not None and not _CURRENCY.match(changes.currency):
        raise Invalid("currency must be an ISO 4217 code such as CNY", field="currency")
    if changes.time_zone is not None:
        try:
            zoneinfo.ZoneInfo(changes.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise Invalid(
                f"{changes.time_zone!r} is not an IANA time zone such as Asia/Shanghai",
                field="timeZone",
            ) from None


# Who may change a customer's preferences: the customer, or sales for it.


async def customer_to_edit(db: Executor, actor: Actor, customer_org_id: int | None) -> int:
    """The customer whose preferences ``actor`` changes, once it may change any."""
    PERMISSIONS.check(actor, "edit")
    return await parties.customer_acted_for(db, actor, customer_org_id)


def _may_edit(actor: Actor, org_id: int) -> None:
    PERMISSIONS.check(actor, "edit")
    actor.check_acts_for(org_id)


async def set_preferences(
    tx: Executor, org_id: int, changes: PreferenceChanges, *, actor: Actor
) -> Preferences:
    """Change the organization's preferences; fields left None stay as they are."""
    _may_edit(actor, org_id)
    _check(changes)
    if changes.default_delivery_site_id is not None:
        await check_delivery_site(tx, org_id, changes.default_delivery_site_id,
                                  "defaultDeliverySiteId")
    current = await preferences(tx, org_id)
    site = (None if changes.clear_default_site
            else changes.default_delivery_site_id or current.default_delivery_site_id)
    row = await tx.fetchrow(
        "INSERT INTO customer_preference (org_id, default_delivery_site_id, units, language,"
        " time_zone, currency, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, now(), $7)"
        " ON CONFLICT (org_id) DO UPDATE SET default_delivery_site_id = EXCLUDED"
        ".default_delivery_site_id, units = EXCLUDED.units, language = EXCLUDED.language,"
        " time_zone = EXCLUDED.time_zone, currency = EXCLUDED.currency, updated_at = now(),"
        f" updated_by = EXCLUDED.updated_by RETURNING {_PREF_COLS}",
        org_id, site, changes.units or current.units, changes.language or current.language,
        changes.time_zone or current.time_zone, changes.currency or current.currency,
        actor.subject,
    )
    assert row is not None
    found = Preferences(**dict(row))
    # Processes that keep an organization's language, units and zone (the push worker's
    # notification texts) read them again from this event on.
    await events.append(
        tx, "preferences.changed", org_id=org_id, aggregate_type="organization",
        aggregate_id=org_id, payload={"language": found.language, "units": found.units,
                                      "timeZone": found.time_zone,
                                      "currency": found.currency},
        actor=actor.subject)
    return found


async def set_transport_preference(
    tx: Executor, org_id: int, site_id: int, mode: str, transit_days: int, *, actor: Actor
) -> TransportPreference:
    _may_edit(actor, org_id)
    if mode not in MODES:
        raise Invalid(f"transport mode must be one of {', '.join(MODES)}", field="transportMode")
    if not 0 <= transit_days <= 120:
        raise Invalid("transit days must be between 0 and 120", field="transitDays")
    await check_delivery_site(tx, org_id, site_id, "siteId")
    row = await tx.fetchrow(
        "INSERT INTO transport_preference (org_id, site_id, transport_mode, transit_days,"
        " updated_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, site_id) DO UPDATE"
        " SET transport_mode = EXCLUDED.transport_mode, transit_days = EXCLUDED.transit_days,"
        " updated_at = now(), updated_by = EXCLUDED.updated_by"
        " RETURNING org_id, site_id, transport_mode, transit_days",
        org_id, site_id, mode, transit_days, actor.subject,
    )
    assert row is not None
    return TransportPreference(**dict(row))


async def remove_transport_preference(
    tx: Executor, org_id: int, site_id: int, *, actor: Actor
) -> bool:
    _may_edit(actor, org_id)
    status = await tx.execute(
        "DELETE FROM transport_preference WHERE org_id = $1 AND site_id = $2", org_id, site_id
    )
    return status != "DELETE 0"
