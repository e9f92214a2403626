"""Capacity records, and who may set them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.actor import Permissions

# The mill's production planning sets what each stage can take; a plant system (a
# process acting on its own) may feed it too.
PERMISSIONS = Permissions({
    "set_capacity": ("production", "admin"),
    # The figures themselves (capacity, and what all customers booked) are the mill's.
    "read_capacity": ("sales", "production", "quality", "logistics", "finance", "admin"),
})

# Line states whose production orders still take capacity.
BOOKING = ("confirmed", "in_production", "partially_shipped")
# Most stage-weeks set in one request, and most weeks read at once.
MAX_ENTRIES = 2000
MAX_WEEKS = 53


@dataclass(frozen=True, slots=True)
class CapacityEntry:
    stage: str
    week_start: date
    capacity_t: Decimal


@dataclass(frozen=True, slots=True)
class StageWeek:
    """One stage in one week: what it can take, what is booked, what is left."""

    stage: str
    week_start: date
    # None: the mill has given no capacity for it (not bounded).
    capacity_t: Decimal | None
    booked_t: Decimal
    set_by: str | None
    set_at: datetime | None

    @property
    def available_t(self) -> Decimal | None:
        if self.capacity_t is None:
            return None
        return self.capacity_t - self.booked_t


@dataclass(frozen=True, slots=True)
class Finding:
    """What the check at confirmation found of a line."""

    line_id: int
    feasible: bool
    earliest_delivery: date | None
    reason: str | None
    # Who confirmed it although it could not be made in its window.
    accepted_by: str | None
    checked_at: datetime
