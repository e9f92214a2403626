"""Contract queries: `contracts` (filtered keyset pages) and `contract`."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.contracts import reads as contract_reads
from resolvers.common import ctx, loaders, viewer
from resolvers.contracts.loaders import ContractByIdLoader, ContractByNumberLoader
from resolvers.contracts.types import Contract, ContractStatus
from resolvers.relay import (
    DEFAULT_PAGE,
    MAX_PK,
    BadInput,
    Connection,
    by_id_or_number,
    check_first,
    connection,
    decode_cursor,
)


@strawberry.input(description="Days from `start` to `end`, both included; either may be open.")
class DateRangeInput:
    start: dt.date | None = strawberry.field(default=None, description="First day, or open.")
    end: dt.date | None = strawberry.field(default=None, description="Last day, or open.")


@strawberry.input(description="Narrows `contracts`; all given conditions must hold.")
class ContractFilter:
    status: list[ContractStatus] | None = strawberry.field(
        default=None, description="Any of these states."
    )
    delivery_window: DateRangeInput | None = strawberry.field(
        default=None, description="Has a line whose promised window overlaps this range."
    )
    grade: list[str] | None = strawberry.field(
        default=None, description="Has a line of any of these grades, e.g. `DC04`."
    )
    late_only: bool = strawberry.field(
        default=False, description="Only contracts with a line predicted to miss its window."
    )
    number: list[str] | None = strawberry.field(
        default=None, description="Any of these contract numbers."
    )


@strawberry.enum(description="What to sort contracts by.")
class ContractOrderField(enum.Enum):
    CREATED = "CREATED"
    NUMBER = "NUMBER"
    SIGNED_ON = "SIGNED_ON"


@strawberry.enum(description="Sort direction.")
class OrderDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(description="Sort order of `contracts`; ties break by creation.")
class ContractOrder:
    field: ContractOrderField = strawberry.field(
        default=ContractOrderField.CREATED, description="Sort key."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending or descending."
    )


def _keyset(sort: contract_reads.ContractOrder, after: str | None) -> tuple[Any, int] | None:
    """(sort value, id) from a cursor this ordering gave out; BadInput otherwise."""
    key = decode_cursor(after)
    if key is None:
        return None
    expected: tuple[type, ...] = {
        contract_reads.ContractOrder.CREATED: (int,), contract_reads.ContractOrder.NUMBER: (str,),
        contract_reads.ContractOrder.SIGNED_ON: (str, type(None)),
    }[sort]
    if len(key) != 2 or not isinstance(key[0], expected) or not isinstance(key[1], int) \
            or not 0 < key[1] <= MAX_PK:
        raise BadInput("`after` is not a cursor of this ordering")
    if sort is contract_reads.ContractOrder.SIGNED_ON and key[0] is not None:
        try:
            dt.date.fromisoformat(str(key[0]))
        except ValueError:
            raise BadInput("`after` is not a cursor of this ordering") from None
    return key[0], key[1]


def _filter(flt: ContractFilter | None) -> contract_reads.ContractFilter:
    if flt is None:
        return contract_reads.ContractFilter()
    window = flt.delivery_window
    if window and window.start and window.end and window.end < window.start:
        raise BadInput("deliveryWindow.end is before deliveryWindow.start")
    return contract_reads.ContractFilter(
        statuses=[s.value for s in flt.status or []],
        delivery_from=window.start if window else None,
        delivery_to=window.end if window else None,
        grades=flt.grade or [], late_only=flt.late_only, numbers=flt.number or [],
    )


@strawberry.type
class ContractQueries:
    @strawberry.field(description="Contracts the viewer may see, a keyset page at a time.")
    async def contracts(
        self, info: Info[Any, Any],
        filter: Annotated[ContractFilter | None, strawberry.argument(
            description="Conditions the contracts must meet.")] = None,
        order_by: Annotated[ContractOrder | None, strawberry.argument(
            description="Sort order; default: oldest first.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(
            description="`endCursor` of the previous page.")] = None,
    ) -> Connection[Contract]:
        who = await viewer(info)
        check_first(first)
        order = order_by or ContractOrder()
        sort = contract_reads.ContractOrder[order.field.value]
        rows = await contract_reads.list_contracts(
            ctx(info).db, who.scope, _filter(filter), sort,
            order.direction is OrderDirection.DESC, first + 1, _keyset(sort, after),
        )
        cache = loaders(info).get(ContractByIdLoader)
        for row in rows:
            cache.prime(row.id, row)
        return connection(
            [(Contract.of(r), [sort.key(r), r.id]) for r in rows], first, after is not None
        )

    @strawberry.field(description="One contract by id or number; null if not yours or unknown.")
    async def contract(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        number: Annotated[str | None, strawberry.argument(description="Contract number.")]
        = None,
    ) -> Contract | None:
        await viewer(info)
        found = await by_id_or_number(id, number, "Contract",
                                      loaders(info).get(ContractByIdLoader),
                                      loaders(info).get(ContractByNumberLoader))
        return Contract.of(found) if found else None

