"""Loaders of the hotline: urge tickets and their history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.hotline import reads as hotline_reads
from resolvers.loaders import GroupedLoader, RowsLoader


class TicketByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await hotline_reads.tickets_by_ids(self.db, self.scope, keys)


class TicketsByLineLoader(GroupedLoader[int]):
    """Every ticket of each contract line, newest first."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await hotline_reads.tickets_by_line_ids(self.db, self.scope, keys)


class StepsByTicketLoader(GroupedLoader[int]):
    """Each ticket's whole history, oldest first."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await hotline_reads.steps_by_ticket_ids(self.db, self.scope, keys)
