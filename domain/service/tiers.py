"""The mill's tiers: the rule that ranks customers into them, the service each is owed,
and each customer's tier as last computed.

A tier's ``share_pct`` is the share of the ranked customers it takes after the tiers
above it (key: the top 20 %, major: the next 30 %); the last tier takes the rest. Its
service levels (the urge answer time, the dispute response and resolution targets)
replace the global settings for its customers; a level left empty, or a customer
without a tier, falls back to the global setting. Escalation contacts may also be a
tier's (``domain.hotline.escalation``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.actor import Actor
from domain.db import Database, Executor
from domain.errors import Invalid
from domain.service.model import PERMISSIONS

TIER_COLS = ("code, position, share_pct, urge_answer_minutes, dispute_response_hours,"
             " dispute_resolution_days, updated_by, updated_at")
MODES = ("road", "rail", "water")


@dataclass(frozen=True, slots=True)
class ServiceTier:
    code: str
    position: int
    share_pct: Decimal | None
    urge_answer_minutes: int | None
    dispute_response_hours: int | None
    dispute_resolution_days: int | None
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TierInput:
    """One tier as an admin sets it; the list's order is the tiers' order, best first."""

    code: str
    share_pct: Decimal | None = None
    urge_answer_minutes: int | None = None
    dispute_response_hours: int | None = None
    dispute_resolution_days: int | None = None


@dataclass(frozen=True, slots=True)
class Defaults:
    """The global settings a tier's empty level, or a customer without a tier, takes."""

    urge_answer_minutes: int
    dispute_response_hours: int
    dispute_resolution_days: int


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    """What one customer is owed: its tier's levels, else the global settings."""

    customer_org_id: int
    tier: str | None
    urge_answer_minutes: int
    dispute_response_hours: int
    dispute_resolution_days: int
    # Which of the three come from the tier (rather than the global settings).
    from_tier: frozenset[str]

    @property
    def urge_answer_time(self) -> timedelta:
        return timedelta(minutes=self.urge_answer_minutes)


@dataclass(frozen=True, slots=True)
class CustomerTier:
    customer_org_id: int
    tier: str
    rank: int
    revenue: Decimal
    claims: Decimal
    freight: Decimal
    contribution: Decimal
    currency: str
    period_from: date
    period_to: date
    computed_by: str
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class FreightRate:
    transport_mode: str
    per_tonne: Decimal
    currency: str
    updated_by: str
    updated_at: datetime


CUSTOMER_TIER_COLS = ("customer_org_id, tier, rank, revenue, claims, freight, contribution,"
                      " currency, period_from, period_to, computed_by, computed_at")


async def service_tiers(db: Executor) -> list[ServiceTier]:
    """The tiers, best first (open to every reader: what each tier is owed is no secret;
    which customer holds which is the mill's)."""
    rows = await db.fetch(f"SELECT {TIER_COLS} FROM service_tier ORDER BY position")
    return [ServiceTier(**dict(r)) for r in rows]


def assign(tiers: Sequence[ServiceTier], ranked: int) -> list[str]:
    """The tier of each of ``ranked`` customers in rank order, by the tiers' shares: a
    tier takes the customers up to its cumulative share of the count, rounded up (of
    five customers the top 20 % is one); the last tier takes the rest."""
    out: list[str] = []
    cumulative = Decimal(0)
    for i, tier in enumerate(tiers):
        last = i == len(tiers) - 1
        if tier.share_pct is None or last:
            upto = ranked
        else:
            cumulative += tier.share_pct
            upto = min(ranked, math.ceil(ranked * cumulative / 100))
        out += [tier.code] * max(0, upto - len(out))
        if len(out) >= ranked:
            break
    return out


def _check_tiers(tiers: Sequence[TierInput]) -> None:
    if not 1 <= len(tiers) <= 20:
        raise Invalid("give between 1 and 20 tiers, best first", field="tiers")
    codes = [t.code for t in tiers]
    if len(set(codes)) != len(codes):
        raise Invalid("each tier's code once", field="tiers")
    total = Decimal(0)
    for i, t in enumerate(tiers):
        at = f"tiers.{i}"
        if not t.code or not t.code[0].isalpha() or not t.code.islower() \
                or len(t.code) > 30 or not t.code.replace("_", "").isalnum():
            raise Invalid("a code is lower-case letters, digits and _, from a letter",
                          field=f"{at}.code")
        if i == len(tiers) - 1:
            if t.share_pct is not None:
                raise Invalid("the last tier takes every customer left; give it no share",
                              field=f"{at}.sharePct")
        elif t.share_pct is None or not Decimal(0) < t.share_pct <= 100:
            raise Invalid("a share of customers above 0 and at most 100 %",
                          field=f"{at}.sharePct")
        else:
            total += t.share_pct
        for name, value, top in (("urgeAnswerMinutes", t.urge_answer_minutes, 100000),
                                 ("disputeResponseHours", t.dispute_response_hours, 10000),
                                 ("disputeResolutionDays", t.dispute_resolution_days, 1000)):
            if value is not None and not 1 <= value <= top:
                raise Invalid(f"between 1 and {top}, or empty for the global setting",
                              field=f"{at}.{name}")
    if total > 100:
        raise Invalid("the shares add up to more than 100 %", field="tiers")


async def set_service_tiers(
    db: Database, actor: Actor, tiers: Sequence[TierInput]
) -> list[ServiceTier]:
    """An admin replaces the tiers (rule and levels), best first. Customers already ranked
    take their tier from their stored rank by the new rule at once; a tier left out goes,
    with its escalation contacts."""
    PERMISSIONS.check(actor, "set_tiers")
    _check_tiers(tiers)
    async with db.transaction() as tx:
        codes = [t.code for t in tiers]
        # Positions are unique once the transaction commits (a deferred constraint).
        await tx.executemany(
            "INSERT INTO service_tier (code, position, share_pct, urge_answer_minutes,"
            " dispute_response_hours, dispute_resolution_days, updated_by, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, now()) ON CONFLICT (code) DO UPDATE SET"
            " position = EXCLUDED.position, share_pct = EXCLUDED.share_pct,"
            " urge_answer_minutes = EXCLUDED.urge_answer_minutes,"
            " dispute_response_hours = EXCLUDED.dispute_response_hours,"
            " dispute_resolution_days = EXCLUDED.dispute_resolution_days,"
            " updated_by = EXCLUDED.updated_by, updated_at = now()",
            [(t.code, i, t.share_pct, t.urge_answer_minutes, t.dispute_response_hours,
              t.dispute_resolution_days, actor.subject) for i, t in enumerate(tiers, start=1)],
        )
        await _rerank(tx, [t for t in await service_tiers(tx) if t.code in codes])
        await tx.execute("DELETE FROM service_tier WHERE code <> ALL($1::text[])", codes)
        return await service_tiers(tx)


async def _rerank(tx: Executor, tiers: Sequence[ServiceTier]) -> None:
    """Give each ranked customer the tier its stored rank earns under ``tiers``."""
    ranked = await tx.fetch("SELECT customer_org_id FROM customer_tier ORDER BY rank,"
                            " customer_org_id")
    got = assign(tiers, len(ranked))
    await tx.executemany("UPDATE customer_tier SET tier = $2 WHERE customer_org_id = $1",
                         [(r["customer_org_id"], t) for r, t in zip(ranked, got, strict=True)])


async def customer_tiers(db: Executor, customer_org_id: int | None = None
                         ) -> list[CustomerTier]:
    """Each customer's tier as last computed, best rank first (the mill's staff only:
    the caller checks ``read_tiers``)."""
    rows = await db.fetch(
        f"SELECT {CUSTOMER_TIER_COLS} FROM customer_tier"
        " WHERE $1::bigint IS NULL OR customer_org_id = $1 ORDER BY rank, customer_org_id",
        customer_org_id)
    return [CustomerTier(**dict(r)) for r in rows]


async def service_levels(db: Executor, customer_org_ids: Sequence[int],
                         defaults: Defaults) -> dict[int, ServiceLevel]:
    """What each customer is owed: its tier's levels where the tier sets them, the global
    settings otherwise (every id given gets one)."""
    rows = await db.fetch(
        "SELECT ct.customer_org_id, ct.tier, st.urge_answer_minutes,"
        " st.dispute_response_hours, st.dispute_resolution_days FROM customer_tier ct"
        " JOIN service_tier st ON st.code = ct.tier"
        " WHERE ct.customer_org_id = ANY($1::bigint[])", list(customer_org_ids))
    found = {r["customer_org_id"]: r for r in rows}
    out: dict[int, ServiceLevel] = {}
    for org in customer_org_ids:
        row = found.get(org)
        own: dict[str, int | None] = {
            k: (row[k] if row else None)
            for k in ("urge_answer_minutes", "dispute_response_hours",
                      "dispute_resolution_days")}
        out[org] = ServiceLevel(
            customer_org_id=org, tier=row["tier"] if row else None,
            urge_answer_minutes=own["urge_answer_minutes"] or defaults.urge_answer_minutes,
            dispute_response_hours=own["dispute_response_hours"]
            or defaults.dispute_response_hours,
            dispute_resolution_days=own["dispute_resolution_days"]
            or defaults.dispute_resolution_days,
            from_tier=frozenset(k for k, v in own.items() if v is not None),
        )
    return out


async def service_level(db: Executor, customer_org_id: int, defaults: Defaults) -> ServiceLevel:
    """What ``customer_org_id`` is owed (see :func:`service_levels`)."""
    return (await service_levels(db, [customer_org_id], defaults))[customer_org_id]


async def urge_answer_time(db: Executor, customer_org_id: int, default: timedelta) -> timedelta:
    """The answer time a new urge of this customer takes: its tier's, else ``default``
    (``KEYLINK_URGE_ANSWER_MINUTES``)."""
    minutes: int | None = await db.fetchval(
        "SELECT st.urge_answer_minutes FROM customer_tier ct"
        " JOIN service_tier st ON st.code = ct.tier WHERE ct.customer_org_id = $1",
        customer_org_id)
    return timedelta(minutes=minutes) if minutes is not None else default


async def freight_rates(db: Executor) -> list[FreightRate]:
    rows = await db.fetch("SELECT transport_mode, per_tonne, currency, updated_by, updated_at"
                          " FROM freight_rate ORDER BY transport_mode")
    return [FreightRate(**dict(r)) for r in rows]


async def set_freight_rates(
    db: Database, actor: Actor, rates: Sequence[tuple[str, Decimal, str]]
) -> list[FreightRate]:
    """Finance (or an admin) replaces the freight rates: (mode, per tonne, currency); a
    mode left out costs nothing."""
    PERMISSIONS.check(actor, "set_freight_rates")
    modes = [m for m, _, _ in rates]
    if len(set(modes)) != len(modes):
        raise Invalid("each transport mode once", field="rates")
    for i, (mode, per_tonne, currency) in enumerate(rates):
        if mode not in MODES:
            raise Invalid(f"modes are {', '.join(MODES)}", field=f"rates.{i}.transportMode")
        if per_tonne < 0 or per_tonne != per_tonne.quantize(Decimal("0.01")) \
                or per_tonne >= Decimal("1e10"):
            raise Invalid("an amount of 0 or more, to the cent", field=f"rates.{i}.perTonne")
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise Invalid("an ISO 4217 code such as CNY", field=f"rates.{i}.currency")
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM freight_rate")
        await tx.executemany(
            "INSERT INTO freight_rate (transport_mode, per_tonne, currency, updated_by)"
            " VALUES ($1, $2, $3, $4)",
            [(m, p, c, actor.subject) for m, p, c in rates])
        return await freight_rates(tx)
