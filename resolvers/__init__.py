"""GraphQL types, queries and mutations, one package per area. No SQL here: resolvers call
the domain layer, through the per-request DataLoaders of :mod:`resolvers.loaders`."""
