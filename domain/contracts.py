"""Contracts and their lines: reads, filters, keyset pages, and the state machine."""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import events
from domain.calendar import mill_today
from domain.db import Database, Executor
from domain.errors import InvalidTransition, NotFound
from domain.stage_routes import plan_stages
from domain.tenancy import Scope

# Transitions exactly as drawn in the design; lateness is computed, never a state.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"in_production", "cancelled"}),
    "in_production": frozenset({"partially_shipped", "shipped"}),
    "partially_shipped": frozenset({"shipped"}),
    "shipped": frozenset({"settled"}),
    "settled": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}


MIN_PRODUCTION_TIME = timedelta(days=14)


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"a {current} contract cannot become {target}", field="status")


@dataclass(frozen=True, slots=True)
class Contract:
    id: int
    number: str
    customer_org_id: int
    status: str
    currency: str
    incoterm: str
    signed_on: date | None
    confirmed_at: datetime | None
    sales_owner: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ContractLine:
    id: int
    contract_id: int
    customer_org_id: int
    line_no: int
    spec_id: int
    quantity_t: Decimal
    unit_price: Decimal
    delivery_from: date
    delivery_to: date
    delivery_site_id: int | None
    transport_mode: str
    transit_days: int
    firmness: str
    status: str
    shipped_t: Decimal


_CONTRACT_COLS = (
    "c.id, c.number, c.customer_org_id, c.status, c.currency, c.incoterm, c.signed_on, "
    "c.confirmed_at, c.sales_owner, c.created_at, c.updated_at"
)
_LINE_COLS = (
    "l.id, l.contract_id, l.customer_org_id, l.line_no, l.spec_id, l.quantity_t, l.unit_price, "
    "l.delivery_from, l.delivery_to, l.delivery_site_id, l.transport_mode, l.transit_days, "
    "l.firmness, l.status, l.shipped_t"
)


class ContractOrder(enum.Enum):
    """Sort orders with a unique keyset: (value, id)."""

    CREATED = "c.id"
    NUMBER = "c.number"
    SIGNED_ON = "coalesce(c.signed_on, '-infinity'::date)"

    def key(self, c: Contract) -> Any:
        if self is ContractOrder.CREATED:
            return c.id
        if self is ContractOrder.NUMBER:
            return c.number
        return c.signed_on.isoformat() if c.signed_on else None


@dataclass(frozen=True)
class ContractFilter:
    statuses: Sequence[str] = ()
    # Contracts with at least one line whose promised window overlaps [from, to].
    delivery_from: date | None = None
    delivery_to: date | None = None
    grades: Sequence[str] = ()
    late_only: bool = False
    numbers: Sequence[str] = field(default_factory=tuple)


async def list_contracts(
    db: Executor,
    scope: Scope,
    flt: ContractFilter,
    order: ContractOrder,
    descending: bool,
    limit: int,
    after: tuple[Any, int] | None,
) -> list[Contract]:
    """One keyset page (``limit`` rows) of the contracts the scope sees."""
    args: list[Any] = [scope.org_id]
    where = [Scope.owned("c.customer_org_id")]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if flt.statuses:
        where.append(f"c.status = ANY({arg(list(flt.statuses))}::text[])")
    if flt.numbers:
        where.append(f"c.number = ANY({arg(list(flt.numbers))}::text[])")
    if flt.delivery_from or flt.delivery_to:
        lo, hi = arg(flt.delivery_from), arg(flt.delivery_to)
        where.append(
            "EXISTS (SELECT 1 FROM contract_line w WHERE w.contract_id = c.id"
            f" AND ({hi}::date IS NULL OR w.delivery_from <= {hi})"
            f" AND ({lo}::date IS NULL OR w.delivery_to >= {lo}))"
        )
    if flt.grades:
        where.append(
            "EXISTS (SELECT 1 FROM contract_line g JOIN steel_spec s ON s.id = g.spec_id"
            f" WHERE g.contract_id = c.id AND s.grade = ANY({arg(list(flt.grades))}::text[]))"
        )
    if flt.late_only:
        where.append(
            "EXISTS (SELECT 1 FROM contract_line x JOIN contract_line_schedule ls"
            " ON ls.line_id = x.id WHERE x.contract_id = c.id AND ls.is_late)"
        )
    sort = order.value
    direction = "DESC" if descending else "ASC"
    if after is not None:
        op = "<" if descending else ">"
        value = after[0]
        if order is ContractOrder.SIGNED_ON:
            value = date.fromisoformat(value) if value else date.min
        where.append(f"({sort}, c.id) {op} ({arg(value)}, {arg(after[1])}::bigint)")
    sql = (
        f"SELECT {_CONTRACT_COLS} FROM contract c WHERE {' AND '.join(where)}"
        f" ORDER BY {sort} {direction}, c.id {direction} LIMIT {arg(limit)}"
    )
    rows = await db.fetch(sql, *args)
    return [Contract(**dict(r)) for r in rows]


async def _contracts(
    db: Executor, scope: Scope, where: str, keys: Sequence[Any]
) -> list[Contract]:
    rows = await db.fetch(
        f"SELECT {_CONTRACT_COLS} FROM contract c WHERE {where}"
        f" AND {Scope.owned('c.customer_org_id')}",
        scope.org_id, list(keys),
    )
    return [Contract(**dict(r)) for r in rows]


async def contracts_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Contract]:
    return await _contracts(db, scope, "c.id = ANY($2::bigint[])", ids)


async def contracts_by_numbers(
    db: Executor, scope: Scope, numbers: Sequence[str]
) -> list[Contract]:
    return await _contracts(db, scope, "c.number = ANY($2::text[])", numbers)


async def lines_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[ContractLine]:
    rows = await db.fetch(
        f"SELECT {_LINE_COLS} FROM contract_line l WHERE l.id = ANY($2::bigint[])"
        f" AND {Scope.owned('l.customer_org_id')}",
        scope.org_id, list(ids),
    )
    return [ContractLine(**dict(r)) for r in rows]


async def lines_by_contract_ids(
    db: Executor, scope: Scope, contract_ids: Sequence[int]
) -> dict[int, list[ContractLine]]:
    rows = await db.fetch(
        f"SELECT {_LINE_COLS} FROM contract_line l WHERE l.contract_id = ANY($2::bigint[])"
        f" AND {Scope.owned('l.customer_org_id')} ORDER BY l.contract_id, l.line_no",
        scope.org_id, list(contract_ids),
    )
    out: dict[int, list[ContractLine]] = defaultdict(list)
    for r in rows:
        out[r["contract_id"]].append(ContractLine(**dict(r)))
    return out


async def _lock_contract(tx: Executor, contract_id: int) -> Contract:
    row = await tx.fetchrow(
        f"SELECT {_CONTRACT_COLS} FROM contract c WHERE c.id = $1 FOR UPDATE", contract_id
    )
    if row is None:
        raise NotFound("no such contract", field="contractId")
    return Contract(**dict(row))


async def confirm_contract(db: Database, contract_id: int, *, actor: str) -> Contract:
    """draft -> confirmed; every line gets a production order with its stage plan."""
    async with db.transaction() as tx:
        contract = await _lock_contract(tx, contract_id)
        check_transition(contract.status, "confirmed")
        lines = (await lines_by_contract_ids(tx, Scope.everything(), [contract_id]))[contract_id]
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
        await events.append(
            tx, "contract.confirmed", org_id=contract.customer_org_id,
            aggregate_type="contract", aggregate_id=contract_id,
            payload={"number": contract.number, "lines": len(lines)}, actor=actor,
        )
        return Contract(**dict(row))


async def _create_production_order(tx: Executor, contract: Contract, line: ContractLine) -> None:
    product = await tx.fetchval("SELECT product FROM steel_spec WHERE id = $1", line.spec_id)
    # Production must be done in time to travel: finish = window start - transit, but
    # never sooner than a minimal route through the mill takes from today.
    start = mill_today()
    finish = max(start + MIN_PRODUCTION_TIME, line.delivery_from - timedelta(line.transit_days))
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

