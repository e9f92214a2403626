"""A changed car plan against converted lines: sales' accepted request brings the contract
line (quantity, delivery window, production order) to the new plan within what its state
allows; a declined one leaves it; a newer request replaces an open one."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.actor import Actor
from domain.calendar import mill_today
from domain.contracts.production import ProgressInput, record_progress
from resolvers.relay import from_global_id
from tests.planning.test_planning_api import (
    APPROVE,
    COMPUTE,
    FAW,
    PLAN,
    SALES,
    SHARE,
    STEP,
    setup_faw,
    weeks,
)
from tests.support.api import Api

ANSWER = """mutation($input: AnswerChangeRequestInput!) { answerPlanChangeRequest(input: $input)
    { change { requestStatus afterTonnes afterNeedDate productionPlanVersion }
      errors { field message code } } }"""
UNITS = {"SAGITAR": 2100, "MAGOTAN": 1400}


async def converted(api: Api) -> str:
    """FAW-VW's plan of eight weeks, computed, submitted and converted."""
    await setup_faw(api)
    got = await api.data(SHARE, {"input": {"entries": weeks(8, UNITS)}}, as_=FAW)
    assert got["shareProductionPlan"]["errors"] == []
    plan_id: str = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    await api.data(STEP, {"input": {"planId": plan_id}}, as_=FAW)
    got = await api.data(APPROVE, {"input": {"planId": plan_id, "acceptInfeasible": True}},
                         as_=SALES)
    assert got["approvePurchasePlan"]["purchasePlan"]["status"] == "CONVERTED"
    return plan_id


async def change_week(api: Api, plan_id: str, week: int, sagitar: int) -> dict[str, Any]:
    """Share a plan with the week's SAGITAR cars changed; the request for that week."""
    entries = weeks(8, UNITS)
    entries[2 * week]["units"] = sagitar
    got = await api.data(SHARE, {"input": {"entries": entries}}, as_=FAW)
    assert got["shareProductionPlan"]["errors"] == []
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    period = (mill_today() + timedelta(weeks=week)).isoformat()
    found = [d for d in plan["changes"]["nodes"] if d["periodStart"] == period
             and d["action"] == "CHANGE_REQUESTED" and d["requestStatus"] == "OPEN"]
    assert len(found) == 1, plan["changes"]["nodes"]
    request: dict[str, Any] = found[0]
    return request


async def contract_line(api: Api, plan_id: str, period: str) -> dict[str, Any]:
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    (line,) = [x for x in plan["lines"]["nodes"] if x["periodStart"] == period]
    return {"plan_line": line, "contract_line": line["contractLine"]}


async def line_pk(api: Api, period: str) -> int:
    pk: int = await api.db.fetchval(
        "SELECT contract_line_id FROM purchase_plan_line WHERE period_start = $1"
        " AND contract_line_id IS NOT NULL", date.fromisoformat(period))
    return pk


async def test_an_accepted_request_amends_the_contract_line(api: Api) -> None:
    plan_id = await converted(api)
    request = await change_week(api, plan_id, 1, 4200)
    period = request["periodStart"]
    before = await contract_line(api, plan_id, period)
    assert before["contract_line"]["quantityT"] == request["beforeTonnes"]
    assert Decimal(request["afterTonnes"]) > Decimal(request["beforeTonnes"])

    got = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": True}},
                         as_=SALES)
    answered = got["answerPlanChangeRequest"]
    assert answered["errors"] == []
    assert answered["change"]["requestStatus"] == "ACCEPTED"
    assert answered["change"]["productionPlanVersion"] == 2

    after = await contract_line(api, plan_id, period)
    assert after["contract_line"]["quantityT"] == request["afterTonnes"]
    assert after["plan_line"]["quantityTonnes"] == request["afterTonnes"]
    assert after["contract_line"]["deliveryWindow"]["end"] == request["afterNeedDate"]
    assert after["plan_line"]["needDate"] == request["afterNeedDate"]
    pk = await line_pk(api, period)
    order_t = await api.db.fetchval(
        "SELECT quantity_t FROM production_order WHERE line_id = $1", pk)
    assert order_t == Decimal(request["afterTonnes"])
    event = await api.db.fetchrow(
        "SELECT payload FROM domain_event WHERE event_type = 'contract.line_amended'")
    assert event is not None
    assert Decimal(event["payload"]["quantity_t"]["after"]) == Decimal(request["afterTonnes"])
    again = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": False}},
                           as_=SALES)
    assert again["answerPlanChangeRequest"]["errors"][0]["code"] == "INVALID_TRANSITION"


async def test_a_declined_request_leaves_the_contract_line(api: Api) -> None:
    plan_id = await converted(api)
    request = await change_week(api, plan_id, 1, 4200)
    before = await contract_line(api, plan_id, request["periodStart"])
    got = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": False}},
                         as_=SALES)
    assert got["answerPlanChangeRequest"]["change"]["requestStatus"] == "DECLINED"
    assert await contract_line(api, plan_id, request["periodStart"]) == before
    assert await api.db.fetchval(
        "SELECT count(*) FROM domain_event WHERE event_type = 'contract.line_amended'") == 0


async def test_a_line_in_production_never_shrinks_below_what_is_made(api: Api) -> None:
    plan_id = await converted(api)
    request = await change_week(api, plan_id, 1, 700)
    after_t = Decimal(request["afterTonnes"])
    pk = await line_pk(api, request["periodStart"])
    made = after_t + 12
    await record_progress(api.db, ProgressInput(pk, "steelmaking", made, False),
                          actor=Actor.system("melt.shop"))

    # Then accepting a cut below what is made is refused, and the request stays open.
    got = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": True}},
                         as_=SALES)
    (error,) = got["answerPlanChangeRequest"]["errors"]
    assert error["code"] == "INVALID" and f"{made} t" in error["message"], error
    assert error["field"] == "changeId"
    line = await contract_line(api, plan_id, request["periodStart"])
    assert line["contract_line"]["quantityT"] == request["beforeTonnes"]
    assert line["contract_line"]["status"] == "IN_PRODUCTION"

    # A later plan that needs more than is made can be accepted: the line may grow.
    newer = await change_week(api, plan_id, 1, 6300)
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    (old,) = [d for d in plan["changes"]["nodes"] if d["id"] == request["id"]]
    assert old["requestStatus"] == "SUPERSEDED"
    stale = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": True}},
                           as_=SALES)
    assert stale["answerPlanChangeRequest"]["errors"][0]["code"] == "INVALID_TRANSITION"
    got = await api.data(ANSWER, {"input": {"changeId": newer["id"], "accept": True}},
                         as_=SALES)
    assert got["answerPlanChangeRequest"]["errors"] == []
    line = await contract_line(api, plan_id, newer["periodStart"])
    assert line["contract_line"]["quantityT"] == newer["afterTonnes"]
    # Nothing of it has left the mill: still in production, not partly shipped.
    assert line["contract_line"]["status"] == "IN_PRODUCTION"
    assert Decimal(newer["afterTonnes"]) > Decimal(request["beforeTonnes"])


async def test_the_customer_cannot_answer_its_own_request(api: Api) -> None:
    plan_id = await converted(api)
    request = await change_week(api, plan_id, 1, 4200)
    got = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": True}},
                         as_=FAW)
    assert got["answerPlanChangeRequest"]["errors"][0]["code"] == "FORBIDDEN"
    assert from_global_id(request["id"])[0] == "PlanChange"


async def test_a_shipped_line_no_longer_changes(api: Api) -> None:
    plan_id = await converted(api)
    request = await change_week(api, plan_id, 1, 4200)
    pk = await line_pk(api, request["periodStart"])
    await api.db.execute("UPDATE contract_line SET status = 'shipped', shipped_t = quantity_t"
                         " WHERE id = $1", pk)
    got = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": True}},
                         as_=SALES)
    (error,) = got["answerPlanChangeRequest"]["errors"]
    assert error["code"] == "INVALID_TRANSITION" and "shipped" in error["message"], error
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    (still,) = [d for d in plan["changes"]["nodes"] if d["id"] == request["id"]]
    assert still["requestStatus"] == "OPEN"


async def test_a_newer_approved_plan_supersedes_the_open_requests(api: Api) -> None:
    plan_id = await converted(api)
    request = await change_week(api, plan_id, 1, 4200)
    newer = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    assert newer != plan_id
    await api.data(STEP, {"input": {"planId": newer}}, as_=FAW)
    got = await api.data(APPROVE, {"input": {"planId": newer, "acceptInfeasible": True}},
                         as_=SALES)
    assert got["approvePurchasePlan"]["errors"] == []
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    (old,) = [d for d in plan["changes"]["nodes"] if d["id"] == request["id"]]
    assert old["requestStatus"] == "SUPERSEDED"
    late = await api.data(ANSWER, {"input": {"changeId": request["id"], "accept": True}},
                          as_=SALES)
    assert late["answerPlanChangeRequest"]["errors"][0]["code"] == "INVALID_TRANSITION"
