"""Service quality in the demo: the mill's freight rates, satisfaction surveys answered
over the past year (each quarter, each completed dispute and resolved urge) and the
customers' tiers ranked from the settlements that exist.

The surveys are written as the survey job would have sent them, with their answers;
their subjects are the ones the job would pick, so it sends none of them again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from domain.actor import Actor
from domain.db import Executor
from domain.service import contribution, surveys

from .catalogue import FAW_VW, GALANZ
from .schedule import CST

# What moving a tonne costs the mill, per mode (CNY).
FREIGHT = {"road": Decimal("45.00"), "rail": Decimal("62.00"), "water": Decimal("28.00")}
# Who answers for each customer, and how they tend to rate (weights of 1..5).
CONTACTS = {FAW_VW: ("buyer.faw", "quality.faw"), GALANZ: ("buyer.galanz",)}
LEANING = {FAW_VW: (1, 2, 4, 10, 8), GALANZ: (1, 3, 8, 8, 3)}
COMMENTS = {1: "nobody answered for days", 2: "the 8D report came late",
            3: "fine, but the promised dates slipped", 4: "good answers, quick containment",
            5: "excellent: fast and clear"}
DEMO = Actor.system("demo")


async def write(tx: Executor, day: date, step: Callable[[str], None],
                random_seed: int = 7) -> str:
    """Freight rates, a year of answered surveys and the tiers; returns what it wrote."""
    rng = random.Random(random_seed)
    await tx.executemany(
        "INSERT INTO freight_rate (transport_mode, per_tonne, currency, updated_by)"
        " VALUES ($1, $2, 'CNY', 'demo')", list(FREIGHT.items()))
    orgs = {r["code"]: r["id"] for r in await tx.fetch(
        "SELECT id, code FROM organization WHERE code = ANY($1::text[])", list(CONTACTS))}
    # (customer, area, subject, subject id, sent at)
    sends: list[tuple[int, str, str, int | None, datetime]] = []
    quarter_start = surveys.quarter_of(day)[1]
    for back in range(1, 5):
        name, _, end = surveys.quarter_of(quarter_start - timedelta(days=1 + 92 * (back - 1)))
        sent = datetime.combine(end + timedelta(days=3), time(9), CST)
        sends += [(org, "quarterly", name, None, sent) for org in orgs.values()]
    for r in await tx.fetch(
            "SELECT id, customer_org_id, number, coalesce(closed_at, updated_at) AS at"
            " FROM quality_dispute WHERE status = 'completed'"):
        sends.append((r["customer_org_id"], "dispute", r["number"], r["id"], r["at"]))
    for r in await tx.fetch("SELECT id, customer_org_id, resolved_at FROM urge_ticket"
                            " WHERE status = 'resolved'"):
        sends.append((r["customer_org_id"], "hotline", f"URG-{r['id']:06d}", r["id"],
                      r["resolved_at"]))
    now = datetime.combine(day, time(8), CST)
    answers = 0
    codes = {v: k for k, v in orgs.items()}
    for org, area, subject, subject_id, sent in sends:
        if org not in codes:
            continue
        sid = await tx.fetchval(
            "INSERT INTO survey (customer_org_id, area, subject, subject_id, question,"
            " sent_at, closes_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            org, area, subject, subject_id, surveys.QUESTIONS[area].format(subject=subject),
            sent, sent + surveys.OPEN_FOR)
        code = codes[org]
        rows = []
        for contact in CONTACTS[code]:
            at = min(sent + timedelta(hours=rng.randint(2, 200)), now)
            rating = rng.choices(range(1, 6), LEANING[code])[0]
            rows.append((sid, org, contact, rating, COMMENTS[rating], at))
        await tx.executemany(
            "INSERT INTO survey_answer (survey_id, customer_org_id, contact, rating, comment,"
            " answered_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)", rows)
        answers += len(rows)
    tiers = await contribution.store_tiers(
        tx, DEMO, day - contribution.PERIOD, day - timedelta(days=1),
        contribution.DEFAULT_CURRENCY, now)
    ranked = ", ".join(f"{codes.get(t.customer_org_id, t.customer_org_id)} {t.tier}"
                       for t in tiers)
    return f"{len(sends)} surveys, {answers} answers; tiers: {ranked}"
