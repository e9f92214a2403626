"""Each key customer's own way of working: its default delivery site, units, language,
time zone and currency, the transport it prefers to each of its delivery sites, and
from these the defaults of a new contract or plan line (model, reads, writes); and each
user's saved views (views).

The package re-exports the model, reads and writes, so that ``from domain import
preferences`` reads as the one area it is."""

from domain.preferences.model import (
    FALLBACK_MODE,
    FALLBACK_TRANSIT_DAYS,
    MODES,
    PERMISSIONS,
    UNITS,
    LineDefaults,
    PreferenceChanges,
    Preferences,
    TransportPreference,
)
from domain.preferences.reads import (
    check_delivery_site,
    delivery_site_ids,
    latest_prices,
    line_defaults,
    preferences,
    route,
    transport_preferences,
)
from domain.preferences.writes import (
    customer_to_edit,
    remove_transport_preference,
    set_preferences,
    set_transport_preference,
)

__all__ = [
    "FALLBACK_MODE",
    "FALLBACK_TRANSIT_DAYS",
    "MODES",
    "PERMISSIONS",
    "UNITS",
    "LineDefaults",
    "PreferenceChanges",
    "Preferences",
    "TransportPreference",
    "check_delivery_site",
    "customer_to_edit",
    "delivery_site_ids",
    "latest_prices",
    "line_defaults",
    "preferences",
    "remove_transport_preference",
    "route",
    "set_preferences",
    "set_transport_preference",
    "transport_preferences",
]
