"""When a leg is late: one definition, for the ingester's detection and the demo alike.

A leg is delayed when its expected arrival falls after what was promised for it: the
customer's promised date (``promised_by``), or, where none was given, the planned
arrival. Being behind the plan while still inside the promise is not a delay: the
customer was promised a date, not a timetable. A delayed leg is back on time only once
its expected arrival is ``BACK_ON_TIME_MARGIN`` inside the promise, so an estimate
hovering at the promised time does not flip the flag with every fix.
"""

from __future__ import annotations

from datetime import datetime, timedelta

BACK_ON_TIME_MARGIN = timedelta(minutes=15)


def promise(promised_by: datetime | None, planned_arrival: datetime) -> datetime:
    """What a leg's arrival is held to: the promise, else the plan."""
    return promised_by if promised_by is not None else planned_arrival


def is_delayed(
    eta: datetime, promised_by: datetime | None, planned_arrival: datetime, *,
    was_delayed: bool = False,
) -> bool:
    """Whether a leg expected at ``eta`` is late (see the module's docstring); a leg
    already delayed (``was_delayed``) stays so until its ETA is BACK_ON_TIME_MARGIN
    inside the promise."""
    due = promise(promised_by, planned_arrival)
    if was_delayed:
        return eta > due - BACK_ON_TIME_MARGIN
    return eta > due
