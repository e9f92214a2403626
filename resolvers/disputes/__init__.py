"""Quality disputes, their claims and evidence over GraphQL."""
