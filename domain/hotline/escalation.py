"""Who hears of an unanswered urge after the sales owner: the escalation chain, general
or a customer's own, how it reads and how an admin replaces it."""

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
    # The customer's own contact (True) or the general one (False).
    own: bool


async def escalation_chain(db: Executor, customer_org_id: int | None) -> list[ChainLink]:
    """The chain after the sales owner as it applies to a customer (its own contacts
    before the general ones), or the general chain for None."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (level) level, subject, customer_org_id IS NOT NULL AS own"
        " FROM escalation_contact WHERE customer_org_id IS NULL OR customer_org_id = $1"
        " ORDER BY level, customer_org_id NULLS LAST",
        customer_org_id,
    )
    return [ChainLink(**dict(r)) for r in rows]


async def set_escalation_chain(
    tx: Executor, customer_org_id: int | None, subjects: Sequence[str]
) -> list[ChainLink]:
    """Replace the general chain (None) or a customer's own: ``subjects[0]`` at level 1."""
    names = [s.strip() for s in subjects]
    if any(not s or len(s) > 200 for s in names) or len(names) > 20:
        raise Invalid("give up to 20 non-empty user names", field="subjects")
    if customer_org_id is not None and not await is_customer(tx, customer_org_id):
        raise Invalid("escalation chains are kept per customer", field="customerId")
    await tx.execute(
        "DELETE FROM escalation_contact WHERE customer_org_id IS NOT DISTINCT FROM $1",
        customer_org_id,
    )
    await tx.executemany(
        "INSERT INTO escalation_contact (customer_org_id, level, subject) VALUES ($1, $2, $3)",
        [(customer_org_id, i, s) for i, s in enumerate(names, start=1)],
    )
    return await escalation_chain(tx, customer_org_id)


async def configure_escalation(
    db: Database, actor: Actor, customer_org_id: int | None, subjects: Sequence[str]
) -> list[ChainLink]:
    """An admin replaces the general chain (None) or a customer's own."""
    PERMISSIONS.check(actor, "set_escalation_chain")
    async with db.transaction() as tx:
        return await set_escalation_chain(tx, customer_org_id, subjects)
