"""Loaders of the customers area: approvals and payments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.customers import payments
from domain.customers import reads as customer_reads
from resolvers.loaders import GroupedLoader, RowsLoader


class CreditApprovalByIdLoader(RowsLoader[int]):
    """Credit approvals: `resolvers.node` lets only their readers reach this."""

    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await customer_reads.approvals_by_ids(self.db, self.scope, keys)


class PaymentByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await payments.payments_by_ids(self.db, self.scope, keys)


class PaymentsBySettlementLoader(GroupedLoader[int]):
    """Each settlement's payments, in the order received."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await payments.payments_by_settlements(self.db, self.scope, keys)
