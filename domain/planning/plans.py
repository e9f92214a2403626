"""Purchase plans: computed from the car build plan (and, within its horizon, the
customer's delivery schedule), submitted by the customer, approved
(and at once converted into contracts) or rejected by the mill's sales, and kept in step
with the car plan when it changes.

`computed -> submitted -> approved -> converted`, `submitted -> rejected`; a rejected plan
is recomputed (`rejected -> computed`). A customer works on one open plan at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import events
from domain.actor import Actor
from domain.calendar import mill_today
from domain.contracts import order_lines as contract_order_lines
from domain.contracts import writes as contract_writes
from domain.contracts.order_lines import MAX_LINES
from domain.db import Database, Executor
from domain.errors import Conflict, Invalid, InvalidTransition, NotFound
from domain.planning import inputs, permissions
from domain.planning.position import SpecStock
from domain.planning.proposal import LineProposal, Proposal, propose, window_days
from domain.tenancy import Scope

TRANSITIONS: dict[str, frozenset[str]] = {
    "computed": frozenset({"computed", "submitted"}),
    "submitted": frozenset({"approved", "rejected"}),
    "approved": frozenset({"converted"}),
    "converted": frozenset(),
    "rejected": frozenset({"computed"}),
}
OPEN = ("computed", "submitted", "rejected")


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current} purchase plan cannot become {target}",
                                field="planId")


@dataclass(frozen=True, slots=True)
class PurchasePlan:
    id: int
    customer_org_id: int
    production_plan_id: int
    status: str
    as_of: date
    computed_at: datetime
    submitted_at: datetime | None
    submitted_by: str | None
    decided_at: datetime | None
    decided_by: str | None
    reject_reason: str | None
    # Tonnes over all lines, and over the firm ones.
    total_t: Decimal
    firm_t: Decimal
    # The customer's delivery schedule it was computed from, if it had one.
    delivery_schedule_id: int | None


@dataclass(frozen=True, slots=True)
class PlanLine(LineProposal):
    """A proposed line as a plan stored it."""

    id: int
    plan_id: int
    customer_org_id: int
    contract_line_id: int | None
    # The version of the delivery schedule its demand came from, if it did.
    delivery_schedule_version: int | None


@dataclass(frozen=True, slots=True)
class PlanChange:
    id: int
    plan_id: int
    customer_org_id: int
    production_plan_id: int
    spec_id: int
    period_start: date
    before_t: Decimal
    after_t: Decimal
    after_coils: int
    after_need_date: date | None
    action: str
    contract_line_id: int | None
    request_status: str | None
    created_at: datetime
    # The version of the customer's delivery schedule in force when it was made, if any.
    delivery_schedule_version: int | None


_PLAN_COLS = (
    "p.id, p.customer_org_id, p.production_plan_id, p.status, p.as_of, p.computed_at,"
    " p.submitted_at, p.submitted_by, p.decided_at, p.decided_by, p.reject_reason,"
    " (SELECT coalesce(sum(x.quantity_t), 0) FROM purchase_plan_line x"
    "  WHERE x.plan_id = p.id) AS total_t,"
    " (SELECT coalesce(sum(x.quantity_t), 0) FROM purchase_plan_line x"
    "  WHERE x.plan_id = p.id AND x.firmness = 'firm') AS firm_t, p.delivery_schedule_id"
)
# What a plan stores of each proposed line: the proposal's own fields.
LINE_FIELDS = list(LineProposal.__slots__)
_LINE_COLS = "l.id, l.plan_id, l.customer_org_id, " + ", ".join(
    f"l.{f}" for f in LINE_FIELDS) + ", l.contract_line_id, (SELECT d.version FROM" \
    " delivery_schedule d WHERE d.id = l.delivery_schedule_id) AS delivery_schedule_version"
_CHANGE_COLS = ", ".join(
    f"c.{f}" for f in PlanChange.__slots__ if f != "delivery_schedule_version") + (
    ", (SELECT d.version FROM delivery_schedule d WHERE d.id = c.delivery_schedule_id)"
    " AS delivery_schedule_version")


# Reads ---------------------------------------------------------------------------------

async def plans_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[PurchasePlan]:
    rows = await db.fetch(
        f"SELECT {_PLAN_COLS} FROM purchase_plan p WHERE p.id = ANY($2::bigint[])"
        f" AND {Scope.owned('p.customer_org_id')}", scope.org_id, list(ids))
    return [PurchasePlan(**dict(r)) for r in rows]


async def list_plans(
    db: Executor, scope: Scope, *, statuses: Sequence[str], after: int | None, limit: int,
    customer_org_id: int | None = None,
) -> list[PurchasePlan]:
    """Newest first, keyset by id."""
    rows = await db.fetch(
        f"SELECT {_PLAN_COLS} FROM purchase_plan p WHERE {Scope.owned('p.customer_org_id')}"
        " AND (cardinality($2::text[]) = 0 OR p.status = ANY($2::text[]))"
        " AND ($3::bigint IS NULL OR p.id < $3)"
        " AND ($5::bigint IS NULL OR p.customer_org_id = $5) ORDER BY p.id DESC LIMIT $4",
        scope.org_id, list(statuses), after, limit, customer_org_id)
    return [PurchasePlan(**dict(r)) for r in rows]


async def lines_of(
    db: Executor, scope: Scope, plan_ids: Sequence[int]
) -> dict[int, list[PlanLine]]:
    rows = await db.fetch(
        f"SELECT {_LINE_COLS} FROM purchase_plan_line l WHERE l.plan_id = ANY($2::bigint[])"
        f" AND {Scope.owned('l.customer_org_id')} ORDER BY l.plan_id, l.spec_id, l.period_start",
        scope.org_id, list(plan_ids))
    out: dict[int, list[PlanLine]] = {p: [] for p in plan_ids}
    for r in rows:
        out[r["plan_id"]].append(PlanLine(**dict(r)))
    return out


async def changes_of(db: Executor, scope: Scope, plan_id: int) -> list[PlanChange]:
    return (await changes_by_plans(db, scope, [plan_id]))[plan_id]


async def changes_by_plans(
    db: Executor, scope: Scope, plan_ids: Sequence[int]
) -> dict[int, list[PlanChange]]:
    rows = await db.fetch(
        f"SELECT {_CHANGE_COLS} FROM purchase_plan_change c WHERE c.plan_id = ANY($2::bigint[])"
        f" AND {Scope.owned('c.customer_org_id')} ORDER BY c.plan_id, c.id",
        scope.org_id, list(plan_ids))
    out: dict[int, list[PlanChange]] = {p: [] for p in plan_ids}
    for r in rows:
        out[r["plan_id"]].append(PlanChange(**dict(r)))
    return out


async def positions_of(tx: Executor, plan_id: int) -> dict[int, SpecStock]:
    """The stock positions a plan was computed from, per spec."""
    out = {}
    for r in await curves_of(tx, Scope.everything(), plan_id):
        p = r["inventory_position"]
        out[r["spec_id"]] = SpecStock(
            spec_id=r["spec_id"], warehouse_t=Decimal(p["warehouse_t"]),
            in_transit_t=Decimal(p["in_transit_t"]), unshipped_t=Decimal(p["unshipped_t"]),
            allocated_t=Decimal(p["allocated_t"]), mill_wip_t=Decimal(0),
            mill_finished_t=Decimal(0), next_arrival=None)
    return out


async def curves_of(db: Executor, scope: Scope, plan_id: int) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT v.spec_id, v.inventory_position, v.days FROM purchase_plan_curve v"
        " JOIN purchase_plan p ON p.id = v.plan_id"
        f" WHERE v.plan_id = $2 AND {Scope.owned('p.customer_org_id')} ORDER BY v.spec_id",
        scope.org_id, plan_id)
    return [dict(r) for r in rows]


# Writes --------------------------------------------------------------------------------

async def _lock(tx: Executor, plan_id: int, org_id: int | None) -> PurchasePlan:
    row = await tx.fetchrow(
        f"SELECT {_PLAN_COLS} FROM purchase_plan p WHERE p.id = $1"
        " AND ($2::bigint IS NULL OR p.customer_org_id = $2) FOR NO KEY UPDATE",
        plan_id, org_id)
    if row is None:
        raise NotFound("no such purchase plan", field="planId")
    return PurchasePlan(**dict(row))


async def _set_status(tx: Executor, plan_id: int, status: str, sets: str = "",
                      *args: Any) -> PurchasePlan:
    row = await tx.fetchrow(
        f"UPDATE purchase_plan p SET status = $2{sets} WHERE p.id = $1 RETURNING {_PLAN_COLS}",
        plan_id, status, *args)
    assert row is not None
    return PurchasePlan(**dict(row))


async def _write_proposal(tx: Executor, plan_id: int, org_id: int, proposal: Proposal) -> None:
    await tx.execute("DELETE FROM purchase_plan_line WHERE plan_id = $1", plan_id)
    await tx.execute("DELETE FROM purchase_plan_curve WHERE plan_id = $1", plan_id)
    await insert_lines(tx, plan_id, org_id, proposal.lines)
    await write_curves(tx, plan_id, proposal)


# The SQL type of each line field, for inserting a whole plan as arrays in one statement.
_LINE_TYPES = {
    "spec_id": "bigint", "period_start": "date", "period_end": "date", "gross_t": "numeric",
    "daily_t": "numeric", "safety_t": "numeric", "lead_time_t": "numeric",
    "available_t": "numeric", "net_t": "numeric", "quantity_t": "numeric", "coils": "int",
    "need_date": "date", "release_date": "date", "firmness": "text",
    "delivery_site_id": "bigint", "transport_mode": "text", "transit_days": "int",
    "demand_source": "text", "delivery_schedule_id": "bigint",
}


async def insert_lines(
    tx: Executor, plan_id: int, org_id: int, lines: Sequence[LineProposal]
) -> None:
    """One statement for the whole plan: a row per line from parallel arrays (a row at a
    time costs a round trip each, a quarter of a second for 1,300 lines)."""
    if not lines:
        return
    cols = ", ".join(LINE_FIELDS)
    arrays = ", ".join(f"${i + 3}::{_LINE_TYPES[f]}[]" for i, f in enumerate(LINE_FIELDS))
    await tx.execute(
        f"INSERT INTO purchase_plan_line (plan_id, customer_org_id, {cols})"
        f" SELECT $1, $2, * FROM unnest({arrays})",
        plan_id, org_id, *([getattr(x, f) for x in lines] for f in LINE_FIELDS))


async def write_curves(tx: Executor, plan_id: int, proposal: Proposal) -> None:
    await tx.execute("DELETE FROM purchase_plan_curve WHERE plan_id = $1", plan_id)
    rows = []
    for spec_id, curve in proposal.curves.items():
        pos = proposal.positions[spec_id]
        position = {"warehouse_t": pos.warehouse_t, "in_transit_t": pos.in_transit_t,
                    "unshipped_t": pos.unshipped_t, "allocated_t": pos.allocated_t,
                    "position_t": pos.inventory_position_t}
        # Exact decimals as JSON strings, written here rather than by the encoder's
        # fallback, which is called once per number.
        days = [{"day": d.day.isoformat(), "demand_t": str(d.demand_t),
                 "receipt_t": str(d.receipt_t), "stock_t": str(d.stock_t),
                 "safety_t": str(d.safety_t)} for d in curve]
        rows.append((plan_id, spec_id, position, days))
    await tx.executemany(
        "INSERT INTO purchase_plan_curve (plan_id, spec_id, inventory_position, days)"
        " VALUES ($1, $2, $3, $4)", rows)


async def compute(db: Database, org_id: int, *, actor: Actor,
                  as_of: date | None = None) -> PurchasePlan:
    """Compute (or recompute) the customer's open purchase plan from its current car plan
    and delivery schedule."""
    permissions.check(actor, "compute", org_id)
    async with db.transaction() as tx:
        return await compute_in(tx, org_id, actor=actor.subject, as_of=as_of)


async def compute_in(tx: Executor, org_id: int, *, actor: str,
                     as_of: date | None = None) -> PurchasePlan:
    plan = await inputs.current_plan(tx, org_id)
    if plan is None:
        raise NotFound("share a production plan first: there is none to compute from",
                       field="customerId")
    as_of = as_of or mill_today()
    await tx.execute("SELECT 1 FROM organization WHERE id = $1 FOR NO KEY UPDATE", org_id)
    open_id = await tx.fetchval(
        "SELECT id FROM purchase_plan WHERE customer_org_id = $1"
        " AND status = ANY($2::text[])", org_id, list(OPEN))
    proposal = await propose(tx, org_id, plan.id, as_of)
    if open_id is not None:
        current = await _lock(tx, open_id, org_id)
        if current.status == "submitted":
            raise Conflict("the open purchase plan awaits the mill's decision", field="planId")
        check_transition(current.status, "computed")
        await tx.execute(
            "UPDATE purchase_plan SET status = 'computed', production_plan_id = $2, as_of = $3,"
            " delivery_schedule_id = $4, computed_at = now(), reject_reason = NULL,"
            " decided_at = NULL, decided_by = NULL WHERE id = $1",
            open_id, plan.id, as_of, proposal.delivery_schedule_id)
        plan_id = open_id
    else:
        plan_id = await tx.fetchval(
            "INSERT INTO purchase_plan (customer_org_id, production_plan_id, as_of,"
            " delivery_schedule_id) VALUES ($1, $2, $3, $4) RETURNING id",
            org_id, plan.id, as_of, proposal.delivery_schedule_id)
    await _write_proposal(tx, plan_id, org_id, proposal)
    return await _lock(tx, plan_id, org_id)


async def submit(db: Database, plan_id: int, *, actor: Actor) -> PurchasePlan:
    """The customer submits its computed plan to the mill's sales."""
    permissions.check(actor, "submit")
    org_id, name = actor.scope.org_id, actor.subject
    async with db.transaction() as tx:
        plan = await _lock(tx, plan_id, org_id)
        check_transition(plan.status, "submitted")
        done = await _set_status(tx, plan_id, "submitted",
                                 ", submitted_at = now(), submitted_by = $3", name)
        await _event(tx, "purchase_plan.submitted", done, name, {})
        return done


async def reject(db: Database, plan_id: int, *, reason: str, actor: Actor) -> PurchasePlan:
    """Sales rejects a submitted plan, saying why."""
    permissions.check(actor, "reject")
    return await _reject(db, plan_id, reason, actor.subject)


async def _reject(db: Database, plan_id: int, reason: str, actor: str) -> PurchasePlan:
    reason = reason.strip()
    if not reason:
        raise Invalid("say why the plan is rejected", field="reason")
    async with db.transaction() as tx:
        plan = await _lock(tx, plan_id, None)
        check_transition(plan.status, "rejected")
        done = await _set_status(
            tx, plan_id, "rejected",
            ", decided_at = now(), decided_by = $3, reject_reason = $4", actor, reason)
        await _event(tx, "purchase_plan.rejected", done, actor, {"reason": reason})
        return done


async def approve(
    db: Database, plan_id: int, *, actor: Actor, prices: dict[int, Decimal] | None = None,
    accept_infeasible: bool = False,
) -> PurchasePlan:
    """Sales approves a submitted plan; its firm lines become confirmed contracts (with
    their production orders) in the same transaction, and the plan is converted. A firm
    line that cannot be made in its window refuses the approval, the plan staying
    submitted, unless ``accept_infeasible`` (see :mod:`domain.capacity.feasibility`)."""
    permissions.check(actor, "approve")
    return await _approve(db, plan_id, actor.subject, prices, accept_infeasible)


async def _approve(
    db: Database, plan_id: int, actor: str, prices: dict[int, Decimal] | None,
    accept_infeasible: bool = False,
) -> PurchasePlan:
    async with db.transaction() as tx:
        plan = await _lock(tx, plan_id, None)
        check_transition(plan.status, "approved")
        approved = await _set_status(tx, plan_id, "approved",
                                     ", decided_at = now(), decided_by = $3", actor)
        # This plan now follows the car plan; what earlier plans still ask is answered here.
        await tx.execute(
            "UPDATE purchase_plan_change SET request_status = 'superseded'"
            " WHERE customer_org_id = $1 AND request_status = 'open' AND plan_id <> $2",
            plan.customer_org_id, plan_id)
        lines = (await lines_of(tx, Scope.everything(), [plan_id]))[plan_id]
        firm = [x for x in lines if x.firmness == "firm" and x.quantity_t > 0
                and x.contract_line_id is None]
        if not firm:
            await _event(tx, "purchase_plan.approved", approved, actor, {"firm_lines": 0})
            return approved
        check_transition(approved.status, "converted")
        numbers, held = await _convert(tx, approved, firm, actor, prices or {},
                                       accept_infeasible)
        done = await _set_status(tx, plan_id, "converted")
        await _event(tx, "purchase_plan.approved", approved, actor, {"firm_lines": len(firm)})
        await _event(tx, "purchase_plan.converted", done, actor,
                     {"contracts": numbers, "lines": len(firm), "held_for_credit": held})
        return done


async def _convert(tx: Executor, plan: PurchasePlan, firm: list[PlanLine], actor: str,
                   prices: dict[int, Decimal], accept_infeasible: bool,
                   ) -> tuple[list[str], list[str]]:
    """One confirmed contract per hundred firm lines; each plan line remembers its
    contract line, with the window :func:`delivery_window` gives. A contract beyond the
    customer's credit headroom stays a draft held for finance's approval (as
    :func:`domain.contracts.writes.create_contract` decides). Returns the contracts'
    numbers, and those held."""
    width = await window_days(tx, plan.customer_org_id)
    today = mill_today()
    numbers: list[str] = []
    held: list[str] = []
    for chunk in (firm[i:i + MAX_LINES] for i in range(0, len(firm), MAX_LINES)):
        new = []
        for x in chunk:
            start, end = delivery_window(x.need_date or x.period_start, width, today)
            new.append(contract_order_lines.NewContractLine(
                spec_id=x.spec_id, quantity_t=x.quantity_t,
                delivery_from=start, delivery_to=end,
                unit_price=prices.get(x.spec_id), delivery_site_id=x.delivery_site_id,
                transport_mode=x.transport_mode, transit_days=x.transit_days, firmness="firm"))
        contract = await contract_writes.create_contract(
            tx, customer_org_id=plan.customer_org_id, lines=new, actor=actor, confirm=True,
            sales_owner=actor, source={"purchase_plan_id": plan.id},
            accept_infeasible=accept_infeasible)
        rows = await tx.fetch(
            "SELECT id FROM contract_line WHERE contract_id = $1 ORDER BY line_no", contract.id)
        await tx.executemany(
            "UPDATE purchase_plan_line SET contract_line_id = $2 WHERE id = $1",
            [(x.id, r["id"]) for x, r in zip(chunk, rows, strict=True)])
        numbers.append(contract.number)
        if contract.status == "draft":
            held.append(contract.number)
    return numbers, held


def delivery_window(need: date, width: int, today: date) -> tuple[date, date]:
    """A contract line's window: it closes on the day the steel is needed and opens
    ``width`` days before, never before today."""
    end = max(need, today)
    return max(today, end - timedelta(days=width)), end


async def _event(tx: Executor, kind: str, plan: PurchasePlan, actor: str,
                 payload: dict[str, Any]) -> None:
    await events.append(
        tx, kind, org_id=plan.customer_org_id, aggregate_type="purchase_plan",
        aggregate_id=plan.id, payload={"status": plan.status, **payload}, actor=actor)
