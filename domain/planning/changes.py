"""A changed car build plan, or a new version of the customer's delivery schedule,
followed through: the open purchase plan is recomputed, and the last approved plan is
brought in line, line by line. An unconverted line changes in
place; a converted line (already a contract line) raises a change request to sales. Each
difference is kept, so both sides see what the change did."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from domain import events
from domain.actor import Actor
from domain.calendar import mill_today
from domain.contracts import writes as contract_writes
from domain.db import Database, Executor
from domain.errors import DomainError, InvalidTransition, NotFound
from domain.planning import inputs, permissions, plans
from domain.planning.calc import PlanEntry
from domain.planning.proposal import LineProposal, propose, window_days
from domain.tenancy import Scope

ZERO = Decimal(0)


async def share_plan(
    db: Database, org_id: int, entries: Sequence[PlanEntry], *, source: str, actor: Actor,
) -> inputs.ProductionPlan:
    """Store a new version of the car plan and let the purchase plans follow it, all in
    one transaction."""
    permissions.check(actor, "share_plan", org_id)
    return await store_plan(db, org_id, entries, source=source, actor=actor.subject)


async def store_plan(
    db: Database, org_id: int, entries: Sequence[PlanEntry], *, source: str, actor: str,
) -> inputs.ProductionPlan:
    """:func:`share_plan` for a step already allowed (an import its starter was allowed to
    begin), recorded under ``actor``."""
    async with db.transaction() as tx:
        plan = await inputs.save_plan(tx, org_id, entries, source=source, actor=actor)
        await follow(tx, plan, actor=actor)
        return plan


async def follow(tx: Executor, plan: inputs.ProductionPlan, *, actor: str) -> None:
    """The purchase plans follow the new car plan version ``plan``."""
    decided, requests = await _follow_inputs(tx, plan, actor=actor)
    await inputs.plan_changed_event(tx, plan, actor=actor)
    await _requested(tx, plan.customer_org_id, decided, requests,
                     {"production_plan_version": plan.version}, actor=actor)


async def follow_schedule(tx: Executor, org_id: int, *, version: int, actor: str) -> None:
    """The purchase plans follow a new version of the customer's delivery schedule as
    they follow a new car plan: the open plan (computed or rejected) is recomputed, the
    last approved one brought in line, a submitted one left for the mill's decision (its
    ``isStale`` says so). The schedule announces itself
    (``production_plan.delivery_schedule_received``); change requests are announced as a
    car plan's are. Without a car plan no purchase plan was ever computed: nothing to do."""
    plan = await inputs.current_plan(tx, org_id)
    if plan is None:
        return
    decided, requests = await _follow_inputs(tx, plan, actor=actor)
    await _requested(tx, org_id, decided, requests,
                     {"production_plan_version": plan.version,
                      "delivery_schedule_version": version}, actor=actor)


async def _follow_inputs(tx: Executor, plan: inputs.ProductionPlan, *, actor: str
                         ) -> tuple[int | None, int]:
    """Recompute the open plan and bring the last approved one in line with the current
    inputs (car plan ``plan`` and the customer's current delivery schedule): the approved
    plan's id, if any, and how many change requests that raised."""
    org_id = plan.customer_org_id
    status = await tx.fetchval(
        "SELECT status FROM purchase_plan WHERE customer_org_id = $1"
        " AND status = ANY($2::text[])", org_id, list(plans.OPEN))
    if status in ("computed", "rejected"):
        await plans.compute_in(tx, org_id, actor=actor)
    decided = await tx.fetchval(
        "SELECT id FROM purchase_plan WHERE customer_org_id = $1"
        " AND status IN ('approved', 'converted') ORDER BY id DESC LIMIT 1", org_id)
    requests = 0
    if decided is not None:
        requests = await _bring_in_line(tx, decided, plan, mill_today())
    return decided, requests


async def _requested(tx: Executor, org_id: int, decided: int | None, requests: int,
                     payload: dict[str, int], *, actor: str) -> None:
    if requests and decided is not None:
        await events.append(
            tx, "purchase_plan.change_requested", org_id=org_id,
            aggregate_type="purchase_plan", aggregate_id=decided,
            payload={**payload, "requests": requests}, actor=actor)


async def _bring_in_line(
    tx: Executor, plan_id: int, production: inputs.ProductionPlan, as_of: date
) -> int:
    org_id = production.customer_org_id
    proposal = await propose(tx, org_id, production.id, as_of,
                             baseline=await plans.positions_of(tx, plan_id))
    old = {(x.spec_id, x.period_start): x for x in
           (await plans.lines_of(tx, Scope.everything(), [plan_id]))[plan_id]}
    new = {(x.spec_id, x.period_start): x for x in proposal.lines}
    changes: list[tuple[tuple[int, date], Decimal, LineProposal | None, str, int | None,
                        str | None]] = []
    added: list[LineProposal] = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        after = now.quantity_t if now else ZERO
        if was is None:
            assert now is not None
            added.append(now)
            if after:
                changes.append((key, ZERO, now, "added", None, None))
            continue
        if was.contract_line_id is None:
            await _update_line(tx, was.id, now)
            if after != was.quantity_t:
                changes.append((key, was.quantity_t, now, "changed", None, None))
        elif after != was.quantity_t or (now and now.need_date != was.need_date):
            changes.append((key, was.quantity_t, now, "change_requested",
                            was.contract_line_id, "open"))
    await plans.insert_lines(tx, plan_id, org_id, added)
    await plans.write_curves(tx, plan_id, proposal)
    await tx.execute("UPDATE purchase_plan SET production_plan_id = $2,"
                     " delivery_schedule_id = $3 WHERE id = $1",
                     plan_id, production.id, proposal.delivery_schedule_id)
    # A newer request for a contract line replaces the one still open for it.
    await tx.execute(
        "UPDATE purchase_plan_change SET request_status = 'superseded'"
        " WHERE plan_id = $1 AND request_status = 'open'"
        " AND contract_line_id = ANY($2::bigint[])",
        plan_id, [c[4] for c in changes if c[4] is not None])
    await tx.executemany(
        "INSERT INTO purchase_plan_change (plan_id, customer_org_id, production_plan_id,"
        " spec_id, period_start, before_t, after_t, after_coils, after_need_date, action,"
        " contract_line_id, request_status, delivery_schedule_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        [(plan_id, org_id, production.id, k[0], k[1], b,
          now.quantity_t if now else ZERO, now.coils if now else 0,
          now.need_date if now else None, act, cl, st, proposal.delivery_schedule_id)
         for k, b, now, act, cl, st in changes])
    return sum(1 for c in changes if c[3] == "change_requested")


async def _update_line(tx: Executor, line_id: int, now: LineProposal | None) -> None:
    if now is None:
        await tx.execute(
            "UPDATE purchase_plan_line SET gross_t = 0, daily_t = 0, safety_t = 0,"
            " lead_time_t = 0, net_t = 0, quantity_t = 0, coils = 0, need_date = NULL,"
            " release_date = NULL WHERE id = $1", line_id)
        return
    fields = [f for f in plans.LINE_FIELDS if f not in ("spec_id", "period_start")]
    sets = ", ".join(f"{f} = ${i + 2}" for i, f in enumerate(fields))
    await tx.execute(f"UPDATE purchase_plan_line SET {sets} WHERE id = $1",
                     line_id, *(getattr(now, f) for f in fields))


async def answer_request(
    db: Database, change_id: int, *, accept: bool, actor: Actor
) -> plans.PlanChange:
    """Sales accepts or declines a change request: see :func:`_answer`."""
    permissions.check(actor, "answer_change")
    return await _answer(db, change_id, accept, actor.subject)


async def _answer(
    db: Database, change_id: int, accept: bool, actor: str
) -> plans.PlanChange:
    """Sales accepts or declines a change request raised against a contract line. An
    accepted request brings the contract line (quantity and delivery window, within what
    its state allows: see :func:`domain.contracts.amend_line`) and the plan line to what
    the changed car plan needs; a declined one leaves both as they were."""
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            "SELECT plan_id, customer_org_id, request_status FROM purchase_plan_change"
            " WHERE id = $1 FOR UPDATE", change_id)
        if row is None or row["request_status"] is None:
            raise NotFound("no such change request", field="changeId")
        if row["request_status"] != "open":
            raise InvalidTransition(f"the request is already {row['request_status']}",
                                    field="changeId")
        status = "accepted" if accept else "declined"
        await tx.execute("UPDATE purchase_plan_change SET request_status = $2 WHERE id = $1",
                         change_id, status)
        found = await plans.changes_of(tx, Scope.everything(), row["plan_id"])
        change = next(c for c in found if c.id == change_id)
        if accept:
            await _apply(tx, change, actor)
        await events.append(
            tx, "purchase_plan.change_answered", org_id=row["customer_org_id"],
            aggregate_type="purchase_plan", aggregate_id=row["plan_id"],
            payload={"change_id": change_id, "answer": status}, actor=actor)
        return change


async def _apply(tx: Executor, change: plans.PlanChange, actor: str) -> None:
    """The contract line and the plan line take the request's quantity and need date."""
    assert change.contract_line_id is not None
    line = await tx.fetchrow(
        "SELECT id, transit_days, need_date FROM purchase_plan_line WHERE plan_id = $1"
        " AND contract_line_id = $2", change.plan_id, change.contract_line_id)
    assert line is not None
    need = change.after_need_date or line["need_date"] or change.period_start
    start, end = plans.delivery_window(
        need, await window_days(tx, change.customer_org_id), mill_today())
    await tx.execute(
        "UPDATE purchase_plan_line SET quantity_t = $2, coils = $3, need_date = $4,"
        " release_date = $4::date - transit_days WHERE id = $1",
        line["id"], change.after_t, change.after_coils, need)
    try:
        await contract_writes.amend_line(
            tx, change.contract_line_id, quantity_t=change.after_t, delivery_from=start,
            delivery_to=end, actor=actor, reason={"plan_change_id": change.id})
    except DomainError as exc:
        # Said of the request sales answers, not of a contract-line field it never gave.
        raise type(exc)(f"the contract line cannot take it: {exc.message}",
                        field="changeId") from exc
