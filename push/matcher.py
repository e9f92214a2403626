"""Matching: read the outbox forward from the durable cursor, find the rules each event
matches (and its direct recipients), and queue a delivery for each, in one transaction.

The cursor row is locked with SKIP LOCKED: while one worker matches, another skips to
sending, so two workers never match the same event and the cursor moves only with the
deliveries it produced. What goes to an inbox at once is written as a notification in
the same transaction; the rest (webhooks, e-mail, quiet hours, digests) becomes a
delivery row for the sender and the digest job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from domain import events
from domain.db import Database, Executor
from domain.events import DomainEvent
from domain.push import notifications
from domain.push.facets import facets_of
from domain.push.locale import Locale, LocaleCache
from domain.push.matching import Rule, RuleIndex, quiet_until
from domain.push.texts import Text, render
from push import rules_index

# An organization's language, units or zone changed (domain.preferences.writes).
PREFERENCES_CHANGED = "preferences.changed"
_INSERT = """
INSERT INTO push_delivery (rule_id, event_seq, org_id, user_subject, channel, webhook_id,
    email_to, event_type, title, body, data, status, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT DO NOTHING
"""
_NOTIFY = """
INSERT INTO notification (org_id, user_subject, event_seq, event_type, title, body, data)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


class Out(NamedTuple):
    """One thing to deliver, in the column order of ``_INSERT``."""

    rule_id: int | None
    event_seq: int
    org_id: int | None
    user_subject: str | None
    channel: str
    webhook_id: int | None
    email_to: str | None
    event_type: str
    title: str
    body: str
    data: dict[str, Any]
    status: str
    due: datetime

    def to_inbox_now(self, now: datetime) -> bool:
        return self.channel == "inbox" and self.status == "queued" and self.due <= now

    def notification(self) -> tuple[Any, ...]:
        return (self.org_id, self.user_subject, self.event_seq, self.event_type, self.title,
                self.body, self.data)


@dataclass
class Matcher:
    db: Database
    batch: int = 500
    index: RuleIndex | None = None
    locales: LocaleCache = field(default_factory=LocaleCache)
    mill_org_id: int | None = None

    async def run_once(self) -> tuple[int, int]:
        """Match one batch: (events read, deliveries queued for sending). (0, 0) when
        there is nothing new or another worker holds the cursor."""
        now = datetime.now(UTC)
        async with self.db.transaction() as tx:
            here = await tx.fetchrow(
                "SELECT c.seq, v.version FROM push_cursor c, push_rule_version v"
                " WHERE c.name = 'match' FOR UPDATE OF c SKIP LOCKED")
            if here is None:
                return 0, 0
            batch = await events.read_after(tx, here["seq"], limit=self.batch)
            if not batch:
                return 0, 0
            if self.index is None or self.index.version != here["version"]:
                self.index = await rules_index.load(tx)
            found = await self._deliveries(tx, batch, now)
            later = [o for o in found if not o.to_inbox_now(now)]
            if later:
                await tx.executemany(_INSERT, later)
            await tx.execute("UPDATE push_cursor SET seq = $1 WHERE name = 'match'",
                             batch[-1].seq)
            at_once = [o.notification() for o in found if o.to_inbox_now(now)]
            if at_once:
                await notifications.lock_inbox(tx)  # held to commit: ids in commit order
                await tx.executemany(_NOTIFY, at_once)
        return len(batch), len(later)

    async def _mill(self, tx: Executor) -> int | None:
        """The mill's organization: users named in an event are its staff, and read in
        its language, units and zone."""
        if self.mill_org_id is None:
            self.mill_org_id = await tx.fetchval(
                "SELECT id FROM organization WHERE kind = 'mill' ORDER BY id LIMIT 1")
        return self.mill_org_id

    async def _deliveries(self, tx: Executor, batch: list[DomainEvent],
                          now: datetime) -> list[Out]:
        assert self.index is not None
        facets = await facets_of(tx, batch)
        texts = _Texts(tx, self.locales)
        out: list[Out] = []
        for e in batch:
            if e.event_type == PREFERENCES_CHANGED:  # the events after it read them anew
                self.locales.forget(e.org_id)
            matched = self.index.match(e.org_id, e.event_type, facets[e.seq])
            for rule in matched:
                out.append(await _for_rule(rule, e, texts, now))
            # An organization whose own inbox rule took the event gets it as that rule
            # says (quiet hours, digest), not a second time by default. Only a rule for
            # the whole organization does: one user's personal rule is theirs alone,
            # and must not silence the default for their colleagues.
            ruled = {r.org_id for r in matched
                     if r.channel == "inbox" and r.user_subject is None}
            out.extend(await _direct(e, texts, now, ruled, await self._mill(tx)))
        return out


class _Texts:
    """Each event's text once per recipient locale, however many rules it matched."""

    def __init__(self, db: Executor, locales: LocaleCache) -> None:
        self.db = db
        self.locales = locales
        self._done: dict[tuple[int, Locale], Text] = {}

    async def of(self, e: DomainEvent, org_id: int | None) -> tuple[Locale, Text]:
        locale = await self.locales.get(self.db, org_id)
        key = (e.seq, locale)
        text = self._done.get(key)
        if text is None:
            text = self._done[key] = render(e.event_type, e.payload, e.occurred_at, locale)
        return locale, text


async def _for_rule(rule: Rule, e: DomainEvent, texts: _Texts, now: datetime) -> Out:
    locale, text = await texts.of(e, rule.org_id)
    if rule.cadence == "instant":
        status = "queued"
        due = quiet_until(now, rule.quiet_start, rule.quiet_end, locale.zone) or now
    else:
        status, due = "held", now
    return Out(rule.id, e.seq, rule.org_id, rule.user_subject, rule.channel, rule.webhook_id,
               rule.email_to, e.event_type, text.title, text.body, _data(e), status, due)


async def _direct(e: DomainEvent, texts: _Texts, now: datetime,
                  ruled: set[int] | frozenset[int] = frozenset(),
                  staff_org: int | None = None) -> list[Out]:
    """``notify_users`` (the mill's staff, in the mill's ``staff_org`` locale) reach those
    users' inboxes at once; ``notify_org`` the event's organization's, unless one of its
    own inbox rules (``ruled``) already took it."""
    users = e.payload.get("notify_users")
    recipients: list[tuple[int | None, str | None]] = []
    if isinstance(users, list):
        recipients += [(None, u) for u in dict.fromkeys(users) if isinstance(u, str) and u]
    if e.payload.get("notify_org") is True and e.org_id is not None \
            and e.org_id not in ruled:
        recipients.append((e.org_id, None))
    out = []
    for org_id, subject in recipients:
        _, text = await texts.of(e, org_id if org_id is not None else staff_org)
        out.append(Out(None, e.seq, org_id, subject, "inbox", None, None, e.event_type,
                       text.title, text.body, _data(e), "queued", now))
    return out


def _data(e: DomainEvent) -> dict[str, Any]:
    return {"sequence": e.seq, "type": e.event_type, "occurredAt": e.occurred_at.isoformat(),
            "aggregateType": e.aggregate_type, "aggregateId": e.aggregate_id,
            "payload": e.payload}
