"""A key customer's own way of working: its preferences, transport per delivery site and
the defaults of a new line, and who may change them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from domain.actor import Permissions

MODES = ("road", "rail", "water")
UNITS = ("metric", "imperial")
# Typical days from the mill to a customer by each mode, when nothing better is known.
FALLBACK_TRANSIT_DAYS = {"road": 3, "rail": 7, "water": 10}
FALLBACK_MODE = "road"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class Preferences:
    org_id: int
    default_delivery_site_id: int | None
    units: str
    language: str
    time_zone: str
    currency: str
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class TransportPreference:
    org_id: int
    site_id: int
    transport_mode: str
    transit_days: int


@dataclass(frozen=True, slots=True)
class LineDefaults:
    """What a new line of this customer takes where its input says nothing."""

    delivery_site_id: int | None
    transport_mode: str
    transit_days: int
    currency: str
    units: str
    language: str
    time_zone: str


@dataclass(frozen=True)
class PreferenceChanges:
    """Fields to change; None leaves a field as it is. ``clear_default_site`` unsets it."""

    default_delivery_site_id: int | None = None
    clear_default_site: bool = False
    units: str | None = None
    language: str | None = None
    time_zone: str | None = None
    currency: str | None = None


_PREF_COLS = (
    "org_id, default_delivery_site_id, units, language, time_zone, currency, updated_at,"
    " updated_by"
)


def _fallback(org_id: int) -> Preferences:
    return Preferences(org_id, None, "metric", "zh-CN", "Asia/Shanghai", "CNY", None, None)


PERMISSIONS = Permissions({"edit": ("customer", "sales", "admin")})
