"""Loaders of the service area: surveys' answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.service import surveys
from resolvers.loaders import GroupedLoader


class AnswersBySurveyLoader(GroupedLoader[int]):
    """Each survey's answers, oldest first, within the viewer's scope."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await surveys.answers_by_survey_ids(self.db, self.scope, keys)
