"""Production-plan collaboration over GraphQL."""

from resolvers.planning.mutations import PlanningMutations
from resolvers.planning.queries import PlanningQueries

__all__ = ["PlanningMutations", "PlanningQueries"]
