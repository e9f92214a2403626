"""Loaders of contracts, their lines, each line's production progress, and settlements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.contracts import production
from domain.contracts import reads as contract_reads
from domain.settlements import reads as settlements
from resolvers.loaders import GroupedLoader, MappedLoader, RowsLoader


class ContractByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await contract_reads.contracts_by_ids(self.db, self.scope, keys)


class ContractByNumberLoader(RowsLoader[str]):
    key = "number"

    async def fetch(self, keys: Sequence[str]) -> Sequence[Any]:
        return await contract_reads.contracts_by_numbers(self.db, self.scope, keys)


class LineByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await contract_reads.lines_by_ids(self.db, self.scope, keys)


class LinesByContractLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await contract_reads.lines_by_contract_ids(self.db, self.scope, keys)


class ProgressByLineLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await production.progress_by_line_ids(self.db, self.scope, keys)


class SettlementByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await settlements.settlements_by_ids(self.db, self.scope, keys)


class SettlementsByContractLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await settlements.settlements_by_contract_ids(self.db, self.scope, keys)
