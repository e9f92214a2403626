"""Production-plan collaboration over GraphQL."""

from resolvers.planning.mutations import PlanningMutations
from resolvers.planning.queries import PlanningQueries
from resolvers.planning.subscriptions import PlanningSubscriptions

__all__ = ["PlanningMutations", "PlanningQueries", "PlanningSubscriptions"]
