"""Contracts and their lines: the records, the state machine and who may move it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.actor import Permissions
from domain.errors import InvalidTransition

# Transitions exactly as drawn in the design; lateness is computed, never a state.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"in_production", "cancelled"}),
    "in_production": frozenset({"partially_shipped", "shipped"}),
    "partially_shipped": frozenset({"shipped"}),
    "shipped": frozenset({"settled"}),
    "settled": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}

# Who may move a contract: sales confirms it, production records what its stages did.
PERMISSIONS = Permissions({
    "order": ("customer", "sales", "admin"),
    "confirm": ("sales", "admin"),
    "record_progress": ("production", "admin"),
})

MIN_PRODUCTION_TIME = timedelta(days=14)


def production_finish(today: date, delivery_from: date, transit_days: int) -> date:
    """When a line's production is planned to end: in time to travel to the window's
    start, but never sooner than the shortest route through the mill from today."""
    return max(today + MIN_PRODUCTION_TIME, delivery_from - timedelta(days=transit_days))


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"a {current} contract cannot become {target}", field="status")


@dataclass(frozen=True, slots=True)
class Contract:
    id: int
    number: str
    customer_org_id: int
    status: str
    currency: str
    incoterm: str
    signed_on: date | None
    confirmed_at: datetime | None
    sales_owner: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ContractLine:
    id: int
    contract_id: int
    customer_org_id: int
    line_no: int
    spec_id: int
    quantity_t: Decimal
    unit_price: Decimal
    delivery_from: date
    delivery_to: date
    delivery_site_id: int | None
    transport_mode: str
    transit_days: int
    firmness: str
    status: str
    shipped_t: Decimal


_CONTRACT_COLS = (
    "c.id, c.number, c.customer_org_id, c.status, c.currency, c.incoterm, c.signed_on, "
    "c.confirmed_at, c.sales_owner, c.created_at, c.updated_at"
)
_LINE_COLS = (
    "l.id, l.contract_id, l.customer_org_id, l.line_no, l.spec_id, l.quantity_t, l.unit_price, "
    "l.delivery_from, l.delivery_to, l.delivery_site_id, l.transport_mode, l.transit_days, "
    "l.firmness, l.status, l.shipped_t"
)
