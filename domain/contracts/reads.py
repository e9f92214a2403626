"""Reading contracts and their lines: filters, keyset pages, by id and by number."""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.contracts.model import _CONTRACT_COLS, _LINE_COLS, Contract, ContractLine
from domain.db import Executor
from domain.tenancy import Scope, Where


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
    where = scope.where()
    sql, _ = contract_page(where, flt, order, descending, limit, after)
    rows = await db.fetch(sql, *where.args)
    return [Contract(**dict(r)) for r in rows]


def contract_page(
    where: Where,
    flt: ContractFilter,
    order: ContractOrder,
    descending: bool,
    limit: int,
    after: tuple[Any, int] | None,
    columns: str = _CONTRACT_COLS,
) -> tuple[str, str]:
    """The statement of one keyset page of contracts (as ``c``, ``columns`` of them)
    under ``where``, whose ``$1`` is the scope, and its order."""
    where.add(Scope.owned("c.customer_org_id"))
    arg = where.arg

    where.any_of("c.status", flt.statuses)
    where.any_of("c.number", flt.numbers)
    if flt.delivery_from or flt.delivery_to:
        lo, hi = arg(flt.delivery_from), arg(flt.delivery_to)
        where.add(
            "EXISTS (SELECT 1 FROM contract_line w WHERE w.contract_id = c.id"
            f" AND ({hi}::date IS NULL OR w.delivery_from <= {hi})"
            f" AND ({lo}::date IS NULL OR w.delivery_to >= {lo}))"
        )
    if flt.grades:
        where.add(
            "EXISTS (SELECT 1 FROM contract_line g JOIN steel_spec s ON s.id = g.spec_id"
            f" WHERE g.contract_id = c.id AND s.grade = ANY({arg(list(flt.grades))}::text[]))"
        )
    if flt.late_only:
        where.add(
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
        where.add(f"({sort}, c.id) {op} ({arg(value)}, {arg(after[1])}::bigint)")
    ordering = f"{sort} {direction}, c.id {direction}"
    sql = (
        f"SELECT {columns} FROM contract c WHERE {where.sql()}"
        f" ORDER BY {ordering} LIMIT {arg(limit)}"
    )
    return sql, ordering


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
