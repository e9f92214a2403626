"""The customer hotline over GraphQL: urge tickets, answers, escalation."""

from resolvers.hotline.mutations import HotlineMutations
from resolvers.hotline.queries import HotlineQueries

__all__ = ["HotlineMutations", "HotlineQueries"]
