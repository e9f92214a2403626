"""Dispute queries: one dispute by id or number, and the viewer's disputes."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.disputes import writes as disputes
from resolvers.common import ctx, loaders, viewer
from resolvers.disputes.loaders import DisputeByIdLoader, DisputeByNumberLoader
from resolvers.disputes.types import AFTER, FIRST, DisputeStatus, QualityDispute
from resolvers.relay import (
    DEFAULT_PAGE,
    Connection,
    after_id,
    by_id_or_number,
    check_first,
    connection,
    expect_id,
)


@strawberry.type
class DisputeQueries:
    @strawberry.field(description="One quality dispute by id or number; null if unknown or "
                      "another customer's.")
    async def dispute(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        number: Annotated[str | None, strawberry.argument(
            description="Dispute number, e.g. `QD-2026-000007`.")] = None,
    ) -> QualityDispute | None:
        await viewer(info)
        found = await by_id_or_number(id, number, "QualityDispute",
                                      loaders(info).get(DisputeByIdLoader),
                                      loaders(info).get(DisputeByNumberLoader))
        return QualityDispute.of(found) if found else None

    @strawberry.field(description="Quality disputes the viewer may see, newest first: a "
                      "customer its own, the mill's staff all.")
    async def disputes(
        self, info: Info[Any, Any],
        status: Annotated[list[DisputeStatus] | None, strawberry.argument(
            description="Only disputes in these states.")] = None,
        coil_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only disputes naming this coil.")] = None,
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[QualityDispute]:
        who = await viewer(info)
        check_first(first)
        rows = await disputes.list_disputes(
            ctx(info).db, who.scope, statuses=[s.value for s in status or []],
            coil_id=expect_id(coil_id, "Coil") if coil_id is not None else None,
            limit=first + 1, after_id=after_id(after))
        return connection([(QualityDispute.of(d), [d.id]) for d in rows], first,
                          after is not None)
