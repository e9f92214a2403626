"""Ordering, creating, confirming and amending contracts, by the table in the model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from domain import events
from domain.actor import Actor
from domain.calendar import mill_today
from domain.capacity import feasibility
from domain.contracts.model import (
    _CONTRACT_COLS,
    _LINE_COLS,
    PERMISSIONS,
    Contract,
    ContractLine,
    check_transition,
    production_finish,
)
from domain.contracts.order_lines import NewContractLine, resolve_lines
from domain.contracts.reads import lines_by_contract_ids
from domain.contracts.stage_routes import plan_stages
from domain.customers import credit
from domain.db import Database, Executor
from domain.errors import Conflict, Forbidden, Invalid, InvalidTransition, NotFound
from domain.parties import customer_acted_for, is_customer
from domain.preferences import reads as preference_reads
from domain.shipments import shipping
from domain.tenancy import Scope


async def _lock_contract(tx: Executor, contract_id: int) -> Contract:
    row = await tx.fetchrow(
        f"SELECT {_CONTRACT_COLS} FROM contract c WHERE c.id = $1 FOR UPDATE", contract_id
    )
    if row is None:
        raise NotFound("no such contract", field="contractId")
    return Contract(**dict(row))


async def confirm_contract(db: Database, contract_id: int, *, actor: Actor,
                           accept_infeasible: bool = False) -> Contract:
    """draft -> confirmed; every line gets a production order with its stage plan.

    Each line is first checked against the capacity left and its window
    (:mod:`domain.capacity.feasibility`): a line that cannot be made in time refuses the
    confirmation (``INFEASIBLE``, naming each line and its earliest delivery) unless
    ``accept_infeasible``; the finding is kept on every line either way. Then a contract
    whose value would go beyond its customer's credit headroom is held for finance
    (:func:`domain.customers.credit.hold_beyond_headroom`): it stays a draft, with a
    pending approval, and is returned as such."""
    PERMISSIONS.check(actor, "confirm")
    async with db.transaction() as tx:
        contract = await _lock_contract(tx, contract_id)
        check_transition(contract.status, "confirmed")
        if await credit.pending_approval(tx, contract.id) is not None:
            raise Conflict(f"contract {contract.number} awaits finance's approval of its "
                           "credit", field="contractId")
        lines, found = await _feasibility(tx, contract, accept_infeasible, actor.subject)
        if await credit.hold_beyond_headroom(tx, contract.id, contract.customer_org_id,
                                             contract.number, actor=actor.subject):
            return contract
        confirmed = await _confirm_rows(tx, contract, lines)
        await _confirmed_event(tx, contract, found, actor.subject)
        return confirmed


async def confirm_approved(tx: Executor, contract_id: int, *, actor: str) -> Contract:
    """Confirms a contract finance approved beyond its customer's headroom, in the
    caller's transaction (no second credit check); appends ``contract.confirmed``. Its
    lines were found feasible, or accepted as they were by sales, when it was confirmed
    and held, and that finding stays on them; they are checked again for the event, which
    names the late ones, but the approval is not refused for them."""
    contract = await _lock_contract(tx, contract_id)
    check_transition(contract.status, "confirmed")
    lines, found = await _feasibility(tx, contract, True, None)
    confirmed = await _confirm_rows(tx, contract, lines)
    await _confirmed_event(tx, contract, found, actor)
    return confirmed


async def _feasibility(
    tx: Executor, contract: Contract, accept_infeasible: bool, actor: str | None,
) -> tuple[list[ContractLine], list[feasibility.LineFeasibility]]:
    """The contract's lines and what the capacity check finds of each; ``INFEASIBLE``
    when one cannot be made in its window and that was not accepted. With ``actor``, the
    finding is kept on each line (a late one accepted by ``actor``), whether the contract
    is then confirmed or held for finance."""
    lines = (await lines_by_contract_ids(tx, Scope.everything(), [contract.id]))[contract.id]
    found = await feasibility.check_lines(tx, lines, mill_today())
    refused = feasibility.refusal(found, len(lines))
    if refused is not None and not accept_infeasible:
        raise refused
    if actor is not None:
        await feasibility.record(tx, contract.customer_org_id, found, actor)
    return lines, found


async def _confirm_rows(tx: Executor, contract: Contract, lines: list[ContractLine],
                        ) -> Contract:
    """The confirmation's changes (orders, states), without its event."""
    contract_id = contract.id
    check_transition(contract.status, "confirmed")
    for line in lines:
        await _create_production_order(tx, contract, line)
    await tx.execute(
        "UPDATE contract_line SET status = 'confirmed' WHERE contract_id = $1", contract_id
    )
    row = await tx.fetchrow(
        f"UPDATE contract c SET status = 'confirmed', confirmed_at = now(), updated_at = now()"
        f" WHERE c.id = $1 RETURNING {_CONTRACT_COLS}",
        contract_id,
    )
    assert row is not None
    return Contract(**dict(row))


async def _confirmed_event(tx: Executor, contract: Contract,
                           found: list[feasibility.LineFeasibility], actor: str) -> None:
    late = [x.line_no for x in found if not x.feasible]
    await events.append(
        tx, "contract.confirmed", org_id=contract.customer_org_id,
        aggregate_type="contract", aggregate_id=contract.id,
        payload={"number": contract.number, "lines": len(found),
                 **({"infeasible_lines": late} if late else {})}, actor=actor,
    )


async def _create_production_order(tx: Executor, contract: Contract, line: ContractLine) -> None:
    product = await tx.fetchval("SELECT product FROM steel_spec WHERE id = $1", line.spec_id)
    start = mill_today()
    finish = production_finish(start, line.delivery_from, line.transit_days)
    order_id = await tx.fetchval(
        "INSERT INTO production_order (order_no, line_id, customer_org_id, quantity_t)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (line_id) DO NOTHING RETURNING id",
        f"PO-{contract.number}-{line.line_no:02d}", line.id, line.customer_org_id,
        line.quantity_t,
    )
    if order_id is None:
        return
    plans = plan_stages(product, line.quantity_t, start, finish)
    await tx.executemany(
        "INSERT INTO production_stage_plan (order_id, stage, planned_start, planned_end,"
        " planned_t) VALUES ($1, $2, $3, $4, $5)",
        [(order_id, p.stage, p.planned_start, p.planned_end, p.planned_t) for p in plans],
    )



async def _next_number(tx: Executor) -> str:
    """`BSC-<year>-<n>`, restarting every (mill) year, never reusing a number in use."""
    year = mill_today().year
    last: int = await tx.fetchval(
        "INSERT INTO contract_number_counter AS k (year, last_no)"
        " SELECT $1::int, coalesce(max(substring(number FROM '^BSC-[0-9]{4}-([0-9]+)$')::int), 0)"
        " + 1 FROM contract WHERE number LIKE 'BSC-' || $1::int::text || '-%'"
        " ON CONFLICT (year) DO UPDATE SET last_no = greatest(k.last_no + 1, EXCLUDED.last_no)"
        " RETURNING last_no",
        year,
    )
    return f"BSC-{year}-{last:06d}"


async def place_order(
    db: Database, actor: Actor, customer_org_id: int | None,
    lines: Sequence[NewContractLine], *, confirm: bool = False,
    sales_owner: str | None = None, source: dict[str, Any] | None = None,
    accept_infeasible: bool = False,
) -> Contract:
    """An order placed by ``actor``: a customer's own, as a draft, or one sales takes for
    any customer, confirmed at once if asked (see :func:`create_contract`)."""
    PERMISSIONS.check(actor, "order")
    if actor.is_customer and confirm:
        raise Forbidden("the mill confirms contracts: leave confirm out", field="confirm")
    if actor.is_customer and accept_infeasible:
        raise Forbidden("the mill accepts what it cannot make in time: leave "
                        "acceptInfeasible out", field="acceptInfeasible")
    if actor.is_customer and sales_owner is not None:
        raise Forbidden("the mill names the sales owner", field="salesOwner")
    org = await customer_acted_for(db, actor, customer_org_id)
    async with db.transaction() as tx:
        return await create_contract(
            tx, customer_org_id=org, lines=lines, actor=actor.subject, confirm=confirm,
            sales_owner=sales_owner, source=source, accept_infeasible=accept_infeasible)


async def create_contract(
    tx: Executor,
    *,
    customer_org_id: int,
    lines: Sequence[NewContractLine],
    actor: str,
    confirm: bool = False,
    sales_owner: str | None = None,
    source: dict[str, Any] | None = None,
    accept_infeasible: bool = False,
) -> Contract:
    """A new draft contract from ``lines``, in the caller's transaction, with what the
    lines leave out taken from the customer's preferences and its latest prices.

    ``confirm`` confirms it at once, production orders and all, as :func:`confirm_contract`
    does: lines that cannot be made in their windows refuse it unless
    ``accept_infeasible``, and a value beyond the customer's credit headroom leaves it a
    draft, held for finance. The sales owner defaults to the one of the customer's latest
    contract. Appends ``contract.created`` (and ``contract.confirmed``): call it last in
    the transaction.
    """
    if not await is_customer(tx, customer_org_id):
        raise NotFound("no such customer", field="customerId")
    prefs = await preference_reads.preferences(tx, customer_org_id)
    resolved = await resolve_lines(tx, customer_org_id, lines, prefs.currency)
    if sales_owner is None:
        sales_owner = await tx.fetchval(
            "SELECT sales_owner FROM contract WHERE customer_org_id = $1"
            " AND sales_owner IS NOT NULL ORDER BY id DESC LIMIT 1",
            customer_org_id,
        )
    row = await tx.fetchrow(
        "INSERT INTO contract AS c (number, customer_org_id, currency, sales_owner, source)"
        f" VALUES ($1, $2, $3, $4, $5) RETURNING {_CONTRACT_COLS}",
        await _next_number(tx), customer_org_id, prefs.currency, sales_owner, source,
    )
    assert row is not None
    contract = Contract(**dict(row))
    await tx.executemany(
        "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id, quantity_t,"
        " unit_price, delivery_from, delivery_to, delivery_site_id, transport_mode,"
        " transit_days, firmness) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        [(contract.id, customer_org_id, x.line_no, x.spec_id, x.quantity_t, x.unit_price,
          x.delivery_from, x.delivery_to, x.delivery_site_id, x.transport_mode, x.transit_days,
          x.firmness) for x in resolved],
    )
    created = contract
    found: list[feasibility.LineFeasibility] = []
    stored: list[ContractLine] = []
    if confirm:
        stored, found = await _feasibility(tx, contract, accept_infeasible, actor)
        if await credit.hold_beyond_headroom(tx, contract.id, customer_org_id,
                                             contract.number, actor=actor):
            confirm = False  # held for finance: it stays a draft
    if confirm:
        contract = await _confirm_rows(tx, contract, stored)
    await events.append(
        tx, "contract.created", org_id=customer_org_id, aggregate_type="contract",
        aggregate_id=contract.id,
        payload={"number": contract.number, "lines": len(resolved), "source": source},
        actor=actor,
    )
    if confirm:
        await _confirmed_event(tx, created, found, actor)
    return contract


# A line's quantity and window may change until it has shipped in full.
AMENDABLE = frozenset({"draft", "confirmed", "in_production", "partially_shipped"})


async def amend_line(
    tx: Executor, line_id: int, *, quantity_t: Decimal, delivery_from: date, delivery_to: date,
    actor: str, reason: dict[str, Any] | None = None,
) -> ContractLine:
    """Change a line's quantity and delivery window, in the caller's transaction.

    A line may grow in any state until it has shipped in full; it may shrink, but never
    below what is already made (the most tonnes any of its stages reports) or shipped,
    and never to nothing. Its production order and the planned tonnes of each stage
    follow. Appends ``contract.line_amended``: call it last in the transaction.
    """
    # The contract first, as recording progress locks it: what is made cannot grow
    # between the check below and the change.
    await tx.execute(
        "SELECT 1 FROM contract WHERE id = (SELECT contract_id FROM contract_line"
        " WHERE id = $1) FOR UPDATE", line_id)
    row = await tx.fetchrow(
        f"SELECT {_LINE_COLS} FROM contract_line l WHERE l.id = $1 FOR UPDATE", line_id)
    if row is None:
        raise NotFound("no such contract line", field="lineId")
    line = ContractLine(**dict(row))
    if line.status not in AMENDABLE:
        raise InvalidTransition(f"a {line.status} contract line can no longer change",
                                field="quantityT")
    if quantity_t <= 0:
        raise Invalid("a contract line cannot shrink to nothing", field="quantityT")
    made = await tx.fetchval(
        "SELECT coalesce(max(actual_t), 0) FROM production_stage_status WHERE line_id = $1",
        line_id)
    floor = max(made, line.shipped_t)
    if quantity_t < floor:
        raise Invalid(f"{floor} t of the line are already made or shipped: it cannot "
                      f"shrink to {quantity_t} t", field="quantityT")
    if delivery_to < delivery_from:
        raise Invalid("the delivery window ends before it starts", field="deliveryTo")
    updated = await tx.fetchrow(
        "UPDATE contract_line l SET quantity_t = $2, delivery_from = $3, delivery_to = $4"
        f" WHERE l.id = $1 RETURNING {_LINE_COLS}", line_id, quantity_t, delivery_from,
        delivery_to)
    assert updated is not None
    await tx.execute(
        "UPDATE production_stage_plan s SET planned_t = greatest(0.001,"
        " round(s.planned_t * $2 / o.quantity_t, 3)) FROM production_order o"
        " WHERE o.line_id = $1 AND s.order_id = o.id", line_id, quantity_t)
    await tx.execute("UPDATE production_order SET quantity_t = $2 WHERE line_id = $1",
                     line_id, quantity_t)
    # Shrunk to what has left the mill, the line (and maybe its contract) has shipped.
    moved = await shipping.follow_lines(tx, [line_id])
    updated = await tx.fetchrow(
        f"SELECT {_LINE_COLS} FROM contract_line l WHERE l.id = $1", line_id)
    assert updated is not None
    number = await tx.fetchval(
        "UPDATE contract SET updated_at = now() WHERE id = $1 RETURNING number",
        line.contract_id)
    await events.append(
        tx, "contract.line_amended", org_id=line.customer_org_id, aggregate_type="contract",
        aggregate_id=line.contract_id,
        payload={"number": number, "line_no": line.line_no,
                 "quantity_t": {"before": line.quantity_t, "after": quantity_t},
                 "delivery_window": {
                     "before": [line.delivery_from.isoformat(), line.delivery_to.isoformat()],
                     "after": [delivery_from.isoformat(), delivery_to.isoformat()]},
                 **({"reason": reason} if reason else {})},
        actor=actor)
    await shipping.announce(tx, moved, actor=actor)
    return ContractLine(**dict(updated))
