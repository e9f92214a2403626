"""The GraphQL schema, assembled from each area's queries and mutations."""

from __future__ import annotations

from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.documents import CachedDocuments, DocumentCache
from api.errors import classify
from api.limits import Limits, OperationLimits
from api.planner import PlanningExecutionContext
from resolvers.capacity.mutations import CapacityMutations
from resolvers.capacity.queries import CapacityQueries
from resolvers.contracts.mutations import ContractMutations
from resolvers.contracts.queries import ContractQueries
from resolvers.customers import CustomerMutations, CustomerQueries
from resolvers.disputes.mutations import DisputeMutations
from resolvers.disputes.queries import DisputeQueries
from resolvers.events import EventSubscriptions
from resolvers.exchange import ExchangeMutations, ExchangeQueries
from resolvers.exchange.mappings import MappingMutations
from resolvers.feeds import RecordMutations
from resolvers.hotline import HotlineMutations, HotlineQueries
from resolvers.node import NODE_TYPES, NodeQueries
from resolvers.notifications import (
    BulletinMutations,
    BulletinQueries,
    InboxMutations,
    InboxQueries,
    InboxSubscriptions,
    PushRuleMutations,
    PushRuleQueries,
)
from resolvers.planning import PlanningMutations, PlanningQueries, PlanningSubscriptions
from resolvers.preferences import OrderMutations, PreferenceMutations, PreferenceQueries
from resolvers.quality.capability import CapabilityQueries
from resolvers.quality.mutations import QualityMutations
from resolvers.quality.queries import QualityQueries
from resolvers.quality.specs import SpecMutations
from resolvers.service.mutations import ServiceMutations
from resolvers.service.queries import ServiceQueries
from resolvers.settlements import SettlementMutations, SettlementQueries
from resolvers.shipments import ShipmentQueries, ShipmentSubscriptions
from resolvers.shipments.devices import DeviceMutations, DeviceQueries
from resolvers.shipments.records import ShipmentRecordMutations
from resolvers.shipments.rejections import RejectionQueries
from settings import Settings


@strawberry.type(description="Everything a viewer may read, scoped to its organization.")
class Query(NodeQueries, ContractQueries, QualityQueries, SettlementQueries, ShipmentQueries,
            InboxQueries, PushRuleQueries, BulletinQueries,
            DisputeQueries, PreferenceQueries, HotlineQueries, PlanningQueries,
            RejectionQueries, DeviceQueries, ExchangeQueries, CustomerQueries,
            CapacityQueries, CapabilityQueries, ServiceQueries):
    pass


@strawberry.type(description="Changes; each takes one `input` and returns a payload with "
                 "`errors` for expected failures.")
class Mutation(ContractMutations, QualityMutations, InboxMutations, PushRuleMutations,
               BulletinMutations,
               DisputeMutations, PreferenceMutations, OrderMutations, HotlineMutations,
               PlanningMutations, SettlementMutations, DeviceMutations,
               ShipmentRecordMutations, SpecMutations, RecordMutations, ExchangeMutations,
               MappingMutations, CustomerMutations, CapacityMutations,
               ServiceMutations):
    pass


@strawberry.type(description="Live streams over graphql-transport-ws on `/graphql`; send the "
                 "token as `Authorization` in the `connection_init` payload.")
class Subscription(EventSubscriptions, ShipmentSubscriptions, InboxSubscriptions,
                   PlanningSubscriptions):
    pass


class Schema(strawberry.Schema):
    # Parsed and validated documents by hash (api/documents.py), one cache per schema.
    documents: DocumentCache

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Give every error its code and mask the unexpected ones, in place: strawberry
        calls this on every path that returns errors, before they are sent."""
        request_id = getattr(getattr(execution_context, "context", None), "request_id", None)
        errors[:] = [classify(e, request_id) for e in errors]


def build_schema(settings: Settings | None = None) -> Schema:
    settings = settings or Settings()
    limits = Limits(
        max_depth=settings.max_depth, max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens, max_cost=settings.max_cost,
        max_field_comparisons=settings.max_field_comparisons,
        introspection_needs_token=not settings.development,
    )
    documents = DocumentCache()
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[make.__self__ for _, make in NODE_TYPES.values()],  # type: ignore[attr-defined]
        # Limits first: they are checked on every request, before a document is validated
        # or found valid in the cache.
        extensions=[partial(OperationLimits, limits), partial(CachedDocuments, documents)],
        execution_context_class=PlanningExecutionContext,
        # In production the schema is read only with a token: error messages do not
        # suggest field names ("Did you mean ...") to a client that could not introspect.
        config=StrawberryConfig(disable_field_suggestions=not settings.development),
    )
    schema.documents = documents
    return schema


def sdl() -> str:
    """The schema as SDL, exactly as `schema.graphql` must read."""
    return build_schema().as_str() + "\n"


if __name__ == "__main__":  # python -m api.schema > schema.graphql
    print(sdl(), end="")
