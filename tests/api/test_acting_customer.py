"""Which customer a request acts for is decided in one place; reads of plans and of
preferences word its refusals differently. Plans read another customer, or an
organization that is no customer, as nothing there; preferences refuse it as not found.
Staff who name no customer are asked for one, by each in its own words."""

from __future__ import annotations

import pytest

from domain.actor import Actor
from domain.contracts import writes as contract_writes
from domain.db import Database
from domain.errors import Invalid, NotFound
from domain.hotline import escalation
from domain.parties import is_customer
from domain.push import rules
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import build

PREFS = "query($c: ID) { preferences(customerId: $c) { language } }"
PLAN = "query($c: ID) { productionPlan(customerId: $c) { version } }"


async def test_plans_read_a_refused_customer_as_nothing_preferences_as_not_found(
    api: Api,
) -> None:
    w = await build(api.db)
    sales = token("BAOSTEEL", "sales")
    mill = to_global_id("Organization", w.org["BAOSTEEL"])
    faw = to_global_id("Organization", w.org["FAW-VW"])
    assert await api.data(PLAN, {"c": mill}, as_=sales) == {"productionPlan": None}
    assert await api.data(PLAN, {"c": faw}, as_=token("GALANZ")) == {"productionPlan": None}
    for who, c in ((sales, mill), (token("GALANZ"), faw)):
        refused = await api.query(PREFS, {"c": c}, as_=who)
        assert refused["data"] is None
        assert "no such customer" in refused["errors"][0]["message"]


async def test_staff_who_name_no_customer_are_asked_for_one(api: Api) -> None:
    await build(api.db)
    sales = token("BAOSTEEL", "sales")
    plan = await api.query(PLAN, as_=sales)
    assert plan["errors"][0]["message"] == (
        "the mill's staff name the customer: give `customerId`")
    assert plan["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    prefs = await api.query(PREFS, as_=sales)
    assert "say which customer: give customerId" in prefs["errors"][0]["message"]


async def test_only_a_customer_organization_is_a_customer(db: Database) -> None:
    w = await build(db)
    mill, faw = w.org["BAOSTEEL"], w.org["FAW-VW"]
    assert await is_customer(db, faw)
    assert not await is_customer(db, mill)
    assert not await is_customer(db, 9_999_999)
    # Writes that take a customer refuse the mill, each in its own words.
    with pytest.raises(NotFound):
        await contract_writes.create_contract(db, customer_org_id=mill, lines=[], actor="sales")
    with pytest.raises(Invalid) as chain:
        await escalation.set_escalation_chain(db, mill, ["lead"])
    assert chain.value.message == "escalation chains are kept per customer"
    staff = Actor("staff", mill, frozenset({"sales"}), False)
    with pytest.raises(NotFound):
        await rules.create_rule(db, staff, rules.RuleInput(
            name="all", event_types=["*"], watch_org_id=mill), smtp=False)
    made = await rules.create_rule(db, staff, rules.RuleInput(
        name="faw", event_types=["*"], watch_org_id=faw), smtp=False)
    assert made["watch_org_id"] == faw
