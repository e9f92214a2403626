"""The customer hotline: a customer urges a late contract line, the line's owner at the
mill hears of it at once, and answers: acknowledges, promises a date, resolves.

`open -> acknowledged -> promised -> resolved`; a promise may be revised (a new
`promised` step). Each answer is owed within the ticket's ``answer_within`` (set when it
opens from the customer's tier, else ``KEYLINK_URGE_ANSWER_MINUTES``); a promise is owed
by the end of the promised day. Past that, :func:`escalate_overdue` hands the ticket to the next
person of the escalation chain: level 0 is the contract's sales owner, then the
``escalation_contact`` rows of levels 1, 2, ... (a customer's own row before its tier's,
then the general one). Every step is kept in ``urge_step``; every change appends an ``urge.*`` event
for the customer, naming in ``notify_users`` the mill users who must hear of it now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from domain import events
from domain.actor import Actor, Permissions
from domain.calendar import MILL_TZ, mill_today
from domain.checks import trimmed
from domain.db import Database, Executor
from domain.errors import Invalid, InvalidTransition, NotFound
from domain.service.tiers import urge_answer_time
from domain.tenancy import Scope

# Line states in which a delivery is still owed, so urging it makes sense.
URGEABLE = ("draft", "confirmed", "in_production", "partially_shipped")
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"promised"}),
    # A promise may be revised; the ticket stays promised.
    "promised": frozenset({"promised", "resolved"}),
    "resolved": frozenset(),
}
# Who may move a ticket: the customer urges (sales may record an urge taken by phone),
# the mill's staff answer, an admin sets who hears of an unanswered urge.
ANSWERING = ("sales", "production", "logistics", "admin")
PERMISSIONS = Permissions({
    "urge": ("customer", "sales", "admin"),
    "acknowledged": ANSWERING,
    "promised": ANSWERING,
    "resolved": ANSWERING,
    "set_escalation_chain": ("admin",),
})


@dataclass(frozen=True, slots=True)
class UrgeTicket:
    id: int
    line_id: int
    contract_id: int
    customer_org_id: int
    status: str
    reason: str
    needed_by: date
    opened_by: str
    opened_at: datetime
    assignee: str | None
    level: int
    answer_within: timedelta
    due_at: datetime | None
    promised_date: date | None
    resolution: str | None
    acknowledged_at: datetime | None
    promised_at: datetime | None
    resolved_at: datetime | None
    updated_at: datetime

    @property
    def number(self) -> str:
        return f"URG-{self.id:06d}"

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at <= now


@dataclass(frozen=True, slots=True)
class UrgeStep:
    id: int
    ticket_id: int
    action: str
    actor: str
    occurred_at: datetime
    note: str | None
    needed_by: date | None
    promised_date: date | None
    assignee: str | None
    level: int


TICKET_COLS = (
    "t.id, t.line_id, t.contract_id, t.customer_org_id, t.status, t.reason, t.needed_by,"
    " t.opened_by, t.opened_at, t.assignee, t.level, t.answer_within, t.due_at,"
    " t.promised_date, t.resolution, t.acknowledged_at, t.promised_at, t.resolved_at,"
    " t.updated_at"
)
STEP_COLS = (
    "s.id, s.ticket_id, s.action, s.actor, s.occurred_at, s.note, s.needed_by,"
    " s.promised_date, s.assignee, s.level"
)


def _ticket(row: Any) -> UrgeTicket:
    return UrgeTicket(**dict(row))


async def next_contact(
    db: Executor, customer_org_id: int, level: int
) -> str | None:
    """Who holds a ticket at ``level`` (>= 1): the customer's own contact, else its
    tier's, else the general one; None past the end of the chain."""
    found: str | None = await db.fetchval(
        f"SELECT subject FROM escalation_contact e WHERE e.level = $2 AND {_APPLIES}"
        f" ORDER BY {_CHAIN_ORDER} LIMIT 1",
        customer_org_id, level,
    )
    return found


# An escalation contact that applies to customer $1: its own, its tier's, a general one;
# ordered so, by _CHAIN_ORDER. (The chain's reads and writes: domain.hotline.escalation.)
_APPLIES = ("(e.customer_org_id = $1 OR e.tier = (SELECT ct.tier FROM customer_tier ct"
            " WHERE ct.customer_org_id = $1) OR (e.customer_org_id IS NULL"
            " AND e.tier IS NULL))")
_CHAIN_ORDER = "e.customer_org_id NULLS LAST, e.tier NULLS LAST"


# What the customer hears of without a push rule of its own (see push.matcher._direct).
CUSTOMER_HEARS = frozenset({"acknowledged", "promised", "resolved", "escalated"})


async def _event(
    tx: Executor, kind: str, t: UrgeTicket, actor: str, notify: list[str | None],
    note: str | None = None, line: tuple[str, int] | None = None, again: bool = False,
) -> None:
    """Append ``urge.<kind>``; ``line`` is (contract number, line no) when known;
    ``again`` marks a repeated urge of an open ticket."""
    if line is None:
        row = await tx.fetchrow(
            "SELECT c.number, l.line_no FROM contract_line l"
            " JOIN contract c ON c.id = l.contract_id WHERE l.id = $1", t.line_id,
        )
        assert row is not None
        line = (row["number"], row["line_no"])
    users = list(dict.fromkeys(u for u in notify if u))
    await events.append(
        tx, f"urge.{kind}", org_id=t.customer_org_id, aggregate_type="urge_ticket",
        aggregate_id=t.id, actor=actor,
        payload={
            "ticket": t.number, "contract": line[0], "lineNo": line[1],
            "lineId": t.line_id, "status": t.status, "neededBy": t.needed_by.isoformat(),
            "promisedDate": t.promised_date.isoformat() if t.promised_date else None,
            "assignee": t.assignee, "level": t.level,
            "dueAt": t.due_at.isoformat() if t.due_at else None, "note": note,
            "again": again, "notify_users": users,
            # The mill's answers (and an escalation) reach the customer's inbox by default.
            "notify_org": kind in CUSTOMER_HEARS,
        },
    )


async def _step(
    tx: Executor, t: UrgeTicket, action: str, actor: str, at: datetime, note: str | None,
) -> None:
    await tx.execute(
        "INSERT INTO urge_step (ticket_id, customer_org_id, action, actor, occurred_at, note,"
        " needed_by, promised_date, assignee, level) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
        " $9, $10)",
        t.id, t.customer_org_id, action, actor, at, note, t.needed_by, t.promised_date,
        t.assignee, t.level,
    )


def _text(value: str | None, field: str, *, required: str | None = None) -> str | None:
    """A ticket's text, up to 2,000 characters; ``required`` is the message when it must
    not be empty."""
    return trimmed(value, field, limit=2000, too_long="at most 2,000 characters",
                   empty=required or None)


async def open_urge(
    db: Database, actor: Actor, *, line_id: int, reason: str, needed_by: date,
    answer_within: timedelta, now: datetime | None = None,
) -> UrgeTicket:
    """The customer urges a line; urging a line that has an unresolved ticket adds to it.
    ``answer_within`` is the global answer time, which a customer whose tier sets its own
    does not take."""
    PERMISSIONS.check(actor, "urge")
    text = _text(reason, "reason", required="say what is late and why it matters")
    assert text is not None
    if needed_by < mill_today():
        raise Invalid("the date needed is in the past", field="neededBy")
    async with db.transaction() as tx:
        at = now or await tx.fetchval("SELECT now()")
        line = await tx.fetchrow(
            "SELECT l.id, l.status, l.customer_org_id, l.contract_id, c.sales_owner"
            " FROM contract_line l JOIN contract c ON c.id = l.contract_id"
            f" WHERE l.id = $2 AND {Scope.owned('l.customer_org_id')} FOR UPDATE OF l",
            actor.scope.org_id, line_id,
        )
        if line is None:
            raise NotFound("no such contract line", field="lineId")
        if line["status"] not in URGEABLE:
            raise InvalidTransition(
                f"a {line['status']} line is not awaiting delivery", field="lineId")
        row = await tx.fetchrow(
            f"SELECT {TICKET_COLS} FROM urge_ticket t"
            " WHERE t.line_id = $1 AND t.status <> 'resolved'",
            line_id,
        )
        if row is not None:
            return await _urge_again(tx, _ticket(row), text, needed_by, actor.subject, at)
        answer_within = await urge_answer_time(tx, line["customer_org_id"], answer_within)
        assignee, level = line["sales_owner"], 0
        if assignee is None:
            assignee = await next_contact(tx, line["customer_org_id"], 1)
            level = 0 if assignee is None else 1
        row = await tx.fetchrow(
            "INSERT INTO urge_ticket AS t (line_id, contract_id, customer_org_id, reason,"
            " needed_by, opened_by, opened_at, assignee, level, answer_within, due_at,"
            " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9, $10::interval,"
            " $7::timestamptz + $10::interval, $7::timestamptz)"
            f" RETURNING {TICKET_COLS}",
            line_id, line["contract_id"], line["customer_org_id"], text, needed_by,
            actor.subject, at, assignee, level, answer_within,
        )
        ticket = _ticket(row)
        await _step(tx, ticket, "opened", actor.subject, at, text)
        await _event(tx, "opened", ticket, actor.subject, [ticket.assignee], text)
        return ticket


async def _urge_again(
    tx: Executor, t: UrgeTicket, text: str, needed_by: date, actor: str, at: datetime
) -> UrgeTicket:
    row = await tx.fetchrow(
        f"UPDATE urge_ticket t SET needed_by = $2, updated_at = $3 WHERE t.id = $1"
        f" RETURNING {TICKET_COLS}",
        t.id, needed_by, at,
    )
    ticket = _ticket(row)
    await _step(tx, ticket, "urged_again", actor, at, text)
    await _event(tx, "opened", ticket, actor, [ticket.assignee], text, again=True)
    return ticket


async def _lock(tx: Executor, ticket_id: int) -> UrgeTicket:
    row = await tx.fetchrow(f"SELECT {TICKET_COLS} FROM urge_ticket t WHERE t.id = $1 FOR UPDATE",
                            ticket_id)
    if row is None:
        raise NotFound("no such urge ticket", field="ticketId")
    return _ticket(row)


def _check(current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"an {current} ticket cannot become {target}"
                                if current[0] in "aeiou" else
                                f"a {current} ticket cannot become {target}", field="ticketId")


async def _answer(
    db: Database, ticket_id: int, target: str, who: Actor, note: str | None,
    sets: str, args: tuple[Any, ...], now: datetime | None,
) -> UrgeTicket:
    actor = who.subject
    async with db.transaction() as tx:
        at = now or await tx.fetchval("SELECT now()")
        current = await _lock(tx, ticket_id)
        _check(current.status, target)
        row = await tx.fetchrow(
            f"UPDATE urge_ticket t SET status = $2, updated_at = $3, {sets}"
            f" WHERE t.id = $1 RETURNING {TICKET_COLS}",
            ticket_id, target, at, *args,
        )
        ticket = _ticket(row)
        await _step(tx, ticket, target, actor, at, note)
        # The holder hears when someone else answered for them.
        notify = [ticket.assignee] if ticket.assignee != actor else []
        await _event(tx, target, ticket, actor, notify, note)
        return ticket


async def acknowledge(
    db: Database, ticket_id: int, *, actor: Actor, note: str | None = None,
    now: datetime | None = None,
) -> UrgeTicket:
    """open -> acknowledged; a promised date is owed next, within the answer time."""
    PERMISSIONS.check(actor, "acknowledged")
    return await _answer(db, ticket_id, "acknowledged", actor,
                         _text(note, "note"),
                         "acknowledged_at = $3, due_at = $3::timestamptz + answer_within", (), now)


def end_of_day(day: date) -> datetime:
    """The end of a mill calendar day (China time), when a promise for it falls due."""
    return datetime.combine(day + timedelta(days=1), time(), MILL_TZ)


async def promise(
    db: Database, ticket_id: int, *, promised_date: date, actor: Actor,
    note: str | None = None,
    now: datetime | None = None,
) -> UrgeTicket:
    """acknowledged -> promised (or a revised promise); resolution is owed by the end of
    the promised day."""
    PERMISSIONS.check(actor, "promised")
    if promised_date < mill_today():
        raise Invalid("the promised date is in the past", field="promisedDate")
    return await _answer(db, ticket_id, "promised", actor, _text(note, "note"),
                         "promised_at = $3, promised_date = $4, due_at = $5",
                         (promised_date, end_of_day(promised_date)), now)


async def resolve(
    db: Database, ticket_id: int, *, resolution: str, actor: Actor,
    now: datetime | None = None,
) -> UrgeTicket:
    """promised -> resolved, with what was done; nothing more is owed."""
    PERMISSIONS.check(actor, "resolved")
    text = _text(resolution, "resolution", required="say how it was resolved")
    return await _answer(db, ticket_id, "resolved", actor, text,
                         "resolved_at = $3, resolution = $4, due_at = NULL", (text,), now)


ESCALATION_BATCH = 200


# Who escalates: the push worker's job, named as every process acting on its own is.
ESCALATION = Actor.system("keylink:urge-escalation")


async def escalate_overdue(db: Database, now: datetime) -> int:
    """Hand every ticket whose answer is overdue to the next person of its chain, once
    per level; tickets at the end of their chain stay overdue where they are. Safe to
    run from several processes at once: rows another run holds are skipped, and an
    escalated ticket is due again only after a fresh answer time. Works in batches, each
    its own short transaction."""
    total = 0
    while True:
        done = await _escalate_batch(db, now)
        total += done
        if done < ESCALATION_BATCH:
            return total


async def _escalate_batch(db: Database, now: datetime) -> int:
    async with db.transaction() as tx:
        rows = await tx.fetch(
            "WITH due AS (SELECT t.id, t.level, t.assignee AS previous, n.subject"
            " FROM urge_ticket t CROSS JOIN LATERAL (SELECT e.subject FROM escalation_contact e"
            "   WHERE e.level = t.level + 1 AND (e.customer_org_id = t.customer_org_id"
            "   OR e.tier = (SELECT ct.tier FROM customer_tier ct"
            "     WHERE ct.customer_org_id = t.customer_org_id)"
            "   OR (e.customer_org_id IS NULL AND e.tier IS NULL))"
            f"   ORDER BY {_CHAIN_ORDER} LIMIT 1) n"
            " WHERE t.due_at <= $1 AND t.status <> 'resolved'"
            " ORDER BY t.due_at, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED)"
            " UPDATE urge_ticket t SET assignee = due.subject, level = t.level + 1,"
            " due_at = $1::timestamptz + t.answer_within, updated_at = $1"
            f" FROM due WHERE t.id = due.id AND t.level = due.level"
            f" RETURNING {TICKET_COLS}, due.previous, (SELECT c.number FROM contract c"
            "   WHERE c.id = t.contract_id) AS contract_number, (SELECT l.line_no FROM"
            "   contract_line l WHERE l.id = t.line_id) AS line_no",
            now, ESCALATION_BATCH,
        )
        extra = ("previous", "contract_number", "line_no")
        done = [(_ticket({k: v for k, v in dict(r).items() if k not in extra}), r)
                for r in rows]
        await tx.executemany(
            "INSERT INTO urge_step (ticket_id, customer_org_id, action, actor, occurred_at,"
            " note, needed_by, promised_date, assignee, level)"
            " VALUES ($1, $2, 'escalated', $9, $3, $4, $5, $6, $7, $8)",
            [(t.id, t.customer_org_id, now,
              f"no answer from {r['previous'] or 'anyone'} in time; now with {t.assignee}",
              t.needed_by, t.promised_date, t.assignee, t.level, ESCALATION.subject)
             for t, r in done],
        )
        for t, r in done:
            await _event(tx, "escalated", t, ESCALATION.subject, [t.assignee, r["previous"]],
                         "the answer was late", line=(r["contract_number"], r["line_no"]))
        return len(done)
