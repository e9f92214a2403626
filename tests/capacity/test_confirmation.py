"""A line that cannot be made in its window is flagged before it is confirmed: the demo's
purchase plan, converted, and a contract confirmed by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import demo
from domain.calendar import mill_today
from domain.contracts.model import MIN_PRODUCTION_TIME
from domain.db import Database
from resolvers.relay import to_global_id
from tests.support.api import Api, token

FAW = token("FAW-VW", subject="buyer.faw")
SALES = token("BAOSTEEL", "sales", subject="sales.zhang")
SUBMIT = """mutation($input: PurchasePlanInput!) { submitPurchasePlan(input: $input) {
    purchasePlan { status } errors { code } } }"""
APPROVE = """mutation($input: ApprovePurchasePlanInput!) { approvePurchasePlan(input: $input) {
    purchasePlan { status } errors { field message code } } }"""
LINES = """query($id: ID!) { node(id: $id) { ... on PurchasePlan { status
    lines(first: 100, firmness: FIRM) { nodes { needDate quantityTonnes contractLine {
      deliveryWindow { start end } transitDays
      feasibility { feasible earliestDelivery reason acceptedBy } } } } } } }"""
CONFIRM = """mutation($input: ConfirmContractInput!) { confirmContract(input: $input) {
    contract { status lines { feasibility { feasible earliestDelivery acceptedBy } } }
    errors { field message code } } }"""


async def test_the_demos_converted_plan_flags_the_lines_it_cannot_make(
        api: Api, db: Database) -> None:
    await demo.seed(db, contracts=40)
    plan = await db.fetchval(
        "SELECT p.id FROM purchase_plan p JOIN organization o ON o.id = p.customer_org_id"
        " WHERE o.code = 'FAW-VW'")
    plan_id = to_global_id("PurchasePlan", plan)
    # The demo's FAW-VW is close to its credit limit, which would hold the converted
    # contract for finance: without a limit, the conversion confirms it.
    faw = await db.fetchval("SELECT id FROM organization WHERE code = 'FAW-VW'")
    lifted = (await api.data(
        """mutation($input: SetCreditLimitInput!) { setCreditLimit(input: $input) {
           errors { message } } }""",
        {"input": {"customerId": to_global_id("Organization", faw), "limit": None}},
        as_=token("BAOSTEEL", "finance", subject="finance.wang")))["setCreditLimit"]
    assert lifted["errors"] == []
    assert (await api.data(SUBMIT, {"input": {"planId": plan_id}}, as_=FAW))[
        "submitPurchasePlan"]["errors"] == []
    contracts = await db.fetchval("SELECT count(*) FROM contract")

    refused = (await api.data(APPROVE, {"input": {"planId": plan_id}}, as_=SALES))[
        "approvePurchasePlan"]
    (error,) = refused["errors"]
    assert error["code"] == "INFEASIBLE" and error["field"] == "acceptInfeasible"
    assert "cannot be made in their windows" in error["message"]
    assert "earliest delivery" in error["message"]
    # Nothing was converted: the plan waits, submitted, for sales to decide.
    assert await db.fetchval("SELECT count(*) FROM contract") == contracts
    assert (await api.data(LINES, {"id": plan_id}, as_=SALES))["node"]["status"] == "SUBMITTED"

    done = (await api.data(APPROVE, {"input": {"planId": plan_id, "acceptInfeasible": True}},
                           as_=SALES))["approvePurchasePlan"]
    assert done["errors"] == [] and done["purchasePlan"]["status"] == "CONVERTED"
    lines = (await api.data(LINES, {"id": plan_id}, as_=FAW))["node"]["lines"]["nodes"]
    converted = [x["contractLine"] for x in lines if x["contractLine"]]
    assert converted and all(c["feasibility"] is not None for c in converted)
    # Each line the shortest route cannot reach in time is flagged, with its earliest day.
    earliest = mill_today() + MIN_PRODUCTION_TIME
    for c in converted:
        f: dict[str, Any] = c["feasibility"]
        reachable = (earliest + timedelta(days=c["transitDays"])).isoformat() \
            <= c["deliveryWindow"]["end"]
        if not reachable:
            assert f["feasible"] is False and f["acceptedBy"] == "sales.zhang", c
            assert f["earliestDelivery"] is not None, (f, [x["quantityTonnes"] for x in lines])
            assert f["earliestDelivery"] > c["deliveryWindow"]["end"]
        if f["feasible"]:
            assert f["acceptedBy"] is None and f["reason"] is None
    late = [c for c in converted if not c["feasibility"]["feasible"]]
    assert 0 < len(late) < len(converted)
    event = await db.fetchval(
        "SELECT payload FROM domain_event WHERE event_type = 'contract.confirmed'"
        " ORDER BY seq DESC LIMIT 1")
    assert len(event["infeasible_lines"]) == len(late)


async def test_confirming_by_hand_refuses_an_infeasible_line_unless_accepted(
        api: Api, db: Database) -> None:
    from tests.support.factory import build

    w = await build(db)
    today = mill_today()
    contract = await db.fetchval(
        "INSERT INTO contract (number, customer_org_id) VALUES ('C-NEW', $1) RETURNING id",
        w.org["FAW-VW"])
    for no, days in ((1, 60), (2, 10)):
        await db.execute(
            "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id,"
            " quantity_t, unit_price, delivery_from, delivery_to, transport_mode, transit_days)"
            " VALUES ($1, $2, $3, $4, 50, 5000, $5, $5, 'rail', 7)", contract,
            w.org["FAW-VW"], no, w.spec["FAW-VW"], today + timedelta(days=days))
    gid = to_global_id("Contract", contract)
    refused = (await api.data(CONFIRM, {"input": {"contractId": gid}}, as_=SALES))[
        "confirmContract"]
    assert refused["contract"] is None
    (error,) = refused["errors"]
    assert error["code"] == "INFEASIBLE" and "1 of 2 lines" in error["message"]
    assert "line 2:" in error["message"] and "line 1:" not in error["message"]
    assert await db.fetchval("SELECT status FROM contract WHERE id = $1", contract) == "draft"
    assert await db.fetchval("SELECT count(*) FROM contract_line_feasibility") == 0

    done = (await api.data(CONFIRM, {"input": {"contractId": gid, "acceptInfeasible": True}},
                           as_=SALES))["confirmContract"]
    assert done["errors"] == [] and done["contract"]["status"] == "CONFIRMED"
    first, second = (x["feasibility"] for x in done["contract"]["lines"])
    assert first == {"feasible": True, "earliestDelivery": first["earliestDelivery"],
                     "acceptedBy": None}
    assert second["feasible"] is False and second["acceptedBy"] == "sales.zhang"
    assert second["earliestDelivery"] == (
        today + MIN_PRODUCTION_TIME + timedelta(days=7)).isoformat()
    # A customer sees the finding on its own line, never another's.
    q = """query($id: ID!) { node(id: $id) { ... on Contract { lines { feasibility {
        feasible } } } } }"""
    mine = (await api.data(q, {"id": gid}, as_=FAW))["node"]
    assert [x["feasibility"]["feasible"] for x in mine["lines"]] == [True, False]
    assert (await api.data(q, {"id": gid}, as_=token("GALANZ")))["node"] is None
