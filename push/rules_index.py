"""The worker's in-memory index of push rules, reloaded when ``push_rule_version`` moves."""

from __future__ import annotations

from domain.db import Executor
from domain.push.matching import Rule, RuleIndex
from domain.push.rules import MATCH_COLS


async def load(db: Executor) -> RuleIndex:
    version = await db.fetchval("SELECT version FROM push_rule_version")
    rows = await db.fetch(
        f"SELECT {MATCH_COLS} FROM push_rule r WHERE r.enabled AND (r.webhook_id IS NULL OR"
        " EXISTS (SELECT 1 FROM webhook_subscription w WHERE w.id = r.webhook_id"
        " AND w.enabled))")
    rules = []
    for r in rows:
        d = dict(r)
        d["event_types"] = tuple(d["event_types"])
        for key in ("contracts", "grades", "transport_modes", "destinations"):
            d[key] = frozenset(d[key])
        rules.append(Rule(**d))
    return RuleIndex.of(rules, version)
