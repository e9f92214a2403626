"""Service quality over GraphQL: satisfaction surveys and their results, the
contribution ranking, tiers and the service levels they set."""
