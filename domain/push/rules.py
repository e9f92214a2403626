"""Push rules and webhook subscriptions: create, list, delete; the delivery log.

A customer's rules watch its own organization; a staff user's rules belong to the mill
and watch one customer or all of them. A rule is for a whole organization or, with
``personal``, for the user who made it.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field, fields
from datetime import time
from decimal import Decimal
from typing import Any

from domain.actor import Actor
from domain.db import Executor
from domain.egress import EgressPolicy, EgressRefused
from domain.errors import Invalid, NotFound
from domain.parties import is_customer
from domain.push.matching import CADENCES, CHANNELS, Rule

_TYPE = re.compile(r"^(\*|[a-z_]+\.(\*|[a-z_]+))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_RULES_PER_ORG = 500


@dataclass(frozen=True)
class RuleInput:
    name: str
    event_types: list[str]
    channel: str = "inbox"
    personal: bool = False
    contracts: list[str] = field(default_factory=list)
    grades: list[str] = field(default_factory=list)
    transport_modes: list[str] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    min_delay_hours: Decimal | None = None
    webhook_id: int | None = None
    email_to: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    cadence: str = "instant"
    watch_org_id: int | None = None


# What the worker matches events against: the fields of a matching `Rule`.
MATCH_COLS = ", ".join(f.name for f in fields(Rule))
# A rule as its owner sees it: that, and its name and record.
_RULE_COLS = f"{MATCH_COLS}, name, enabled, created_by, created_at"


def _check(data: RuleInput, smtp: bool) -> None:
    if not data.name.strip() or len(data.name) > 200:
        raise Invalid("a name of 1 to 200 characters", field="name")
    if not data.event_types or not all(_TYPE.match(t) for t in data.event_types):
        raise Invalid("event types look like `shipment.delayed`, `shipment.*` or `*`",
                      field="eventTypes")
    if data.channel not in CHANNELS:
        raise Invalid(f"channel is one of {', '.join(CHANNELS)}", field="channel")
    if data.cadence not in CADENCES:
        raise Invalid(f"cadence is one of {', '.join(CADENCES)}", field="cadence")
    if (data.quiet_start is None) != (data.quiet_end is None):
        raise Invalid("give both ends of the quiet hours, or neither", field="quietHours")
    if data.min_delay_hours is not None and data.min_delay_hours < 0:
        raise Invalid("the delay threshold is hours, zero or more", field="minDelayHours")
    if data.channel == "webhook" and data.webhook_id is None:
        raise Invalid("a webhook rule names its webhook subscription", field="webhookId")
    if data.channel == "email":
        if not smtp:
            raise Invalid("e-mail is not configured on this server", field="channel")
        if data.email_to is None or not _EMAIL.match(data.email_to):
            raise Invalid("an e-mail rule needs an address", field="emailTo")


async def create_rule(db: Executor, owner: Actor, data: RuleInput, *, smtp: bool) -> Any:
    _check(data, smtp)
    watch = await _watched(db, owner, data.watch_org_id)
    if data.webhook_id is not None and data.channel == "webhook":
        found = await db.fetchval(
            "SELECT 1 FROM webhook_subscription WHERE id = $1 AND org_id = $2",
            data.webhook_id, owner.org_id)
        if found is None:
            raise NotFound("no such webhook subscription", field="webhookId")
    count = await db.fetchval("SELECT count(*) FROM push_rule WHERE org_id = $1", owner.org_id)
    if count >= MAX_RULES_PER_ORG:
        raise Invalid(f"at most {MAX_RULES_PER_ORG} rules per organization")
    return await db.fetchrow(
        "INSERT INTO push_rule (org_id, user_subject, watch_org_id, name, event_types,"
        " contracts, grades, transport_modes, destinations, min_delay_hours, channel,"
        " webhook_id, email_to, quiet_start, quiet_end, cadence, created_by) VALUES"
        " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        f" RETURNING {_RULE_COLS}",
        owner.org_id, owner.subject if data.personal else None, watch, data.name.strip(),
        sorted(set(data.event_types)), data.contracts, data.grades, data.transport_modes,
        data.destinations, data.min_delay_hours, data.channel,
        data.webhook_id if data.channel == "webhook" else None,
        data.email_to if data.channel == "email" else None, data.quiet_start, data.quiet_end,
        data.cadence, owner.subject)


async def _watched(db: Executor, owner: Actor, asked: int | None) -> int | None:
    """Whose events a rule follows: a customer's own; for the mill, the customer asked
    for, or every one (None)."""
    if owner.is_customer:
        if asked not in (None, owner.org_id):
            raise Invalid("a customer's rules follow its own events", field="customerId")
        return owner.org_id
    if asked is not None and not await is_customer(db, asked):
        raise NotFound("no such customer", field="customerId")
    return asked


# $1: the organization, $2: the user: the organization's rules and the user's own.
_MINE = "r.org_id = $1 AND (r.user_subject IS NULL OR r.user_subject = $2)"


async def rules_page(db: Executor, owner: Actor, first: int, after: int | None) -> list[Any]:
    return await db.fetch(
        f"SELECT {_RULE_COLS} FROM push_rule r WHERE {_MINE}"
        " AND ($3::bigint IS NULL OR r.id > $3) ORDER BY r.id LIMIT $4",
        owner.org_id, owner.subject, after, first)


async def delete_rule(db: Executor, owner: Actor, rule_id: int) -> None:
    done = await db.fetchval(
        f"DELETE FROM push_rule r WHERE r.id = $3 AND {_MINE} RETURNING id",
        owner.org_id, owner.subject, rule_id)
    if done is None:
        raise NotFound("no such push rule", field="id")


_HOOK_COLS = "id, org_id, url, description, enabled, created_by, created_at"


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def create_webhook(db: Executor, owner: Actor, url: str, description: str | None,
                         policy: EgressPolicy) -> tuple[Any, str]:
    """Register a receiver; its URL must pass the egress policy now (and each delivery
    checks it again where it connects)."""
    try:
        await policy.check_url(url)
    except EgressRefused as exc:
        raise Invalid(exc.message, field="url") from None
    # Shown once, at creation; receivers verify signatures with it.
    secret = new_secret()
    row = await db.fetchrow(
        "INSERT INTO webhook_subscription (org_id, url, secret, description, created_by)"
        f" VALUES ($1, $2, $3, $4, $5) RETURNING {_HOOK_COLS}",
        owner.org_id, url, secret, description, owner.subject)
    return row, secret


async def webhooks(db: Executor, org_id: int) -> list[Any]:
    return await db.fetch(
        f"SELECT {_HOOK_COLS} FROM webhook_subscription WHERE org_id = $1 ORDER BY id",
        org_id)


async def delete_webhook(db: Executor, owner: Actor, webhook_id: int) -> None:
    org_id = owner.org_id
    done = await db.fetchval(
        "UPDATE webhook_subscription SET enabled = false WHERE id = $1 AND org_id = $2"
        " RETURNING id", webhook_id, org_id)
    if done is None:
        raise NotFound("no such webhook subscription", field="id")


_DELIVERY_COLS = ("d.id, d.idempotency_key, d.webhook_id, d.channel, d.event_seq,"
                  " d.event_type, d.status, d.attempts, d.next_attempt_at, d.last_error,"
                  " d.response_status, d.created_at, d.delivered_at")


async def deliveries_page(
    db: Executor, org_id: int, *, webhook_id: int | None, status: str | None, first: int,
    after: int | None,
) -> list[Any]:
    """The organization's webhook and e-mail deliveries, newest first."""
    return await db.fetch(
        f"SELECT {_DELIVERY_COLS} FROM push_delivery d WHERE d.org_id = $1"
        " AND d.channel <> 'inbox' AND d.status <> 'digested'"
        " AND ($2::bigint IS NULL OR d.webhook_id = $2) AND ($3::text IS NULL OR d.status = $3)"
        " AND ($4::bigint IS NULL OR d.id < $4) ORDER BY d.id DESC LIMIT $5",
        org_id, webhook_id, status, after, first)


async def redeliver(db: Executor, owner: Actor, delivery_id: int) -> Any:
    """A dead delivery queued again for a fresh round of tries."""
    org_id = owner.org_id
    row = await db.fetchrow(
        "UPDATE push_delivery d SET status = 'queued', attempts = 0, next_attempt_at = now()"
        f" WHERE d.id = $1 AND d.org_id = $2 AND d.status = 'dead' RETURNING {_DELIVERY_COLS}",
        delivery_id, org_id)
    if row is None:
        raise NotFound("no dead delivery of yours with this id", field="id")
    return row
