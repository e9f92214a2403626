"""Digests: a rule with an hourly or daily cadence collects its matches ("held") and,
once the period they fell in has ended in the recipient's time zone, sends them as one
delivery (after the rule's quiet hours, if it is quiet then)."""

from __future__ import annotations

from datetime import datetime

from domain.db import Database
from domain.push.locale import locale_of
from domain.push.matching import period_end, quiet_until
from domain.push.texts import render_digest


async def send_digests(db: Database, now: datetime) -> int:
    """Bundle every rule's held deliveries whose period has ended; returns digests made."""
    pending = await db.fetch(
        "SELECT d.rule_id, min(d.created_at) AS since, r.org_id, r.cadence, r.quiet_start,"
        " r.quiet_end FROM push_delivery d JOIN push_rule r ON r.id = d.rule_id"
        " WHERE d.status = 'held' GROUP BY d.rule_id, r.org_id, r.cadence, r.quiet_start,"
        " r.quiet_end")
    made = 0
    for p in pending:
        locale = await locale_of(db, p["org_id"])
        cadence = p["cadence"] if p["cadence"] != "instant" else "hourly"
        until = period_end(p["since"], cadence, locale.zone)
        if until > now:
            continue
        due = quiet_until(now, p["quiet_start"], p["quiet_end"], locale.zone) or now
        async with db.transaction() as tx:
            held = await tx.fetch(
                "SELECT d.id, d.event_seq, d.event_type, d.title, d.body, d.org_id,"
                " d.user_subject, d.channel, d.webhook_id, d.email_to, d.created_at"
                " FROM push_delivery d WHERE d.rule_id = $1 AND d.status = 'held'"
                " AND d.created_at < $2 ORDER BY d.id FOR UPDATE SKIP LOCKED",
                p["rule_id"], until)
            if not held:
                continue
            first = held[0]
            text = render_digest([(h["title"], h["body"]) for h in held], p["since"], locale)
            data = {"digest": True, "items": [
                {"sequence": h["event_seq"], "type": h["event_type"], "title": h["title"],
                 "body": h["body"]} for h in held]}
            digest_id = await tx.fetchval(
                "INSERT INTO push_delivery (rule_id, org_id, user_subject, channel, webhook_id,"
                " email_to, event_type, title, body, data, status, next_attempt_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'digest', $7, $8, $9, 'queued', $10)"
                " RETURNING id", p["rule_id"], first["org_id"], first["user_subject"],
                first["channel"], first["webhook_id"], first["email_to"], text.title,
                text.body, data, due)
            await tx.execute(
                "UPDATE push_delivery SET status = 'digested', digest_id = $2"
                " WHERE id = ANY($1)", [h["id"] for h in held], digest_id)
            made += 1
    return made
