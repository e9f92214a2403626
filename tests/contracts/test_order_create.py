"""New contracts in the domain: lines take the customer's defaults where the input is
silent, bad input is refused with the field at fault, and confirming at once plans
production exactly as confirming later does."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from domain import events
from domain.actor import CUSTOMER, Actor
from domain.contracts import reads as contract_reads
from domain.contracts import writes as contract_writes
from domain.contracts.order_lines import NewContractLine
from domain.db import Database
from domain.errors import Invalid, NotFound
from domain.preferences import reads as preference_reads
from domain.preferences import writes as preference_writes
from domain.preferences.model import PreferenceChanges
from domain.tenancy import Scope
from tests.support.factory import TODAY, World, build


def buyer(org_id: int, subject: str) -> Actor:
    return Actor(subject, org_id, CUSTOMER, True)


def _line(w: World, cust: str = "FAW-VW", **kw: object) -> NewContractLine:
    values: dict[str, object] = {
        "spec_id": w.spec[cust], "quantity_t": Decimal("48.5"),
        "delivery_from": TODAY + timedelta(days=40), "delivery_to": TODAY + timedelta(days=50),
    }
    values.update(kw)
    return NewContractLine(**values)  # type: ignore[arg-type]


async def _station(db: Database) -> int:
    site: int = await db.fetchval(
        "INSERT INTO site (code, name, kind, latitude, longitude, geofence_radius_m)"
        " VALUES ('CC-RAIL', 'Changchun rail', 'rail_station', 43.88, 125.31, 700) RETURNING id")
    return site


async def test_defaults_follow_the_preferred_mode_per_site(db: Database) -> None:
    w = await build(db)
    faw = w.org["FAW-VW"]
    station = await _station(db)
    async with db.transaction() as tx:
        await preference_writes.set_preferences(
            tx, faw, PreferenceChanges(default_delivery_site_id=station, language="de-DE"),
            actor=buyer(faw, "buyer"))
        await preference_writes.set_transport_preference(tx, faw, station, "rail", 6,
                                                   actor=buyer(faw, "buyer"))
        await preference_writes.set_transport_preference(tx, faw, w.site["FAW-VW"], "road", 2,
                                                   actor=buyer(faw, "buyer"))
    own = await preference_reads.line_defaults(db, faw)
    assert (own.delivery_site_id, own.transport_mode, own.transit_days, own.language) == (
        station, "rail", 6, "de-DE")
    other = await preference_reads.line_defaults(db, faw, delivery_site_id=w.site["FAW-VW"])
    assert (other.transport_mode, other.transit_days) == ("road", 2)

    # GALANZ has set nothing: its latest line to its warehouse speaks for it.
    galanz = await preference_reads.line_defaults(db, w.org["GALANZ"])
    assert (galanz.delivery_site_id, galanz.transport_mode, galanz.transit_days) == (
        w.site["GALANZ"], "rail", 7)
    assert (galanz.currency, galanz.units, galanz.time_zone) == ("CNY", "metric",
                                                                 "Asia/Shanghai")


async def test_a_new_line_takes_the_defaults_and_the_latest_price(db: Database) -> None:
    w = await build(db)
    faw = w.org["FAW-VW"]
    station = await _station(db)
    async with db.transaction() as tx:
        await preference_writes.set_preferences(tx, faw, PreferenceChanges(
            default_delivery_site_id=station), actor=buyer(faw, "buyer"))
        await preference_writes.set_transport_preference(tx, faw, station, "rail", 6,
                                                   actor=buyer(faw, "buyer"))
    async with db.transaction() as tx:
        made = await contract_writes.create_contract(
            tx, customer_org_id=faw, actor="buyer",
            lines=[_line(w), _line(w, transport_mode="road", unit_price=Decimal("5100"),
                                   firmness="forecast")])
    assert made.status == "draft" and made.number.startswith(f"BSC-{TODAY.year}-")
    lines = (await contract_reads.lines_by_contract_ids(
        db, Scope.everything(), [made.id]))[made.id]
    first, second = lines
    assert (first.delivery_site_id, first.transport_mode, first.transit_days) == (
        station, "rail", 6)
    assert first.unit_price == Decimal("5200.50")  # the factory's earlier price
    # Another mode than the preferred one: that mode's usual transit, not the rail days.
    assert (second.transport_mode, second.transit_days, second.unit_price,
            second.firmness) == ("road", 3, Decimal("5100.00"), "forecast")
    created = [e for e in await events.read_after(db, 0) if e.event_type == "contract.created"]
    assert created[-1].payload["number"] == made.number and created[-1].org_id == faw


async def test_numbers_follow_on_and_confirming_plans_production(db: Database) -> None:
    w = await build(db)
    await db.execute("INSERT INTO contract (number, customer_org_id) VALUES ($1, $2)",
                     f"BSC-{TODAY.year}-000041", w.org["GALANZ"])
    async with db.transaction() as tx:
        a = await contract_writes.create_contract(tx, customer_org_id=w.org["GALANZ"],
                                            lines=[_line(w, "GALANZ")], actor="sales.liu")
    async with db.transaction() as tx:
        b = await contract_writes.create_contract(
            tx, customer_org_id=w.org["GALANZ"], lines=[_line(w, "GALANZ")], actor="sales.liu",
            confirm=True, sales_owner="sales.wu", source={"purchasePlan": 7})
    assert (a.number, b.number) == (f"BSC-{TODAY.year}-000042", f"BSC-{TODAY.year}-000043")
    assert b.status == "confirmed" and b.sales_owner == "sales.wu"
    orders = await db.fetchval(
        "SELECT count(*) FROM production_order o JOIN contract_line l ON l.id = o.line_id"
        " WHERE l.contract_id = $1 AND l.status = 'confirmed'", b.id)
    assert orders == 1
    kinds = [e.event_type for e in await events.read_after(db, 0) if e.aggregate_id == b.id]
    assert kinds == ["contract.created", "contract.confirmed"]
    assert await db.fetchval("SELECT source FROM contract WHERE id = $1", b.id) == {
        "purchasePlan": 7}


@pytest.mark.parametrize(("change", "error", "field"), [
    ({"quantity_t": Decimal(0)}, Invalid, "lines.0.quantityT"),
    ({"quantity_t": Decimal("1.0001")}, Invalid, "lines.0.quantityT"),
    ({"delivery_to": TODAY + timedelta(days=30)}, Invalid, "lines.0.deliveryTo"),
    ({"delivery_from": TODAY - timedelta(days=1)}, Invalid, "lines.0.deliveryFrom"),
    ({"transport_mode": "air"}, Invalid, "lines.0.transportMode"),
    ({"unit_price": Decimal("-1")}, Invalid, "lines.0.unitPrice"),
    ({"firmness": "maybe"}, Invalid, "lines.0.firmness"),
])
async def test_bad_lines_are_refused_with_the_field(
    db: Database, change: dict[str, object], error: type[Exception], field: str
) -> None:
    w = await build(db)
    with pytest.raises(error) as caught:
        async with db.transaction() as tx:
            await contract_writes.create_contract(tx, customer_org_id=w.org["FAW-VW"],
                                            lines=[_line(w, **change)], actor="buyer")
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert await db.fetchval("SELECT count(*) FROM contract") == 2


async def test_another_customers_spec_site_or_no_price_is_refused(db: Database) -> None:
    w = await build(db)
    faw = w.org["FAW-VW"]
    catalogue = await db.fetchval(
        "INSERT INTO steel_spec (code, grade, standard, product, thickness_mm, width_mm)"
        " VALUES ('BS-DC01', 'DC01', 'EN 10130', 'cold_rolled', 1, 1250) RETURNING id")
    cases = [
        ([_line(w, spec_id=w.spec["GALANZ"])], NotFound, "lines.0.specId"),
        ([_line(w, delivery_site_id=w.site["GALANZ"])], NotFound, "lines.0.deliverySiteId"),
        ([_line(w, delivery_site_id=w.site["plant"])], NotFound, "lines.0.deliverySiteId"),
        ([_line(w), _line(w, spec_id=catalogue)], Invalid, "lines.1.unitPrice"),
        ([], Invalid, "lines"),
    ]
    for lines, error, field in cases:
        with pytest.raises(error) as caught:
            async with db.transaction() as tx:
                await contract_writes.create_contract(tx, customer_org_id=faw, lines=lines,
                                                actor="buyer")
        assert caught.value.field == field, field  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        async with db.transaction() as tx:
            await contract_writes.create_contract(tx, customer_org_id=w.org["BAOSTEEL"],
                                            lines=[_line(w)], actor="x")
    # A catalogue spec with a price given is fine.
    async with db.transaction() as tx:
        made = await contract_writes.create_contract(
            tx, customer_org_id=faw, actor="buyer",
            lines=[_line(w, spec_id=catalogue, unit_price=Decimal("4990"))])
    assert made.sales_owner is None and made.currency == "CNY"


async def test_contracts_created_at_once_get_distinct_numbers(db: Database) -> None:
    w = await build(db)

    async def one() -> str:
        async with db.transaction() as tx:
            made = await contract_writes.create_contract(tx, customer_org_id=w.org["FAW-VW"],
                                                   lines=[_line(w)], actor="buyer")
        return made.number

    numbers = await asyncio.gather(*(one() for _ in range(6)))
    assert len(set(numbers)) == 6
    assert sorted(numbers) == [f"BSC-{TODAY.year}-{i:06d}" for i in range(1, 7)]


async def test_preferences_change_field_by_field(db: Database) -> None:
    w = await build(db)
    faw = w.org["FAW-VW"]
    async with db.transaction() as tx:
        await preference_writes.set_preferences(tx, faw, PreferenceChanges(
            default_delivery_site_id=w.site["FAW-VW"], units="imperial"), actor=buyer(faw, "a"))
        after = await preference_writes.set_preferences(tx, faw, PreferenceChanges(
            language="en-GB"), actor=buyer(faw, "b"))
    assert (after.default_delivery_site_id, after.units, after.language, after.updated_by) == (
        w.site["FAW-VW"], "imperial", "en-GB", "b")
    async with db.transaction() as tx:
        cleared = await preference_writes.set_preferences(tx, faw, PreferenceChanges(
            clear_default_site=True), actor=buyer(faw, "b"))
        assert await preference_writes.set_transport_preference(
            tx, faw, w.site["FAW-VW"], "water", 9, actor=buyer(faw, "b"))
        b = buyer(faw, "b")
        assert await preference_writes.remove_transport_preference(
            tx, faw, w.site["FAW-VW"], actor=b)
        assert not await preference_writes.remove_transport_preference(tx, faw, w.site["FAW-VW"],
                                                                 actor=b)
    assert cleared.default_delivery_site_id is None and cleared.units == "imperial"
