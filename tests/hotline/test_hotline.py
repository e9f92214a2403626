"""The hotline in the domain: an urge reaches the line's owner at once, each answer moves
the ticket along, and an answer late past the configured time escalates on time, once
per level, even with two escalators running at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain import events
from domain.actor import Actor
from domain.db import Database
from domain.errors import Invalid, InvalidTransition, NotFound
from domain.hotline import escalation
from domain.hotline import reads as hotline_reads
from domain.hotline import writes as hotline
from domain.tenancy import Scope
from tests.support.factory import TODAY, World, build

ANSWER = timedelta(hours=2)
CUSTOMER = frozenset({"customer"})
SALES = frozenset({"sales"})


def buyer(org_id: int, subject: str) -> Actor:
    return Actor(subject, org_id, CUSTOMER, True)


def staff(subject: str) -> Actor:
    return Actor(subject, 0, SALES, False)
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


async def _setup(db: Database) -> World:
    w = await build(db)
    await db.execute("UPDATE contract SET sales_owner = 'sales.zhang' WHERE id = $1",
                     w.contract["FAW-VW"])
    await db.execute("UPDATE contract SET sales_owner = 'sales.liu' WHERE id = $1",
                     w.contract["GALANZ"])
    async with db.transaction() as tx:
        await escalation.set_escalation_chain(tx, None, ["sales.manager", "sales.director"])
        await escalation.set_escalation_chain(tx, w.org["GALANZ"], ["key.account.galanz"])
    return w


async def _open(db: Database, w: World, cust: str = "FAW-VW") -> hotline.UrgeTicket:
    return await hotline.open_urge(
        db, buyer(w.org[cust], "buyer"), line_id=w.line[cust],
        reason="press line stops on the 3rd without this steel",
        needed_by=TODAY + timedelta(days=20), answer_within=ANSWER, now=T0)


async def _urge_events(db: Database) -> list[events.DomainEvent]:
    return [e for e in await events.read_after(db, 0) if e.event_type.startswith("urge.")]


async def test_the_owner_hears_at_once_and_answers_step_by_step(db: Database) -> None:
    w = await _setup(db)
    t = await _open(db, w)
    assert (t.status, t.assignee, t.level, t.due_at) == ("open", "sales.zhang", 0, T0 + ANSWER)
    [opened] = await _urge_events(db)
    assert opened.event_type == "urge.opened" and opened.org_id == w.org["FAW-VW"]
    assert opened.payload["notify_users"] == ["sales.zhang"]
    assert opened.payload["contract"] == "C-FAW-VW" and opened.payload["ticket"] == t.number

    with pytest.raises(InvalidTransition):
        await hotline.resolve(db, t.id, resolution="done", actor=staff("sales.zhang"))
    t = await hotline.acknowledge(db, t.id, actor=staff("sales.zhang"),
                                  now=T0 + timedelta(minutes=30))
    assert t.status == "acknowledged" and t.due_at == T0 + timedelta(minutes=30) + ANSWER
    t = await hotline.promise(db, t.id, promised_date=TODAY + timedelta(days=18),
                              actor=staff("sales.zhang"), note="moved up in the cold mill")
    assert t.status == "promised" and t.promised_date == TODAY + timedelta(days=18)
    assert t.due_at == hotline.end_of_day(TODAY + timedelta(days=18))
    # A revised promise is another step on a promised ticket.
    t = await hotline.promise(db, t.id, promised_date=TODAY + timedelta(days=19),
                              actor=staff("sales.wang"))
    with pytest.raises(Invalid, match="how it was resolved"):
        await hotline.resolve(db, t.id, resolution="  ", actor=staff("sales.zhang"))
    t = await hotline.resolve(db, t.id, resolution="shipped by rail on the 14th",
                              actor=staff("sales.zhang"))
    assert t.status == "resolved" and t.due_at is None and t.resolved_at is not None

    steps = (await hotline_reads.steps_by_ticket_ids(db, Scope.customer(w.org["FAW-VW"]),
                                                     [t.id]))[t.id]
    assert [s.action for s in steps] == ["opened", "acknowledged", "promised", "promised",
                                         "resolved"]
    assert steps[3].actor == "sales.wang" and steps[3].promised_date == TODAY + timedelta(19)
    kinds = [(e.event_type, e.payload["notify_users"]) for e in await _urge_events(db)]
    # sales.wang answered for the owner, who hears of it.
    assert kinds[1:] == [("urge.acknowledged", []), ("urge.promised", []),
                         ("urge.promised", ["sales.zhang"]), ("urge.resolved", [])]
    # The other customer sees none of it.
    galanz = Scope.customer(w.org["GALANZ"])
    assert await hotline_reads.tickets_by_ids(db, galanz, [t.id]) == []
    assert await hotline_reads.steps_by_ticket_ids(db, galanz, [t.id]) == {}


async def test_urging_is_checked(db: Database) -> None:
    w = await _setup(db)
    with pytest.raises(NotFound):  # another customer's line
        await hotline.open_urge(db, buyer(w.org["GALANZ"], "b"), line_id=w.line["FAW-VW"],
                                reason="x", needed_by=TODAY, answer_within=ANSWER)
    with pytest.raises(Invalid) as empty:
        await hotline.open_urge(db, buyer(w.org["FAW-VW"], "b"), line_id=w.line["FAW-VW"],
                                reason="  ", needed_by=TODAY, answer_within=ANSWER)
    assert empty.value.field == "reason"
    with pytest.raises(Invalid) as past:
        await hotline.open_urge(db, buyer(w.org["FAW-VW"], "b"), line_id=w.line["FAW-VW"],
                                reason="late", needed_by=TODAY - timedelta(days=1),
                                answer_within=ANSWER)
    assert past.value.field == "neededBy"
    await db.execute("UPDATE contract_line SET status = 'shipped' WHERE id = $1",
                     w.line["FAW-VW"])
    with pytest.raises(InvalidTransition):
        await _open(db, w)


async def test_urging_again_adds_to_the_open_ticket(db: Database) -> None:
    w = await _setup(db)
    first = await _open(db, w)
    again = await hotline.open_urge(
        db, buyer(w.org["FAW-VW"], "buyer2"), line_id=w.line["FAW-VW"], reason="still waiting",
        needed_by=TODAY + timedelta(days=15), answer_within=ANSWER)
    assert again.id == first.id and again.needed_by == TODAY + timedelta(days=15)
    steps = (await hotline_reads.steps_by_ticket_ids(db, Scope.everything(), [first.id]))
    assert [s.action for s in steps[first.id]] == ["opened", "urged_again"]
    opened = [e.payload["again"] for e in await _urge_events(db)]
    assert opened == [False, True]


async def test_a_late_answer_escalates_on_time_once_per_level(db: Database) -> None:
    w = await _setup(db)
    t = await _open(db, w)
    assert await hotline.escalate_overdue(db, T0 + ANSWER - timedelta(seconds=1)) == 0
    assert await hotline.escalate_overdue(db, T0 + ANSWER) == 1
    [after] = await hotline_reads.tickets_by_ids(db, Scope.everything(), [t.id])
    assert (after.assignee, after.level, after.due_at) == ("sales.manager", 1,
                                                           T0 + 2 * ANSWER)
    # Run again at the same moment: nothing more is due.
    assert await hotline.escalate_overdue(db, T0 + ANSWER + timedelta(minutes=1)) == 0
    escalated = [e for e in await _urge_events(db) if e.event_type == "urge.escalated"]
    assert len(escalated) == 1 and escalated[0].org_id == w.org["FAW-VW"]
    assert escalated[0].payload["notify_users"] == ["sales.manager", "sales.zhang"]
    assert escalated[0].payload["assignee"] == "sales.manager"

    # Acknowledged late by the manager, then no promise: the director hears next.
    await hotline.acknowledge(db, t.id, actor=staff("sales.manager"), now=T0 + 3 * ANSWER)
    assert await hotline.escalate_overdue(db, T0 + 4 * ANSWER - timedelta(seconds=1)) == 0
    assert await hotline.escalate_overdue(db, T0 + 4 * ANSWER) == 1
    # End of the chain: it stays overdue with the director.
    assert await hotline.escalate_overdue(db, T0 + 10 * ANSWER) == 0
    [last] = await hotline_reads.tickets_by_ids(db, Scope.everything(), [t.id])
    assert (last.assignee, last.level, last.status) == ("sales.director", 2, "acknowledged")
    assert last.overdue(T0 + 10 * ANSWER)
    steps = (await hotline_reads.steps_by_ticket_ids(db, Scope.everything(), [t.id]))[t.id]
    assert [(s.action, s.assignee) for s in steps] == [
        ("opened", "sales.zhang"), ("escalated", "sales.manager"),
        ("acknowledged", "sales.manager"), ("escalated", "sales.director")]
    mine = await hotline_reads.list_tickets(
        db, Scope.everything(), hotline_reads.TicketFilter(assignee="sales.director"), 10, None)
    assert [x.id for x in mine] == [t.id]


async def test_a_customer_chain_and_a_missed_promise(db: Database) -> None:
    w = await _setup(db)
    t = await _open(db, w, "GALANZ")
    await hotline.acknowledge(db, t.id, actor=staff("sales.liu"), now=T0)
    t = await hotline.promise(db, t.id, promised_date=TODAY, actor=staff("sales.liu"))
    due = hotline.end_of_day(TODAY)
    assert await hotline.escalate_overdue(db, due - timedelta(seconds=1)) == 0
    assert await hotline.escalate_overdue(db, due) == 1
    [after] = await hotline_reads.tickets_by_ids(db, Scope.everything(), [t.id])
    # GALANZ's own level-1 contact comes before the general one.
    assert after.assignee == "key.account.galanz" and after.status == "promised"


async def test_two_escalators_at_once_escalate_each_ticket_once(db: Database) -> None:
    w = await _setup(db)
    tickets = [await _open(db, w, "FAW-VW"), await _open(db, w, "GALANZ")]
    counts = await asyncio.gather(*(hotline.escalate_overdue(db, T0 + ANSWER)
                                    for _ in range(4)))
    assert sum(counts) == 2
    found = await hotline_reads.tickets_by_ids(db, Scope.everything(), [t.id for t in tickets])
    assert sorted(t.level for t in found) == [1, 1]
    escalated = [e for e in await _urge_events(db) if e.event_type == "urge.escalated"]
    assert len(escalated) == 2


async def test_without_a_sales_owner_the_first_contact_holds_it(db: Database) -> None:
    w = await _setup(db)
    await db.execute("UPDATE contract SET sales_owner = NULL WHERE id = $1",
                     w.contract["FAW-VW"])
    t = await _open(db, w)
    assert (t.assignee, t.level) == ("sales.manager", 1)


async def test_escalation_works_through_a_backlog_in_batches(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await _setup(db)
    await db.execute(
        "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id, quantity_t,"
        " unit_price, delivery_from, delivery_to, transport_mode, status)"
        " SELECT $1, $2, g, $3, 10, 5000, $4::date, $4::date + 10, 'rail', 'confirmed'"
        " FROM generate_series(2, 6) g",
        w.contract["FAW-VW"], w.org["FAW-VW"], w.spec["FAW-VW"], TODAY + timedelta(days=30))
    lines = [r["id"] for r in await db.fetch(
        "SELECT id FROM contract_line WHERE contract_id = $1 ORDER BY id", w.contract["FAW-VW"])]
    for line in lines:
        await hotline.open_urge(db, buyer(w.org["FAW-VW"], "b"), line_id=line,
                                reason="late", needed_by=TODAY, answer_within=ANSWER,
                                now=T0)
    monkeypatch.setattr(hotline, "ESCALATION_BATCH", 2)
    assert await hotline.escalate_overdue(db, T0 + ANSWER) == len(lines) == 6
    steps = await db.fetchval("SELECT count(*) FROM urge_step WHERE action = 'escalated'")
    assert steps == 6
