"""Loaders of heats, slabs and coils, their genealogy and their quality records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain import material
from domain.quality import reads as quality_reads
from resolvers.loaders import GroupedLoader, MappedLoader, PagedLoader, RowsLoader


class HeatByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await material.heats_by_ids(self.db, self.scope, keys)


class HeatByNumberLoader(RowsLoader[str]):
    key = "heat_no"

    async def fetch(self, keys: Sequence[str]) -> Sequence[Any]:
        return await material.heats_by_numbers(self.db, self.scope, keys)


class SlabByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await material.slabs_by_ids(self.db, self.scope, keys)


class CoilByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await material.coils_by_ids(self.db, self.scope, keys)


class CoilByNumberLoader(RowsLoader[str]):
    key = "coil_no"

    async def fetch(self, keys: Sequence[str]) -> Sequence[Any]:
        return await material.coils_by_numbers(self.db, self.scope, keys)


class CoilPageByLineLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await material.coil_pages(self.db, self.scope, "line_id", parents, limit, after)


class CoilPageByHeatLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await material.coil_pages(self.db, self.scope, "heat_id", parents, limit, after)


class AncestryByCoilLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await material.ancestry(self.db, keys)


class DescendantsByCoilLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await material.descendants(self.db, self.scope, keys)


class CertificateByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await quality_reads.certificates_by_ids(self.db, self.scope, keys)


class CertificateByCoilLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await quality_reads.certificates_by_coil_ids(self.db, self.scope, keys)


class CertificateContentByIdLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await quality_reads.contents_by_ids(self.db, self.scope, keys)


class CertificateLimitsByIdLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await quality_reads.limits_by_certificate_ids(self.db, self.scope, keys)


class InspectionsByCoilLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await quality_reads.inspections_by_coil_ids(self.db, self.scope, keys)


class FeedbackByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await quality_reads.feedback_by_ids(self.db, self.scope, keys)


class FeedbackByCoilLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await quality_reads.feedback_by_coil_ids(self.db, self.scope, keys)

class LimitsBySpecLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await quality_reads.spec_limits_by_spec_ids(self.db, self.scope, keys)
