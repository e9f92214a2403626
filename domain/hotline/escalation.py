"""Who hears of an unanswered urge after the sales owner: the escalation chain, general,
a tier's (``domain.service.tiers``) or a customer's own, how it reads and how an admin
replaces it. At each level a customer's own contact comes first, then its tier's, then
the general one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.actor import Actor
from domain.db import Database, Executor
from domain.errors import Invalid
from domain.hotline.writes import PERMISSIONS
from domain.parties import is_customer


@dataclass(frozen=True, slots=True)
class ChainLink:
    level: int
    subject: str
    # The customer's own contact (True) or the tier's or general one (False).
    own: bool
    # The tier whose contact it is, if it is a tier's.
    tier: str | None = None


# A contact applies to customer $1 (NULL: none) seen as of tier $2 (NULL: none): its
# own, its tier's, or a general one; ORDER BY CHAIN_ORDER puts them in that order.
APPLIES = ("(e.customer_org_id = $1 OR e.tier = $2"
           " OR (e.customer_org_id IS NULL AND e.tier IS NULL))")
CHAIN_ORDER = "e.customer_org_id NULLS LAST, e.tier NULLS LAST"


async def tier_of(db: Executor, customer_org_id: int | None) -> str | None:
    """The customer's tier as last computed, if any."""
    if customer_org_id is None:
        return None
    tier: str | None = await db.fetchval(
        "SELECT tier FROM customer_tier WHERE customer_org_id = $1", customer_org_id)
    return tier


async def escalation_chain(db: Executor, customer_org_id: int | None,
                           tier: str | None = None) -> list[ChainLink]:
    """The chain after the sales owner as it applies to a customer (its own contacts,
    then its tier's, then the general ones), to a tier's customers (``tier``), or the
    general chain when neither is given."""
    if customer_org_id is not None:
        tier = await tier_of(db, customer_org_id)
    rows = await db.fetch(
        "SELECT DISTINCT ON (level) level, subject, customer_org_id IS NOT NULL AS own,"
        f" tier FROM escalation_contact e WHERE {APPLIES}"
        f" ORDER BY level, {CHAIN_ORDER}",
        customer_org_id, tier,
    )
    return [ChainLink(**dict(r)) for r in rows]


async def set_escalation_chain(
    tx: Executor, customer_org_id: int | None, subjects: Sequence[str],
    tier: str | None = None,
) -> list[ChainLink]:
    """Replace the general chain (neither given), a customer's own or a tier's:
    ``subjects[0]`` at level 1."""
    names = [s.strip() for s in subjects]
    if any(not s or len(s) > 200 for s in names) or len(names) > 20:
        raise Invalid("give up to 20 non-empty user names", field="subjects")
    if customer_org_id is not None and tier is not None:
        raise Invalid("a chain is a customer's or a tier's, not both", field="tier")
    if customer_org_id is not None and not await is_customer(tx, customer_org_id):
        raise Invalid("escalation chains are kept per customer", field="customerId")
    if tier is not None and not await tx.fetchval(
            "SELECT 1 FROM service_tier WHERE code = $1", tier):
        raise Invalid("no such tier", field="tier")
    await tx.execute(
        "DELETE FROM escalation_contact WHERE customer_org_id IS NOT DISTINCT FROM $1"
        " AND tier IS NOT DISTINCT FROM $2",
        customer_org_id, tier,
    )
    await tx.executemany(
        "INSERT INTO escalation_contact (customer_org_id, tier, level, subject)"
        " VALUES ($1, $2, $3, $4)",
        [(customer_org_id, tier, i, s) for i, s in enumerate(names, start=1)],
    )
    return await escalation_chain(tx, customer_org_id, tier)


async def configure_escalation(
    db: Database, actor: Actor, customer_org_id: int | None, subjects: Sequence[str],
    tier: str | None = None,
) -> list[ChainLink]:
    """An admin replaces the general chain, a customer's own or a tier's."""
    PERMISSIONS.check(actor, "set_escalation_chain")
    async with db.transaction() as tx:
        return await set_escalation_chain(tx, customer_org_id, subjects, tier)
