"""The exchange centre over GraphQL: the address book and the documents exchanged."""

from resolvers.exchange.mutations import ExchangeMutations
from resolvers.exchange.queries import ExchangeQueries

__all__ = ["ExchangeMutations", "ExchangeQueries"]
