"""Reading a customer's preferences, its delivery sites and routes, the defaults of a new
contract or plan line (:func:`line_defaults`) and the prices it has paid."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from domain.db import Executor
from domain.errors import NotFound
from domain.preferences.model import (
    _PREF_COLS,
    FALLBACK_MODE,
    FALLBACK_TRANSIT_DAYS,
    LineDefaults,
    Preferences,
    TransportPreference,
    _fallback,
)


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
