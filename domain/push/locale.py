"""The recipient's language, units and time zone, for notification texts.

Customer preferences (``domain.preferences.line_defaults``) decide them: the platform's
defaults there are Chinese, metric and China time. Events without an organization (the
mill's own) get English, metric, China time. The audience says whose side the reader is
on: the mill's staff read "the customer's urge", a customer "your urge".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.db import Executor
from domain.preferences import reads as preference_reads

LANGUAGES = ("en", "zh")


@dataclass(frozen=True, slots=True)
class Locale:
    language: str = "en"
    units: str = "metric"
    time_zone: str = "Asia/Shanghai"
    # "customer", or "mill" for the mill's own staff.
    audience: str = "customer"

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("Asia/Shanghai")


DEFAULT = Locale()
MILL = Locale(audience="mill")


def _normal_language(raw: object) -> str:
    text = str(raw or "en").lower().replace("_", "-")
    return "zh" if text.startswith("zh") else "en"


async def locale_of(db: Executor, org_id: int | None) -> Locale:
    if org_id is None:
        return MILL
    kind = await db.fetchval("SELECT kind FROM organization WHERE id = $1", org_id)
    found = await preference_reads.line_defaults(db, org_id)
    return Locale(language=_normal_language(found.language), units=found.units or "metric",
                  time_zone=found.time_zone or DEFAULT.time_zone,
                  audience="mill" if kind == "mill" else "customer")


class LocaleCache:
    """Locales by organization, kept for ``ttl_s`` seconds: preferences change rarely, and
    reading them costs several statements per organization. A change of them is an event
    (``preferences.changed``) in the outbox, which the matcher reads in order: it forgets
    the organization's locale there (:meth:`forget`), so the change applies from the next
    event on, in every worker; the time limit is only a backstop."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self._ttl = ttl_s
        self._found: dict[int | None, tuple[float, Locale]] = {}

    def forget(self, org_id: int | None) -> None:
        """Read this organization's locale again next time (its preferences changed)."""
        self._found.pop(org_id, None)

    async def get(self, db: Executor, org_id: int | None) -> Locale:
        now = time.monotonic()
        hit = self._found.get(org_id)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        locale = await locale_of(db, org_id)
        self._found[org_id] = (now, locale)
        return locale
