"""Loaders of production-plan collaboration: purchase plans, their lines and changes, the
customers' car plans and plan imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.planning import imports, inputs, plans, schedules
from resolvers.loaders import GroupedLoader, MappedLoader, RowsLoader


class PurchasePlanByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await plans.plans_by_ids(self.db, self.scope, keys)


class PlanLinesByPurchasePlanLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await plans.lines_of(self.db, self.scope, keys)


class PlanChangesByPurchasePlanLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await plans.changes_by_plans(self.db, self.scope, keys)


class ProductionPlanByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await inputs.plans_in_scope(self.db, self.scope, keys)


class PlanEntriesByProductionPlanLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await inputs.entries_by_plans(self.db, self.scope, keys)


class CurrentProductionPlanByCustomerLoader(MappedLoader[int]):
    """Each customer's newest car plan version."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await inputs.current_plans(self.db, self.scope, keys)


class CurrentDeliveryScheduleByCustomerLoader(MappedLoader[int]):
    """Each customer's newest delivery schedule id."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await schedules.current_schedule_ids(self.db, self.scope, keys)


class PlanImportByIdLoader(RowsLoader[int]):
    """Imports of the viewer's organization (all of them for the mill)."""

    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await imports.imports_by_ids(self.db, self.scope.org_id, keys)
