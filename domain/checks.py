"""Checks on input values shared by the domain's writes: a bad value becomes a typed
`Invalid` naming its field, never a database error."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.errors import Invalid


def bounded(value: Decimal, field: str, *, below: Decimal, minimum: Decimal = Decimal(0)
            ) -> Decimal:
    """A finite decimal in [minimum, below): NaN, infinities and values the column
    cannot hold are refused."""
    if not value.is_finite():
        raise Invalid("must be a finite number", field=field)
    if not minimum <= value < below:
        raise Invalid(f"must be at least {minimum} and below {below}", field=field)
    return value


def aware(moment: datetime, field: str) -> datetime:
    """A time with its offset: without one it could be any of 24 hours."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid("must carry a UTC offset, e.g. 2026-11-25T08:00:00+08:00", field=field)
    return moment


def trimmed(value: str | None, field: str, *, limit: int, too_long: str,
            empty: str | None = None) -> str | None:
    """``value`` without surrounding white space, None when nothing is left. ``empty``,
    when given, is the refusal of a text that must not be empty; ``too_long`` the
    refusal of one over ``limit`` characters."""
    text = (value or "").strip()
    if not text:
        if empty is not None:
            raise Invalid(empty, field=field)
        return None
    if len(text) > limit:
        raise Invalid(too_long, field=field)
    return text
