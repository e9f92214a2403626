"""The individualized interface over GraphQL: preferences, saved views, the order form,
and new contracts that take the customer's defaults."""

from resolvers.preferences.mutations import PreferenceMutations
from resolvers.preferences.orders import OrderMutations
from resolvers.preferences.queries import PreferenceQueries

__all__ = ["OrderMutations", "PreferenceMutations", "PreferenceQueries"]
