"""Quality queries: a coil (by id or number) and a heat (by id or number)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers.common import loaders, viewer
from resolvers.quality.loaders import (
    CoilByIdLoader,
    CoilByNumberLoader,
    HeatByIdLoader,
    HeatByNumberLoader,
)
from resolvers.quality.types import Coil, Heat
from resolvers.relay import exactly_one, expect_id


@strawberry.type
class QualityQueries:
    @strawberry.field(description="One coil by id or coil number; null if not yours or unknown.")
    async def coil(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        coil_number: Annotated[str | None, strawberry.argument(
            description="Coil number as on its label.")] = None,
    ) -> Coil | None:
        await viewer(info)
        exactly_one(id, coil_number, "coilNumber")
        if id is not None:
            found = await loaders(info).get(CoilByIdLoader).load(expect_id(id, "Coil"))
        else:
            assert coil_number is not None
            found = await loaders(info).get(CoilByNumberLoader).load(coil_number)
        return Coil.of(found) if found else None

    @strawberry.field(
        description="One heat by id or heat number; a customer sees only heats its coils "
        "came from."
    )
    async def heat(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        heat_number: Annotated[str | None, strawberry.argument(description="Heat number.")]
        = None,
    ) -> Heat | None:
        await viewer(info)
        exactly_one(id, heat_number, "heatNumber")
        if id is not None:
            found = await loaders(info).get(HeatByIdLoader).load(expect_id(id, "Heat"))
        else:
            assert heat_number is not None
            found = await loaders(info).get(HeatByNumberLoader).load(heat_number)
        return Heat.of(found) if found else None
