"""Loaders of quality disputes, their suspects, timeline, claims and evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.disputes import claims, containment, evidence
from domain.disputes import reads as dispute_reads
from domain.disputes import writes as disputes
from resolvers.loaders import GroupedLoader, PagedLoader, RowsLoader


class DisputeByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await disputes.disputes_by_ids(self.db, self.scope, keys)


class DisputeByNumberLoader(RowsLoader[str]):
    key = "number"

    async def fetch(self, keys: Sequence[str]) -> Sequence[Any]:
        return await disputes.disputes_by_numbers(self.db, self.scope, keys)


class DisputePageByCoilLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await dispute_reads.dispute_pages_by_coil(self.db, self.scope, parents, limit,
                                                         after)


class SuspectPageByDisputeLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await containment.suspect_pages(self.db, self.scope, parents, limit, after)


class TimelineByDisputeLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await disputes.timeline(self.db, self.scope, keys)


class ClaimByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await claims.claims_by_ids(self.db, self.scope, keys)


class ClaimsByDisputeLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await claims.claims_by_dispute_ids(self.db, self.scope, keys)


class ClaimsBySettlementLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await claims.claims_by_settlement_ids(self.db, self.scope, keys)


class EvidenceByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await evidence.evidence_by_ids(self.db, self.scope, keys)


class EvidenceByDisputeLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await evidence.evidence_by_dispute_ids(self.db, self.scope, keys)
