"""FAW-VW's delivery schedule (a DELFOR sent to its address) as an input of its purchase
plans, as its car plan is: a new version brings the approved plan in line (change
requests for converted lines, saying which schedule made them), and a submitted plan
reads as stale until the mill decides."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from domain.calendar import mill_today
from domain.db import Database
from resolvers.relay import to_global_id
from tests.exchange.delfor import Want, delfor
from tests.exchange.test_documents_in import send
from tests.planning.test_planning_api import COMPUTE, FAW, PLAN, SHARE, STEP, setup_faw, weeks
from tests.planning.test_planning_changes import UNITS, converted
from tests.support.api import SETTINGS, Api, _client, token

PUT = """mutation($input: PutExchangeAddressInput!) { putExchangeAddress(input: $input) {
    errors { field message } } }"""
STALE = """query($id: ID!) { node(id: $id) { ... on PurchasePlan { status isStale
    lines(first: 100) { nodes { periodStart grossTonnes demandSource } } } } }"""


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    """The API allowed to register FAW-VW's DELFOR address on this host."""
    async for a in _client(db, SETTINGS.replace(webhook_allow="127.0.0.0/8")):
        yield a


async def delfor_address(api: Api) -> None:
    org = await api.db.fetchval("SELECT id FROM organization WHERE code = 'FAW-VW'")
    done = await api.data(PUT, {"input": {
        "organizationId": to_global_id("Organization", org),
        "documentType": "DELIVERY_SCHEDULE", "code": "FAW-VW.DELFOR", "transport": "HTTPS",
        "format": "EDIFACT", "url": "https://127.0.0.1:9443/contrl",
        "options": {"recipient": "BAOSTEEL"}}}, as_=token("FAW-VW"))
    assert done["putExchangeAddress"]["errors"] == []


async def test_a_new_schedule_brings_the_approved_plan_in_line(api: Api) -> None:
    plan_id = await converted(api)
    await delfor_address(api)
    week = mill_today() + timedelta(weeks=1)
    # The car plan gives the week 157.5 t; the customer's schedule asks 400 t, firm.
    body = delfor("DF-7", [Want("PN-FAW-VW", week, "400:TNE", "firm",
                                end=week + timedelta(days=6))], site="WH-FAW-VW")
    status, answer = await send(api, body, token("FAW-VW"))
    assert status == 200, answer
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    requested = [c for c in plan["changes"]["nodes"] if c["action"] == "CHANGE_REQUESTED"
                 and c["periodStart"] == week.isoformat()]
    assert len(requested) == 1, plan["changes"]["nodes"]
    assert requested[0]["requestStatus"] == "OPEN"
    assert requested[0]["productionPlanVersion"] == 1
    versions = await api.db.fetch("SELECT delivery_schedule_id FROM purchase_plan_change")
    assert versions and all(r["delivery_schedule_id"] is not None for r in versions)
    got = await api.data("""query($id: ID!) { node(id: $id) { ... on PurchasePlan {
        changes(first: 100) { nodes { deliveryScheduleVersion } } } } }""",
        {"id": plan_id}, as_=FAW)
    assert {c["deliveryScheduleVersion"] for c in got["node"]["changes"]["nodes"]} == {1}
    kinds = [r["event_type"] for r in await api.db.fetch(
        "SELECT event_type FROM domain_event WHERE event_type LIKE 'p%' ORDER BY seq")]
    assert kinds[-2:] == ["production_plan.delivery_schedule_received",
                          "purchase_plan.change_requested"]
    payload = await api.db.fetchval(
        "SELECT payload FROM domain_event WHERE event_type = 'purchase_plan.change_requested'"
        " ORDER BY seq DESC LIMIT 1")
    assert payload["delivery_schedule_version"] == 1 and payload["requests"] >= 1


async def test_a_submitted_plan_is_stale_after_a_new_schedule(api: Api) -> None:
    await setup_faw(api)
    await delfor_address(api)
    got = await api.data(SHARE, {"input": {"entries": weeks(8, UNITS)}}, as_=FAW)
    assert got["shareProductionPlan"]["errors"] == []
    plan_id = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    await api.data(STEP, {"input": {"planId": plan_id}}, as_=FAW)
    before = (await api.data(STALE, {"id": plan_id}, as_=FAW))["node"]
    assert before["isStale"] is False
    week = mill_today() + timedelta(weeks=2)
    status, _ = await send(api, delfor("DF-8", [Want("PN-FAW-VW", week, "10:TNE", "firm")],
                                       site="WH-FAW-VW"), token("FAW-VW"))
    assert status == 200
    after = (await api.data(STALE, {"id": plan_id}, as_=FAW))["node"]
    # The mill's decision is awaited on the plan as submitted: stale, not recomputed.
    assert after["status"] == "SUBMITTED" and after["isStale"] is True
    assert after["lines"] == before["lines"]
    assert {x["demandSource"] for x in after["lines"]["nodes"]} == {"BUILD_PLAN"}
