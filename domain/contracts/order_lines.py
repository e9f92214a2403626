"""The lines of a new contract as asked for, checked and completed from the customer's
preferences: what :func:`domain.contracts.writes.create_contract` writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.calendar import mill_today
from domain.contracts.model import MIN_PRODUCTION_TIME
from domain.db import Executor
from domain.errors import Invalid, NotFound
from domain.preferences import model as preference_model
from domain.preferences import reads as preference_reads

FIRMNESS = ("firm", "commitment_production", "commitment_material", "forecast")
MAX_LINES = 100
# The columns' limits: numeric(12, 3) tonnes, numeric(14, 2) prices.
_MAX_TONNES = Decimal("999999999.999")
_MAX_PRICE = Decimal("999999999999.99")


@dataclass(frozen=True)
class NewContractLine:
    """A line as asked for; None takes the customer's default (see ``line_defaults``)."""

    spec_id: int
    quantity_t: Decimal
    delivery_from: date
    delivery_to: date
    unit_price: Decimal | None = None
    delivery_site_id: int | None = None
    transport_mode: str | None = None
    transit_days: int | None = None
    firmness: str = "firm"


@dataclass(frozen=True, slots=True)
class ResolvedLine:
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


def _places(value: Decimal, places: int) -> bool:
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -places


def check_line(line: NewContractLine, at: str) -> None:
    """What can be said of a line without the database; ``at`` prefixes field names."""
    if not line.quantity_t.is_finite() or line.quantity_t <= 0 or line.quantity_t > _MAX_TONNES:
        raise Invalid("quantity must be a positive number of tonnes", field=f"{at}quantityT")
    if not _places(line.quantity_t, 3):
        raise Invalid("quantity has at most 3 decimals (kilograms)", field=f"{at}quantityT")
    if line.delivery_to < line.delivery_from:
        raise Invalid("the delivery window ends before it starts", field=f"{at}deliveryTo")
    if line.delivery_from < mill_today():
        raise Invalid("the delivery window starts in the past", field=f"{at}deliveryFrom")
    price = line.unit_price
    if price is not None and (not price.is_finite() or price < 0 or price > _MAX_PRICE
                              or not _places(price, 2)):
        raise Invalid("unit price must be zero or more, with at most 2 decimals",
                      field=f"{at}unitPrice")
    if line.transport_mode is not None and line.transport_mode not in preference_model.MODES:
        raise Invalid("transport mode must be road, rail or water", field=f"{at}transportMode")
    if line.transit_days is not None and not 0 <= line.transit_days <= 120:
        raise Invalid("transit days must be between 0 and 120", field=f"{at}transitDays")
    if line.firmness not in FIRMNESS:
        raise Invalid(f"firmness must be one of {', '.join(FIRMNESS)}", field=f"{at}firmness")


async def resolve_lines(
    tx: Executor, org_id: int, lines: Sequence[NewContractLine], currency: str
) -> list[ResolvedLine]:
    """Check every line and fill what it leaves out from the customer's defaults."""
    if not lines:
        raise Invalid("a contract needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise Invalid(f"a contract has at most {MAX_LINES} lines", field="lines")
    for i, line in enumerate(lines):
        check_line(line, f"lines.{i}.")
    spec_ids = sorted({line.spec_id for line in lines})
    allowed = {r["id"] for r in await tx.fetch(
        "SELECT id FROM steel_spec WHERE id = ANY($2::bigint[])"
        " AND (customer_org_id IS NULL OR customer_org_id = $1)",
        org_id, spec_ids,
    )}
    prices = await preference_reads.latest_prices(tx, org_id, spec_ids, currency)
    defaults: dict[int | None, preference_model.LineDefaults] = {}
    out = []
    for i, line in enumerate(lines):
        at = f"lines.{i}."
        if line.spec_id not in allowed:
            raise NotFound("no such steel spec for this customer", field=f"{at}specId")
        price = line.unit_price if line.unit_price is not None else prices.get(line.spec_id)
        if price is None:
            raise Invalid(
                f"no earlier {currency} price of this spec for this customer: give a unit price",
                field=f"{at}unitPrice",
            )
        if line.delivery_site_id is not None and line.delivery_site_id not in defaults:
            await preference_reads.check_delivery_site(tx, org_id, line.delivery_site_id,
                                                  f"{at}deliverySiteId")
        if line.delivery_site_id not in defaults:
            defaults[line.delivery_site_id] = await preference_reads.line_defaults(
                tx, org_id, delivery_site_id=line.delivery_site_id)
        d = defaults[line.delivery_site_id]
        mode = line.transport_mode or d.transport_mode
        if line.transit_days is not None:
            days = line.transit_days
        elif mode == d.transport_mode:
            days = d.transit_days
        else:
            # Another mode than the customer's usual one: its usual days do not apply.
            days = preference_model.FALLBACK_TRANSIT_DAYS[mode]
        out.append(ResolvedLine(
            line_no=i + 1, spec_id=line.spec_id, quantity_t=line.quantity_t, unit_price=price,
            delivery_from=line.delivery_from, delivery_to=line.delivery_to,
            delivery_site_id=d.delivery_site_id, transport_mode=mode, transit_days=days,
            firmness=line.firmness,
        ))
    return out


@dataclass(frozen=True, slots=True)
class SiteOption:
    site_id: int
    transport_mode: str
    transit_days: int
    default: bool


@dataclass(frozen=True, slots=True)
class SpecOption:
    spec_id: int
    last_unit_price: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderForm:
    org_id: int
    defaults: preference_model.LineDefaults
    earliest_delivery_from: date
    sites: list[SiteOption]
    specs: list[SpecOption]


async def order_form(db: Executor, org_id: int, delivery_site_id: int | None) -> OrderForm:
    """What a customer's form for a new line offers: its defaults (for the given site),
    each site it may take delivery at with its route, its own specs and the catalogue
    specs it has bought with their latest prices, and the earliest window start the mill
    can plan without being late."""
    if delivery_site_id is not None:
        await preference_reads.check_delivery_site(db, org_id, delivery_site_id, "deliverySiteId")
    defaults = await preference_reads.line_defaults(db, org_id, delivery_site_id=delivery_site_id)
    prefs = await preference_reads.preferences(db, org_id)
    sites = []
    for site in await preference_reads.delivery_site_ids(db, org_id):
        mode, days = await preference_reads.route(db, org_id, site, prefs.default_delivery_site_id)
        sites.append(SiteOption(site, mode, days, site == prefs.default_delivery_site_id))
    spec_ids = [r["id"] for r in await db.fetch(
        "SELECT s.id FROM steel_spec s WHERE s.customer_org_id = $1 OR (s.customer_org_id IS NULL"
        " AND EXISTS (SELECT 1 FROM contract_line l WHERE l.spec_id = s.id"
        " AND l.customer_org_id = $1)) ORDER BY s.customer_org_id NULLS LAST, s.code",
        org_id,
    )]
    prices = await preference_reads.latest_prices(db, org_id, spec_ids, defaults.currency)
    earliest = mill_today() + MIN_PRODUCTION_TIME + timedelta(days=defaults.transit_days)
    return OrderForm(
        org_id=org_id, defaults=defaults, earliest_delivery_from=earliest, sites=sites,
        specs=[SpecOption(s, prices.get(s)) for s in spec_ids],
    )
