"""Finance's approval of contracts beyond the customer's credit headroom: a confirmation
(or a purchase plan converted to contracts) whose value would go beyond it leaves the
contract a draft with a pending approval and an event for finance; finance approves (the
contract is confirmed) or refuses (it stays a draft). Within the headroom, or without a
limit, a confirmation goes through as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.calendar import mill_today
from resolvers.relay import to_global_id
from tests.customers.test_credit import FINANCE, SALES, SET, org
from tests.planning.test_planning_api import APPROVE, COMPUTE, FAW, SHARE, STEP, setup_faw, weeks
from tests.support.api import Api, token
from tests.support.factory import World, build

CREATE = """mutation($input: CreateContractInput!) { createContract(input: $input) {
    contract { id number status } errors { field code message } } }"""
CONFIRM = """mutation($input: ConfirmContractInput!) { confirmContract(input: $input) {
    contract { number status lines { progress { stageCount } } }
    creditApproval { id status amount creditLimit headroom requestedBy contract { number } }
    errors { field code message } } }"""
DECIDE = """mutation($input: DecideCreditApprovalInput!) { decideCreditApproval(input: $input) {
    approval { status decidedBy note } contract { number status }
    errors { field code message } } }"""
APPROVALS = """query($s: [CreditApprovalStatus!]) { creditApprovals(status: $s) {
    nodes { id status amount contract { number status } customer { code } } } }"""


async def draft(api: Api, w: World, tonnes: str = "96") -> dict[str, Any]:
    """A draft contract sales enters for FAW-VW, at its latest price (5,200.50 a tonne)."""
    start = mill_today() + timedelta(days=45)
    got = await api.data(CREATE, {"input": {
        "customerId": org(w, "FAW-VW"), "lines": [{
            "specId": to_global_id("SteelSpec", w.spec["FAW-VW"]), "quantityT": tonnes,
            "deliveryFrom": start.isoformat(),
            "deliveryTo": (start + timedelta(days=10)).isoformat()}]}}, as_=SALES)
    assert got["createContract"]["errors"] == []
    contract: dict[str, Any] = got["createContract"]["contract"]
    return contract


async def limit(api: Api, w: World, amount: str | None) -> None:
    got = await api.data(SET, {"input": {"customerId": org(w, "FAW-VW"), "limit": amount}},
                         as_=FINANCE)
    assert got["setCreditLimit"]["errors"] == []


async def test_without_a_limit_or_within_the_headroom_a_confirmation_goes_through(
        api: Api) -> None:
    w = await build(api.db)
    first = await draft(api, w)
    got = (await api.data(CONFIRM, {"input": {"contractId": first["id"]}},
                          as_=SALES))["confirmContract"]
    assert (got["errors"], got["contract"]["status"], got["creditApproval"]) == (
        [], "CONFIRMED", None)
    # 624,060.00 + 499,248.00 exposed; 96 t more is 499,248.00: within 1,700,000.
    await limit(api, w, "1700000")
    second = await draft(api, w)
    got = (await api.data(CONFIRM, {"input": {"contractId": second["id"]}},
                          as_=SALES))["confirmContract"]
    assert (got["errors"], got["contract"]["status"], got["creditApproval"]) == (
        [], "CONFIRMED", None)
    assert await api.db.fetchval("SELECT count(*) FROM credit_approval") == 0


async def test_beyond_the_headroom_finance_refuses_then_approves(api: Api) -> None:
    w = await build(api.db)
    await limit(api, w, "800000")  # headroom 175,940.00 against 624,060.00 exposed
    made = await draft(api, w)
    got = (await api.data(CONFIRM, {"input": {"contractId": made["id"]}},
                          as_=SALES))["confirmContract"]
    assert got["errors"] == []
    assert got["contract"] == {"number": made["number"], "status": "DRAFT",
                               "lines": [{"progress": None}]}
    held = got["creditApproval"]
    assert {k: held[k] for k in ("status", "amount", "creditLimit", "headroom",
                                 "requestedBy", "contract")} == {
        "status": "PENDING", "amount": "499248.00", "creditLimit": "800000.00",
        "headroom": "175940.00", "requestedBy": "sales.zhang",
        "contract": {"number": made["number"]}}
    event = await api.db.fetchrow("SELECT org_id, payload FROM domain_event"
                                  " WHERE event_type = 'credit.approval_requested'")
    assert event is not None
    assert event["org_id"] is None and event["payload"]["contract"] == made["number"]

    # Confirming again waits; the customer sees the draft, not the approval.
    again = (await api.data(CONFIRM, {"input": {"contractId": made["id"]}},
                            as_=SALES))["confirmContract"]
    assert again["errors"][0]["code"] == "CONFLICT"
    q = "query($id: ID!) { node(id: $id) { id } }"
    assert (await api.data(q, {"id": held["id"]}, as_=token("FAW-VW")))["node"] is None
    assert (await api.data(APPROVALS, {"s": None}, as_=token("FAW-VW"))
            )["creditApprovals"]["nodes"] == []
    pending = (await api.data(APPROVALS, {"s": ["PENDING"]}, as_=SALES)
               )["creditApprovals"]["nodes"]
    assert [(a["id"], a["customer"]["code"]) for a in pending] == [(held["id"], "FAW-VW")]

    # Only finance decides; a refusal says why and leaves the draft.
    got = (await api.data(DECIDE, {"input": {"approvalId": held["id"], "decision": "APPROVE"}},
                          as_=SALES))["decideCreditApproval"]
    assert got["errors"][0]["code"] == "FORBIDDEN"
    got = (await api.data(DECIDE, {"input": {"approvalId": held["id"], "decision": "REFUSE"}},
                          as_=FINANCE))["decideCreditApproval"]
    assert got["errors"][0]["field"] == "note"
    got = (await api.data(DECIDE, {"input": {
        "approvalId": held["id"], "decision": "REFUSE", "note": "two invoices overdue"}},
        as_=FINANCE))["decideCreditApproval"]
    assert got["errors"] == []
    assert got["approval"] == {"status": "REFUSED", "decidedBy": "finance.li",
                               "note": "two invoices overdue"}
    assert got["contract"] == {"number": made["number"], "status": "DRAFT"}
    got = (await api.data(DECIDE, {"input": {"approvalId": held["id"], "decision": "APPROVE"}},
                          as_=FINANCE))["decideCreditApproval"]
    assert got["errors"][0]["code"] == "INVALID_TRANSITION"

    # Confirmed again later, it is held again; approved, it is confirmed with its orders.
    got = (await api.data(CONFIRM, {"input": {"contractId": made["id"]}},
                          as_=SALES))["confirmContract"]
    second = got["creditApproval"]
    assert second["status"] == "PENDING" and second["id"] != held["id"]
    got = (await api.data(DECIDE, {"input": {"approvalId": second["id"],
                                             "decision": "APPROVE"}},
                          as_=FINANCE))["decideCreditApproval"]
    assert got["errors"] == []
    assert got["approval"]["status"] == "APPROVED"
    assert got["contract"] == {"number": made["number"], "status": "CONFIRMED"}
    assert await api.db.fetchval(
        "SELECT count(*) FROM production_order o JOIN contract_line l ON l.id = o.line_id"
        " JOIN contract c ON c.id = l.contract_id WHERE c.number = $1", made["number"]) == 1
    kinds = [r["event_type"] for r in await api.db.fetch(
        "SELECT event_type FROM domain_event WHERE event_type LIKE 'credit.%'"
        " OR event_type = 'contract.confirmed' ORDER BY seq")]
    assert kinds == ["credit.limit_set", "credit.approval_requested", "credit.refused",
                     "credit.approval_requested", "contract.confirmed", "credit.approved"]


async def test_sales_confirming_at_entry_is_held_alike(api: Api) -> None:
    w = await build(api.db)
    await limit(api, w, "700000")
    start = mill_today() + timedelta(days=45)
    got = (await api.data(CREATE, {"input": {
        "customerId": org(w, "FAW-VW"), "confirm": True, "lines": [{
            "specId": to_global_id("SteelSpec", w.spec["FAW-VW"]), "quantityT": "20",
            "deliveryFrom": start.isoformat(),
            "deliveryTo": (start + timedelta(days=10)).isoformat()}]}},
        as_=SALES))["createContract"]
    assert got["errors"] == [] and got["contract"]["status"] == "DRAFT"
    assert await api.db.fetchval(
        "SELECT a.status FROM credit_approval a JOIN contract c ON c.id = a.contract_id"
        " WHERE c.number = $1", got["contract"]["number"]) == "pending"


async def test_a_converted_purchase_plan_beyond_the_headroom_waits_for_finance(
        api: Api) -> None:
    await setup_faw(api)
    faw = await api.db.fetchval("SELECT id FROM organization WHERE code = 'FAW-VW'")
    got = await api.data(SHARE, {"input": {"entries": weeks(8, {"SAGITAR": 2100})}}, as_=FAW)
    assert got["shareProductionPlan"]["errors"] == []
    plan_id = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    await api.data(STEP, {"input": {"planId": plan_id}}, as_=FAW)
    got = await api.data(SET, {"input": {"customerId": to_global_id("Organization", faw),
                                         "limit": "1000"}}, as_=FINANCE)
    assert got["setCreditLimit"]["errors"] == []
    # Lines the mill cannot make in time are accepted as they are: only credit holds here.
    got = await api.data(APPROVE, {"input": {"planId": plan_id, "acceptInfeasible": True}},
                         as_=SALES)
    assert got["approvePurchasePlan"]["purchasePlan"]["status"] == "CONVERTED"
    held = await api.db.fetch(
        "SELECT c.number, c.status, a.status AS approval FROM contract c"
        " JOIN credit_approval a ON a.contract_id = c.id WHERE c.source IS NOT NULL")
    assert held and {(r["status"], r["approval"]) for r in held} == {("draft", "pending")}
    converted = await api.db.fetchval("SELECT payload FROM domain_event"
                                      " WHERE event_type = 'purchase_plan.converted'")
    assert converted["held_for_credit"] == [r["number"] for r in held]
    # Held or not, what the capacity check found stays on every line, accepted by sales.
    found = await api.db.fetch(
        "SELECT f.feasible, f.accepted_by FROM contract_line l JOIN contract c"
        " ON c.id = l.contract_id LEFT JOIN contract_line_feasibility f ON f.line_id = l.id"
        " WHERE c.source IS NOT NULL")
    assert found and all(r["feasible"] is not None for r in found)
    assert all(r["accepted_by"] == (None if r["feasible"] else "sales.zhang") for r in found)

    pending = (await api.data(APPROVALS, {"s": ["PENDING"]}, as_=FINANCE)
               )["creditApprovals"]["nodes"]
    got = (await api.data(DECIDE, {"input": {"approvalId": pending[0]["id"],
                                             "decision": "APPROVE"}},
                          as_=FINANCE))["decideCreditApproval"]
    assert got["errors"] == [] and got["contract"]["status"] == "CONFIRMED"
