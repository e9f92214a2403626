"""Each customer's contribution over a period, ranked, and the tiers it earns.

contribution = revenue - claims - freight, in one currency:

- revenue: the invoiced settlements (issued, paid or overdue) issued in the period,
  goods, surcharges and freight charged, before claim deductions;
- claims: the amounts agreed (or partially agreed, or credited) on claims decided in the
  period, whether deducted from a settlement or credited with a credit note;
- freight: what moving the steel cost the mill. The platform keeps no freight cost per
  shipment, so it is the shipped tonnes of the settled contracts' lines times the
  mill's per-tonne rate for each line's transport mode (``freight_rate``; a mode
  without a rate costs nothing).

Customers are ranked by contribution (the highest first) and take their tiers by the
tiers' rule (``tiers.assign``); ``recompute`` stores the result in ``customer_tier``,
on demand and daily from the push worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain import events
from domain.actor import Actor
from domain.calendar import MILL_TZ
from domain.db import Database, Executor
from domain.errors import Invalid
from domain.service.model import PERMISSIONS
from domain.service.tiers import CustomerTier, assign, customer_tiers, service_tiers

DEFAULT_CURRENCY = "CNY"
# The periodic computation looks back a year.
PERIOD = timedelta(days=365)
INVOICED = ("issued", "paid", "overdue")
DECIDED = ("agreed", "partially_agreed", "credited")


@dataclass(frozen=True, slots=True)
class Contribution:
    customer_org_id: int
    rank: int
    revenue: Decimal
    claims: Decimal
    freight: Decimal
    contribution: Decimal
    # Tonnes shipped on the settled contracts' lines.
    tonnes: Decimal
    currency: str
    # The tier this rank earns under the tiers' rule now.
    tier: str


_RANKING = f"""
WITH invoiced AS (
    SELECT s.customer_org_id, s.contract_id, s.goods_amount + s.surcharges + s.freight AS amount
    FROM settlement s
    WHERE s.invoice_status IN ({", ".join(f"'{s}'" for s in INVOICED)})
      AND s.issued_on BETWEEN $1 AND $2 AND s.currency = $3),
revenue AS (SELECT customer_org_id, sum(amount) AS revenue FROM invoiced GROUP BY 1),
claims AS (
    SELECT customer_org_id, sum(agreed_amount) AS claims FROM quality_claim
    WHERE status IN ({", ".join(f"'{s}'" for s in DECIDED)}) AND currency = $3
      AND (updated_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2
    GROUP BY 1),
freight AS (
    SELECT i.customer_org_id, sum(l.shipped_t) AS tonnes,
           round(sum(l.shipped_t * coalesce(r.per_tonne, 0)), 2) AS freight
    FROM (SELECT DISTINCT customer_org_id, contract_id FROM invoiced) i
    JOIN contract_line l ON l.contract_id = i.contract_id
    LEFT JOIN freight_rate r ON r.transport_mode = l.transport_mode AND r.currency = $3
    GROUP BY 1)
SELECT o.id AS customer_org_id, coalesce(v.revenue, 0) AS revenue,
       coalesce(c.claims, 0) AS claims, coalesce(f.freight, 0) AS freight,
       coalesce(v.revenue, 0) - coalesce(c.claims, 0) - coalesce(f.freight, 0)
           AS contribution,
       coalesce(f.tonnes, 0) AS tonnes
FROM organization o
LEFT JOIN revenue v ON v.customer_org_id = o.id
LEFT JOIN claims c ON c.customer_org_id = o.id
LEFT JOIN freight f ON f.customer_org_id = o.id
WHERE o.kind = 'customer'
ORDER BY contribution DESC, revenue DESC, o.id
"""


def _period(period_from: date, period_to: date, currency: str) -> None:
    if period_to < period_from:
        raise Invalid("the period ends before it starts", field="to")
    if period_to - period_from > timedelta(days=3 * 366):
        raise Invalid("a period of at most three years", field="from")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise Invalid("an ISO 4217 code such as CNY", field="currency")


async def _rank(db: Executor, period_from: date, period_to: date,
                currency: str) -> list[Contribution]:
    rows = await db.fetch(_RANKING, period_from, period_to, currency)
    tiers = assign(await service_tiers(db), len(rows))
    return [Contribution(rank=i, currency=currency, tier=tier, **dict(r))
            for i, (r, tier) in enumerate(zip(rows, tiers, strict=True), start=1)]


async def ranking(db: Executor, actor: Actor, period_from: date, period_to: date,
                  currency: str = DEFAULT_CURRENCY) -> list[Contribution]:
    """Every customer's contribution over the period (days inclusive), the highest
    first, with the tier its rank earns: commercial figures, for sales, finance and
    admin; a customer is refused."""
    PERMISSIONS.check(actor, "read_contribution")
    _period(period_from, period_to, currency)
    return await _rank(db, period_from, period_to, currency)


async def recompute(db: Database, actor: Actor, period_from: date, period_to: date,
                    currency: str = DEFAULT_CURRENCY,
                    now: datetime | None = None) -> list[CustomerTier]:
    """Rank the customers over the period and store each one's tier; a customer whose
    tier changes is a `service.tier_changed` event of the mill's own (no customer hears
    of it)."""
    PERMISSIONS.check(actor, "recompute_tiers")
    _period(period_from, period_to, currency)
    async with db.transaction() as tx:
        return await store_tiers(tx, actor, period_from, period_to, currency, now)


async def store_tiers(tx: Executor, actor: Actor, period_from: date, period_to: date,
                      currency: str, now: datetime | None = None) -> list[CustomerTier]:
    """:func:`recompute`'s work inside the caller's transaction (the demo's loader)."""
    at = now or await tx.fetchval("SELECT now()")
    ranked = await _rank(tx, period_from, period_to, currency)
    before = {t.customer_org_id: t.tier for t in await customer_tiers(tx)}
    await tx.executemany(
        "INSERT INTO customer_tier (customer_org_id, tier, rank, revenue, claims, freight,"
        " contribution, currency, period_from, period_to, computed_by, computed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (customer_org_id) DO UPDATE SET tier = EXCLUDED.tier,"
        " rank = EXCLUDED.rank, revenue = EXCLUDED.revenue, claims = EXCLUDED.claims,"
        " freight = EXCLUDED.freight, contribution = EXCLUDED.contribution,"
        " currency = EXCLUDED.currency, period_from = EXCLUDED.period_from,"
        " period_to = EXCLUDED.period_to, computed_by = EXCLUDED.computed_by,"
        " computed_at = EXCLUDED.computed_at",
        [(c.customer_org_id, c.tier, c.rank, c.revenue, c.claims, c.freight,
          c.contribution, currency, period_from, period_to, actor.subject, at)
         for c in ranked])
    changed = [c for c in ranked if before.get(c.customer_org_id) != c.tier]
    if changed:
        codes: dict[int, str] = {r["id"]: r["code"] for r in await tx.fetch(
            "SELECT id, code FROM organization WHERE id = ANY($1::bigint[])",
            [c.customer_org_id for c in changed])}
        for c in changed:
            await events.append(
                tx, "service.tier_changed", org_id=None, aggregate_type="organization",
                aggregate_id=c.customer_org_id, actor=actor.subject,
                payload={"customer": codes[c.customer_org_id], "tier": c.tier,
                         "previousTier": before.get(c.customer_org_id), "rank": c.rank,
                         "contribution": str(c.contribution), "currency": currency,
                         "from": period_from.isoformat(), "to": period_to.isoformat()})
    return await customer_tiers(tx)


# Who ranks the customers each day: the push worker's job.
TIER_JOB = Actor.system("keylink:customer-tiers")


async def recompute_daily(db: Database, now: datetime) -> int:
    """The push worker's daily run: the year up to yesterday, in the default currency."""
    today = now.astimezone(MILL_TZ).date()
    done = await recompute(db, TIER_JOB, today - PERIOD, today - timedelta(days=1),
                           now=now)
    return len(done)
