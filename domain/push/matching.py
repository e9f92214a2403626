"""Which rules an event matches, without comparing every event with every rule.

Rules are indexed by (watched organization, event type): a customer's rule watches its
own organization; a staff rule watches one customer or, with ``None``, every event. An
event of organization ``o`` and type ``a.b`` looks up at most six keys: ``(o, a.b)``,
``(o, a.*)``, ``(o, *)`` and the same for ``None``. Filters are then checked on the few
rules found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

CADENCES = ("instant", "hourly", "daily")
CHANNELS = ("inbox", "webhook", "email")


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    org_id: int
    user_subject: str | None
    watch_org_id: int | None
    event_types: tuple[str, ...]
    contracts: frozenset[str] = frozenset()
    grades: frozenset[str] = frozenset()
    transport_modes: frozenset[str] = frozenset()
    destinations: frozenset[str] = frozenset()
    min_delay_hours: Decimal | None = None
    channel: str = "inbox"
    webhook_id: int | None = None
    email_to: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    cadence: str = "instant"


@dataclass(frozen=True, slots=True)
class Facets:
    """What an event is about, for filters: drawn from its aggregate and its payload."""

    contracts: frozenset[str] = frozenset()
    grades: frozenset[str] = frozenset()
    transport_modes: frozenset[str] = frozenset()
    destinations: frozenset[str] = frozenset()
    delay_hours: float | None = None


def passes(rule: Rule, facets: Facets) -> bool:
    """Every filter a rule sets must hold; an event that does not carry what a filter
    asks about (no grade, no delay) does not pass it."""
    for wanted, has in ((rule.contracts, facets.contracts), (rule.grades, facets.grades),
                        (rule.transport_modes, facets.transport_modes),
                        (rule.destinations, facets.destinations)):
        if wanted and not wanted & has:
            return False
    if rule.min_delay_hours is not None:
        return facets.delay_hours is not None and \
            facets.delay_hours >= float(rule.min_delay_hours)
    return True


def _type_keys(event_type: str) -> tuple[str, ...]:
    area = event_type.split(".", 1)[0]
    return (event_type, f"{area}.*", "*")


@dataclass
class RuleIndex:
    version: int = -1
    _by_key: dict[tuple[int | None, str], list[Rule]] = field(
        default_factory=lambda: defaultdict(list))
    size: int = 0

    @classmethod
    def of(cls, rules: Iterable[Rule], version: int = 0) -> RuleIndex:
        index = cls(version=version)
        for rule in rules:
            index.size += 1
            for pattern in rule.event_types:
                index._by_key[(rule.watch_org_id, pattern)].append(rule)
        return index

    def candidates(self, org_id: int | None, event_type: str) -> list[Rule]:
        found: list[Rule] = []
        orgs: Sequence[int | None] = (None,) if org_id is None else (org_id, None)
        for org in orgs:
            for key in _type_keys(event_type):
                found.extend(self._by_key.get((org, key), ()))
        return found

    def match(self, org_id: int | None, event_type: str, facets: Facets) -> list[Rule]:
        seen: set[int] = set()
        out: list[Rule] = []
        for rule in self.candidates(org_id, event_type):
            if rule.id not in seen and passes(rule, facets):
                seen.add(rule.id)
                out.append(rule)
        return out


def quiet_until(
    now: datetime, start: time | None, end: time | None, zone: ZoneInfo
) -> datetime | None:
    """When quiet hours that hold at ``now`` end (local ``end`` in ``zone``), or None
    when it is not quiet. ``start > end`` spans midnight (22:00-07:00)."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    quiet = start <= t < end if start < end else (t >= start or t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


def period_end(start: datetime, cadence: str, zone: ZoneInfo) -> datetime:
    """The end of the digest period that ``start`` falls in: the next full hour, or the
    next local midnight for a daily digest."""
    local = start.astimezone(zone)
    if cadence == "hourly":
        return local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if cadence == "daily":
        return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    raise ValueError(f"no digest period for cadence {cadence!r}")
