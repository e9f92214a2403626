"""Each key customer's own way of working: its default delivery site, units, language,
time zone and currency, the transport it prefers to each of its delivery sites, and
from these the defaults of a new contract or plan line (:func:`line_defaults`)."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain import parties
from domain.actor import Actor, Permissions
from domain.db import Executor
from domain.errors import Invalid, NotFound

MODES = ("road", "rail", "water")
UNITS = ("metric", "imperial")
# Typical days from the mill to a customer by each mode, when nothing better is known.
FALLBACK_TRANSIT_DAYS = {"road": 3, "rail": 7, "water": 10}
FALLBACK_MODE = "road"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class Preferences:
    org_id: int
    default_delivery_site_id: int | None
    units: str
    language: str
    time_zone: str
    currency: str
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class TransportPreference:
    org_id: int
    site_id: int
    transport_mode: str
    transit_days: int


@dataclass(frozen=True, slots=True)
class LineDefaults:
    """What a new line of this customer takes where its input says nothing."""

    delivery_site_id: int | None
    transport_mode: str
    transit_days: int
    currency: str
    units: str
    language: str
    time_zone: str


@dataclass(frozen=True)
class PreferenceChanges:
    """Fields to change; None leaves a field as it is. ``clear_default_site`` unsets it."""

    default_delivery_site_id: int | None = None
    clear_default_site: bool = False
    units: str | None = None
    language: str | None = None
    time_zone: str | None = None
    currency: str | None = None


_PREF_COLS = (
    "org_id, default_delivery_site_id, units, language, time_zone, currency, updated_at,"
    " updated_by"
)


def _fallback(org_id: int) -> Preferences:
    return Preferences(org_id, None, "metric", "zh-CN", "Asia/Shanghai", "CNY", None, None)


async def preferences(db: Executor, org_id: int) -> Preferences:
    """The organization's preferences; the platform's defaults until it sets any."""
    row = await db.fetchrow(
        f"SELECT {_PREF_COLS} FROM customer_preference WHERE org_id = $1", org_id
    )
    return Preferences(**dict(row)) if row else _fallback(org_id)


async def transport_preferences(db: Executor, org_id: int) -> list[TransportPreference]:
    rows = await db.fetch(
        "SELECT org_id, site_id, transport_mode, transit_days FROM transport_preference"
        " WHERE org_id = $1 ORDER BY site_id",
        org_id,
    )
    return [TransportPreference(**dict(r)) for r in rows]


async def delivery_site_ids(db: Executor, org_id: int) -> list[int]:
    """Where the customer may take delivery: its own sites and the shared ports and
    stations (never the mill's plants, never another customer's warehouse)."""
    rows = await db.fetch(
        "SELECT id FROM site WHERE org_id = $1 OR (org_id IS NULL AND kind <> 'plant')"
        " ORDER BY (org_id IS NULL), id",
        org_id,
    )
    return [r["id"] for r in rows]


async def check_delivery_site(db: Executor, org_id: int, site_id: int, field: str) -> None:
    ok = await db.fetchval(
        "SELECT 1 FROM site WHERE id = $2"
        " AND (org_id = $1 OR (org_id IS NULL AND kind <> 'plant'))",
        org_id, site_id,
    )
    if ok is None:
        raise NotFound("no such delivery site for this customer", field=field)


async def line_defaults(
    db: Executor, org_id: int, *, delivery_site_id: int | None = None
) -> LineDefaults:
    """The customer's defaults for a new line: the given site, else its default site,
    else the site of its latest line; the mode and transit days it prefers for that
    site, else those of its latest line to it, else its default site's mode, else road.
    """
    prefs = await preferences(db, org_id)
    site = delivery_site_id or prefs.default_delivery_site_id
    if site is None:
        site = await db.fetchval(
            "SELECT delivery_site_id FROM contract_line WHERE customer_org_id = $1"
            " AND delivery_site_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            org_id,
        )
    mode, days = await route(db, org_id, site, prefs.default_delivery_site_id)
    return LineDefaults(
        delivery_site_id=site, transport_mode=mode, transit_days=days,
        currency=prefs.currency, units=prefs.units, language=prefs.language,
        time_zone=prefs.time_zone,
    )


async def route(
    db: Executor, org_id: int, site: int | None, default_site: int | None
) -> tuple[str, int]:
    """(mode, transit days) to ``site`` for this customer, as :func:`line_defaults` says."""
    if site is not None:
        row = await db.fetchrow(
            "SELECT transport_mode, transit_days FROM transport_preference"
            " WHERE org_id = $1 AND site_id = $2",
            org_id, site,
        )
        if row is None:
            row = await db.fetchrow(
                "SELECT transport_mode, transit_days FROM contract_line"
                " WHERE customer_org_id = $1 AND delivery_site_id = $2 ORDER BY id DESC LIMIT 1",
                org_id, site,
            )
        if row is not None:
            return row["transport_mode"], row["transit_days"]
    mode = FALLBACK_MODE
    if default_site is not None:
        mode = await db.fetchval(
            "SELECT transport_mode FROM transport_preference WHERE org_id = $1 AND site_id = $2",
            org_id, default_site,
        ) or FALLBACK_MODE
    return mode, FALLBACK_TRANSIT_DAYS[mode]


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
PERMISSIONS = Permissions({"edit": ("customer", "sales", "admin")})


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
    return Preferences(**dict(row))


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


async def latest_prices(
    db: Executor, org_id: int, spec_ids: Sequence[int], currency: str
) -> dict[int, Decimal]:
    """The customer's latest unit price per spec in ``currency``, from its contracts
    that were not cancelled."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (l.spec_id) l.spec_id, l.unit_price"
        " FROM contract_line l JOIN contract c ON c.id = l.contract_id"
        " WHERE l.customer_org_id = $1 AND l.spec_id = ANY($2::bigint[]) AND c.currency = $3"
        " AND c.status <> 'cancelled' ORDER BY l.spec_id, l.id DESC",
        org_id, list(spec_ids), currency,
    )
    return {r["spec_id"]: r["unit_price"] for r in rows}
