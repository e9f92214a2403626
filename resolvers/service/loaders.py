"""Loaders of the service area: surveys' answers, customers' service levels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strawberry.types import Info

from domain.service import surveys, tiers
from resolvers.loaders import GroupedLoader, Loader


class AnswersBySurveyLoader(GroupedLoader[int]):
    """Each survey's answers, oldest first, within the viewer's scope."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await surveys.answers_by_survey_ids(self.db, self.scope, keys)


class TierLevelsByCustomerLoader(Loader[int, Any]):
    """Each customer's tier levels as stored (None where the tier leaves one to the
    global setting): :func:`service_level_of` applies the settings."""

    async def batch_load(self, keys: list[int]) -> list[Any]:
        # Zero defaults mark "the global setting", applied by the caller.
        found = await tiers.service_levels(self.db, keys, tiers.Defaults(0, 0, 0))
        return [found[k] for k in keys]


async def service_level_of(info: Info[Any, Any], customer_org_id: int) -> tiers.ServiceLevel:
    """What a customer is owed, batched over a request: its tier's levels, else the
    settings the request's services read."""
    stored: tiers.ServiceLevel = await info.context.loaders.get(
        TierLevelsByCustomerLoader).load(customer_org_id)
    settings = info.context.services.settings
    return tiers.ServiceLevel(
        customer_org_id=customer_org_id, tier=stored.tier,
        urge_answer_minutes=stored.urge_answer_minutes or settings.urge_answer_minutes,
        dispute_response_hours=stored.dispute_response_hours
        or settings.dispute_response_hours,
        dispute_resolution_days=stored.dispute_resolution_days
        or settings.dispute_resolution_days,
        from_tier=stored.from_tier)
