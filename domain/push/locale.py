"""The recipient's language, units and time zone, for notification texts.

Customer preferences (``domain.preferences.line_defaults``) decide them: the platform's
defaults there are Chinese, metric and China time. Events without an organization (the
mill's own) get English, metric, China time.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain import preferences
from domain.db import Executor

LANGUAGES = ("en", "zh")


@dataclass(frozen=True, slots=True)
class Locale:
    language: str = "en"
    units: str = "metric"
    time_zone: str = "Asia/Shanghai"

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("Asia/Shanghai")


DEFAULT = Locale()


def _normal_language(raw: object) -> str:
    text = str(raw or "en").lower().replace("_", "-")
    return "zh" if text.startswith("zh") else "en"


async def locale_of(db: Executor, org_id: int | None) -> Locale:
    if org_id is None:
        return DEFAULT
    found = await preferences.line_defaults(db, org_id)
    return Locale(language=_normal_language(found.language), units=found.units or "metric",
                  time_zone=found.time_zone or DEFAULT.time_zone)


class LocaleCache:
    """Locales by organization for one batch of work."""

    def __init__(self, db: Executor) -> None:
        self._db = db
        self._found: dict[int | None, Locale] = {}

    async def get(self, org_id: int | None) -> Locale:
        if org_id not in self._found:
            self._found[org_id] = await locale_of(self._db, org_id)
        return self._found[org_id]
