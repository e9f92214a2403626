"""The mill's calendar. Plans, promised windows and lateness are in the mill's days
(China time), whatever the server's time zone; the SQL twin is `mill_today()`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# China has kept UTC+8 without daylight saving since 1991.
MILL_TZ = timezone(timedelta(hours=8), "CST")


def mill_today() -> date:
    return datetime.now(MILL_TZ).date()
