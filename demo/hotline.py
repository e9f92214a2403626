"""The demo customers' own ways of working and their hotline: FAW-Volkswagen takes its
steel by rail (to its press-shop store or to Changchun station), Galanz by water (to its
Shunde warehouse or Beijiao port); urges on some of the late lines, in every state, one
of them escalated and late again, so the push worker escalates it further on start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from domain.db import Transaction
from domain.hotline.writes import next_contact

from .build import DemoData
from .catalogue import FAW_VW, GALANZ, SALES_OWNER
from .schedule import CST

# (default site, units, language, time zone, {site: (mode, transit days)})
PREFERENCES: dict[str, tuple[str, str, str, str, dict[str, tuple[str, int]]]] = {
    FAW_VW: ("FAWVW-CC-WH", "metric", "zh-CN", "Asia/Shanghai",
             {"FAWVW-CC-WH": ("rail", 7), "CHANGCHUN-RAIL": ("rail", 6)}),
    GALANZ: ("GALANZ-SD-WH", "metric", "en-US", "Asia/Shanghai",
             {"GALANZ-SD-WH": ("water", 10), "FOSHAN-BEIJIAO": ("water", 9)}),
}
# Who hears of an unanswered urge after the sales owner; Galanz has its own first contact.
CHAIN = ("sales.manager", "sales.director")
GALANZ_CHAIN = ("key.account.south",)
ANSWER = timedelta(hours=2)


async def write(tx: Transaction, data: DemoData, day: date,
                step: Callable[[str], None]) -> None:
    step("writing preferences, the escalation chain and urges")
    for code, (site, units, language, zone, routes) in PREFERENCES.items():
        org = data.orgs[code].id
        await tx.execute(
            "INSERT INTO customer_preference (org_id, default_delivery_site_id, units, language,"
            " time_zone, updated_by) VALUES ($1, $2, $3, $4, $5, 'demo')",
            org, data.sites[site].id, units, language, zone)
        await tx.executemany(
            "INSERT INTO transport_preference (org_id, site_id, transport_mode, transit_days,"
            " updated_by) VALUES ($1, $2, $3, $4, 'demo')",
            [(org, data.sites[s].id, mode, days) for s, (mode, days) in routes.items()])
    await tx.executemany(
        "INSERT INTO escalation_contact (customer_org_id, level, subject) VALUES ($1, $2, $3)",
        [(None, i, s) for i, s in enumerate(CHAIN, start=1)]
        + [(data.orgs[GALANZ].id, i, s) for i, s in enumerate(GALANZ_CHAIN, start=1)])
    for code in (FAW_VW, GALANZ):
        await _urges(tx, data.orgs[code].id, SALES_OWNER[code], day)


def _at(day: date, hours: float) -> datetime:
    return datetime.combine(day, time(), CST) + timedelta(hours=hours)


async def _urges(tx: Transaction, org: int, owner: str, day: date) -> None:
    late = await tx.fetch(
        "SELECT s.line_id, s.customer_org_id, s.predicted_delivery FROM contract_line_schedule s"
        " WHERE s.customer_org_id = $1 AND s.is_late ORDER BY s.late_days DESC, s.line_id"
        " LIMIT 3", org)
    stories = (_promised, _escalated, _fresh)
    for row, story in zip(late, stories, strict=False):
        await story(tx, row, owner, day)


async def _ticket(tx: Transaction, line_id: int, **values: Any) -> int:
    cols = ", ".join(values)
    marks = ", ".join(f"${i}" for i in range(2, len(values) + 2))
    ticket: int = await tx.fetchval(
        f"INSERT INTO urge_ticket (line_id, contract_id, customer_org_id, {cols})"
        f" SELECT l.id, l.contract_id, l.customer_org_id, {marks} FROM contract_line l"
        " WHERE l.id = $1 RETURNING id",
        line_id, *values.values())
    return ticket


async def _steps(tx: Transaction, ticket: int, steps: list[tuple[Any, ...]]) -> None:
    await tx.executemany(
        "INSERT INTO urge_step (ticket_id, customer_org_id, action, actor, occurred_at, note,"
        " needed_by, promised_date, assignee, level) SELECT $1, customer_org_id, $2, $3, $4, $5,"
        " $6, $7, $8, $9 FROM urge_ticket WHERE id = $1",
        [(ticket, *s) for s in steps])


async def _promised(tx: Transaction, row: Any, owner: str, day: date) -> None:
    needed, promised = row["predicted_delivery"] - timedelta(days=4), row["predicted_delivery"]
    opened = _at(day - timedelta(days=3), 10)
    reason = "Press line runs out of this steel before the window; please pull production in."
    ticket = await _ticket(
        tx, row["line_id"], status="promised", reason=reason, needed_by=needed,
        opened_by="buyer", opened_at=opened, assignee=owner, level=0, answer_within=ANSWER,
        due_at=datetime.combine(promised + timedelta(days=1), time(), CST),
        promised_date=promised, acknowledged_at=opened + timedelta(minutes=35),
        promised_at=opened + timedelta(hours=3), updated_at=opened + timedelta(hours=3))
    await _steps(tx, ticket, [
        ("opened", "buyer", opened, reason, needed, None, owner, 0),
        ("acknowledged", owner, opened + timedelta(minutes=35), "Checking with the cold mill.",
         needed, None, owner, 0),
        ("promised", owner, opened + timedelta(hours=3),
         "Annealing slot moved up; this is the earliest delivery.", needed, promised, owner, 0),
    ])


async def _escalated(tx: Transaction, row: Any, owner: str, day: date) -> None:
    needed = row["predicted_delivery"] - timedelta(days=3)
    opened = _at(day - timedelta(days=1), 9)
    reason = "Second reminder: the line stops without this steel."
    manager = await next_contact(tx, row["customer_org_id"], 1)
    ticket = await _ticket(
        tx, row["line_id"], status="open", reason=reason, needed_by=needed, opened_by="buyer",
        opened_at=opened, assignee=manager, level=1, answer_within=ANSWER,
        due_at=opened + 2 * ANSWER, updated_at=opened + ANSWER)
    await _steps(tx, ticket, [
        ("opened", "buyer", opened, reason, needed, None, owner, 0),
        ("escalated", "keylink:urge-escalation", opened + ANSWER,
         f"no answer from {owner} in time; now with {manager}", needed, None, manager, 1),
    ])


async def _fresh(tx: Transaction, row: Any, owner: str, day: date) -> None:
    needed = row["predicted_delivery"] - timedelta(days=2)
    opened = _at(day, 8)
    reason = "Can part of this line ship early?"
    ticket = await _ticket(
        tx, row["line_id"], status="open", reason=reason, needed_by=needed, opened_by="buyer",
        opened_at=opened, assignee=owner, level=0, answer_within=ANSWER,
        due_at=opened + ANSWER, updated_at=opened)
    await _steps(tx, ticket, [("opened", "buyer", opened, reason, needed, None, owner, 0)])
