"""Loaders of the exchange: address book entries and documents, within the scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.exchange import addresses, documents
from resolvers.loaders import RowsLoader


class AddressByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await addresses.addresses_by_ids(self.db, self.scope, keys)


class DocumentByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await documents.documents_by_ids(self.db, self.scope, keys)
