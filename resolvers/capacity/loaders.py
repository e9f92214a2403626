"""Per-request loaders of the capacity area."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.capacity import reads as capacity_reads
from resolvers.loaders import MappedLoader


class FeasibilityByLineLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await capacity_reads.findings_by_line_ids(self.db, self.scope, keys)
