"""Customers for the mill's sales and finance over GraphQL: the customer's overview,
its credit, payments against invoices and the approvals finance decides."""

from resolvers.customers.mutations import CustomerMutations
from resolvers.customers.queries import CustomerQueries

__all__ = ["CustomerMutations", "CustomerQueries"]
