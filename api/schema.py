"""The GraphQL schema, assembled from each area's queries and mutations."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.tools import merge_types

from api.errors import ErrorCodes
from api.limits import Limits, OperationLimits
from api.settings import Settings
from resolvers.contracts.mutations import ContractMutations
from resolvers.contracts.queries import ContractQueries
from resolvers.node import NODE_TYPES, NodeQueries
from resolvers.quality.mutations import QualityMutations
from resolvers.quality.queries import QualityQueries
from resolvers.settlements import SettlementQueries

Query = merge_types("Query", (NodeQueries, ContractQueries, QualityQueries, SettlementQueries))
Mutation = merge_types("Mutation", (ContractMutations, QualityMutations))


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    limits = Limits(
        max_depth=settings.max_depth, max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens, max_cost=settings.max_cost,
    )
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[make.__self__ for _, make in NODE_TYPES.values()],  # type: ignore[attr-defined]
        extensions=[partial(OperationLimits, limits), ErrorCodes],
    )


def sdl() -> str:
    """The schema as SDL, exactly as `schema.graphql` must read."""
    return build_schema().as_str() + "\n"
