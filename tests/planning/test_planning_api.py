"""Production-plan collaboration over GraphQL, end to end: a plan file in the customer's
format, the purchase plan computed from live stock, submitted, approved and converted
into a confirmed contract, and a changed plan followed through."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from demo import planning as demo_planning
from domain.actor import Actor
from domain.calendar import mill_today
from domain.planning import imports
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import World, build

FAW = token("FAW-VW", subject="planner.faw")
GALANZ = token("GALANZ", subject="planner.galanz")
SALES = token("BAOSTEEL", "sales", subject="sales.mill")

SET_TABLE = """mutation($input: SetConsumptionTableInput!) { setConsumptionTable(input: $input) {
    rates errors { field message code } } }"""
SET_PARAMS = """mutation($input: SetPlanningParametersInput!) {
    setPlanningParameters(input: $input) { ok errors { field message code } } }"""
SET_CYCLE = """mutation($input: SetTransportCycleInput!) {
    setTransportCycle(input: $input) { ok errors { field message code } } }"""
SET_FORMAT = """mutation($input: SetPlanFormatInput!) { setPlanFormat(input: $input) {
    ok errors { field message code } } }"""
IMPORT = """mutation($input: ImportPlanFileInput!) { importPlanFile(input: $input) {
    planImport { id status } errors { field message code } } }"""
IMPORT_STATE = """query($id: ID!) { node(id: $id) { ... on PlanImport {
    status rowsTotal rowsDone errors { row column reason }
    productionPlan { version entries(first: 100) { nodes { model periodStart units } } } } } }"""
COMPUTE = """mutation($input: ComputePurchasePlanInput!) { computePurchasePlan(input: $input) {
    purchasePlan { id status } errors { field message code } } }"""
STEP = """mutation($input: PurchasePlanInput!) { submitPurchasePlan(input: $input) {
    purchasePlan { id status submittedBy } errors { field message code } } }"""
APPROVE = """mutation($input: ApprovePurchasePlanInput!) { approvePurchasePlan(input: $input) {
    purchasePlan { id status decidedBy } errors { field message code } } }"""
REJECT = """mutation($input: RejectPurchasePlanInput!) { rejectPurchasePlan(input: $input) {
    purchasePlan { id status rejectReason } errors { field message code } } }"""
SHARE = """mutation($input: ShareProductionPlanInput!) { shareProductionPlan(input: $input) {
    productionPlan { version horizonStart horizonEnd } errors { field message code } } }"""
PLAN = """query($id: ID!) { node(id: $id) { ... on PurchasePlan {
    status totalTonnes firmTonnes productionPlan { version }
    lines(first: 100) { nodes { periodStart grossTonnes netTonnes quantityTonnes coils
        needDate releaseDate releaseOverdue firmness transitDays availableTonnes
        contractLine { quantityT deliveryWindow { start end } status } } }
    contracts { number status lines { quantityT progress { currentStage } } }
    changes(first: 100) { nodes { id periodStart beforeTonnes afterTonnes afterNeedDate action
        requestStatus productionPlanVersion } } } } }"""


def weeks(n: int, units: dict[str, int], start: date | None = None) -> list[dict[str, Any]]:
    start = start or mill_today()
    return [{"model": m, "periodStart": (start + timedelta(weeks=w)).isoformat(),
             "units": u, "periodDays": 7} for w in range(n) for m, u in units.items()]


async def setup_faw(api: Api) -> World:
    """Consumption of FAW-VW's spec by two models, 5 safety days, 7 days by rail."""
    w = await build(api.db)
    got = await api.data(SET_TABLE, {"input": {"rates": [
        {"model": "SAGITAR", "spec": "PN-FAW-VW", "kgPerCar": "40"},
        {"model": "MAGOTAN", "spec": "PN-FAW-VW", "kgPerCar": "52.5"}]}}, as_=FAW)
    assert got["setConsumptionTable"] == {"rates": 2, "errors": []}
    spec = to_global_id("SteelSpec", w.spec["FAW-VW"])
    got = await api.data(SET_PARAMS, {"input": {"specId": spec, "safetyDays": "5"}}, as_=FAW)
    assert got["setPlanningParameters"]["errors"] == []
    got = await api.data(SET_CYCLE, {"input": {"siteId": to_global_id("Site", w.site["FAW-VW"]),
                                               "transportMode": "RAIL", "cycleDays": 7}}, as_=FAW)
    assert got["setTransportCycle"]["errors"] == []
    return w


async def upload(api: Api, name: str, content: bytes, *, as_: str,
                 kind: str = "PLAN") -> dict[str, Any]:
    operations = {"query": IMPORT, "variables": {"input": {"file": None, "kind": kind}}}
    r = await api.client.post(
        "/graphql", headers={"authorization": f"Bearer {as_}"},
        data={"operations": json.dumps(operations),
              "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (name, content, "application/octet-stream")})
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["importPlanFile"]
    return result


async def sales_total(api: Api) -> Decimal:
    today = mill_today()
    got = await api.data("""query($a: Date!, $b: Date!) { salesPlan(fromMonth: $a, toMonth: $b,
        first: 100) { nodes { month tonnes customer { code } } } }""",
        {"a": (today - timedelta(days=90)).isoformat(),
         "b": (today + timedelta(days=400)).isoformat()}, as_=SALES)
    rows = got["salesPlan"]["nodes"]
    assert {r["customer"]["code"] for r in rows} == {"FAW-VW"}
    return sum((Decimal(r["tonnes"]) for r in rows), Decimal(0))


async def finished(api: Api, job_id: str, *, as_: str) -> dict[str, Any]:
    for _ in range(200):
        node: dict[str, Any] = (await api.data(IMPORT_STATE, {"id": job_id}, as_=as_))["node"]
        if node["status"] != "RUNNING":
            return node
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


def faw_csv(rows: list[tuple[str, str, str]]) -> bytes:
    text = "车型,周开始,计划产量\n" + "".join(f"{m},{d},{u}\n" for m, d, u in rows)
    return text.encode("gb18030")


async def configure_format(api: Api, w: World) -> None:
    got = await api.data(SET_FORMAT, {"input": {
        "customerId": to_global_id("Organization", w.org["FAW-VW"]),
        "columns": [{"field": "model", "column": "车型"},
                    {"field": "period_start", "column": "周开始"},
                    {"field": "units", "column": "计划产量"}],
        "models": [{"name": "速腾", "model": "SAGITAR"}, {"name": "迈腾", "model": "MAGOTAN"}],
        "dateFormat": "%Y/%m/%d"}}, as_=SALES)
    assert got["setPlanFormat"] == {"ok": True, "errors": []}


async def test_plan_file_to_contract_and_a_changed_plan(api: Api) -> None:
    w = await setup_faw(api)
    await configure_format(api, w)
    today = mill_today()
    days = [(today + timedelta(weeks=k)).strftime("%Y/%m/%d") for k in range(8)]
    rows = [(m, d, str(u)) for d in days for m, u in (("速腾", 2100), ("迈腾", 1400))]

    # Given a plan file in FAW-VW's own format, when it is imported:
    started = await upload(api, "排产计划.csv", faw_csv(rows), as_=FAW)
    assert started["errors"] == []
    job = await finished(api, started["planImport"]["id"], as_=FAW)
    assert job["status"] == "IMPORTED", job
    assert (job["rowsTotal"], job["rowsDone"]) == (16, 16)
    entries = job["productionPlan"]["entries"]["nodes"]
    assert entries[0] == {"model": "MAGOTAN", "periodStart": today.isoformat(), "units": 1400}

    # Then the purchase plan nets it against live stock.
    computed = await api.data(COMPUTE, {"input": {}}, as_=FAW)
    plan_id = computed["computePurchasePlan"]["purchasePlan"]["id"]
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    lines = plan["lines"]["nodes"]
    # 2,100 x 40 kg + 1,400 x 52.5 kg = 157.5 t a week, 22.5 t a day.
    assert {x["grossTonnes"] for x in lines} == {"157.500"}
    first = lines[0]
    # The line in production (120 t confirmed, unshipped) is the only stock.
    assert first["availableTonnes"] == "120.000"
    # 157.5 + 7 x 22.5 + 5 x 22.5 - 120 = 307.5 t: 26 coils of 12 t.
    assert (first["netTonnes"], first["coils"], first["quantityTonnes"]) == (
        "307.500", 26, "312.000")
    assert first["transitDays"] == 7 and first["firmness"] == "FIRM"
    # Stock is already under the safety stock: the first order is needed today, so it
    # should have left the mill a week ago.
    assert first["needDate"] == today.isoformat() and first["releaseOverdue"] is True
    assert not any(x["releaseOverdue"] for x in lines[1:])
    assert [x["firmness"] for x in lines[4:]] == ["COMMITMENT_PRODUCTION"] * 4
    for x in lines:
        if x["coils"]:
            assert (date.fromisoformat(x["needDate"]) - date.fromisoformat(x["releaseDate"])
                    ).days == 7

    # Sales cannot approve what was not submitted; the customer cannot approve at all.
    early = await api.data(APPROVE, {"input": {"planId": plan_id}}, as_=SALES)
    assert early["approvePurchasePlan"]["errors"][0]["code"] == "INVALID_TRANSITION"
    submitted = await api.data(STEP, {"input": {"planId": plan_id}}, as_=FAW)
    assert submitted["submitPurchasePlan"]["purchasePlan"]["status"] == "SUBMITTED"
    own = await api.data(APPROVE, {"input": {"planId": plan_id}}, as_=FAW)
    assert own["approvePurchasePlan"]["errors"][0]["code"] == "FORBIDDEN"

    # The first line, needed today, cannot be made in time: refused until sales accepts it.
    late = await api.data(APPROVE, {"input": {"planId": plan_id}}, as_=SALES)
    assert late["approvePurchasePlan"]["errors"][0]["code"] == "INFEASIBLE"
    approved = await api.data(APPROVE, {"input": {"planId": plan_id, "acceptInfeasible": True}},
                              as_=SALES)
    assert approved["approvePurchasePlan"]["purchasePlan"]["status"] == "CONVERTED"

    # The firm lines are a confirmed contract with production orders, in `contracts`.
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    (contract,) = plan["contracts"]
    assert contract["status"] == "CONFIRMED"
    firm = [x for x in plan["lines"]["nodes"] if x["firmness"] == "FIRM" and x["coils"]]
    assert [x["contractLine"]["quantityT"] for x in firm] == [
        x["quantityTonnes"] for x in firm]
    assert all(x["contractLine"] is None for x in plan["lines"]["nodes"]
               if x["firmness"] != "FIRM")
    assert Decimal(plan["firmTonnes"]) == sum(Decimal(x["quantityTonnes"]) for x in firm)
    need = firm[1]["needDate"]
    assert firm[1]["contractLine"]["deliveryWindow"]["end"] == need
    listed = await api.data(
        """query($n: [String!]) { contracts(filter: {number: $n}) { nodes { number
            lines { progress { currentStage } } } } }""", {"n": [contract["number"]]}, as_=FAW)
    (found,) = listed["contracts"]["nodes"]
    assert found["lines"][0]["progress"]["currentStage"] == "STEELMAKING"
    kinds = [r["event_type"] for r in await api.db.fetch(
        "SELECT event_type FROM domain_event WHERE aggregate_type = 'purchase_plan'"
        " ORDER BY seq")]
    assert kinds == ["purchase_plan.submitted", "purchase_plan.approved",
                     "purchase_plan.converted"]

    sold = await sales_total(api)
    assert sold == Decimal(plan["totalTonnes"])

    # When the car plan changes: more cars in the second week, fewer in the sixth.
    changed = weeks(8, {"SAGITAR": 2100, "MAGOTAN": 1400})
    changed[2]["units"] = 4200
    changed[10]["units"] = 700
    shared = await api.data(SHARE, {"input": {"entries": changed}}, as_=FAW)
    assert shared["shareProductionPlan"]["productionPlan"]["version"] == 2
    plan = (await api.data(PLAN, {"id": plan_id}, as_=FAW))["node"]
    assert plan["productionPlan"]["version"] == 2
    diffs = plan["changes"]["nodes"]
    requested = [d for d in diffs if d["action"] == "CHANGE_REQUESTED"]
    changed_in_place = [d for d in diffs if d["action"] == "CHANGED"]
    assert requested and all(d["requestStatus"] == "OPEN" for d in requested)
    assert changed_in_place and all(d["requestStatus"] is None for d in changed_in_place)
    converted_periods = {x["periodStart"] for x in firm}
    assert {d["periodStart"] for d in requested} <= converted_periods
    # The week before the first changed one is untouched: the plan's own contracts, now
    # confirmed and unshipped, are not netted a second time.
    assert today.isoformat() not in {d["periodStart"] for d in diffs}, diffs
    assert (today + timedelta(weeks=1)).isoformat() in {d["periodStart"] for d in requested}
    # An unconverted line takes the new quantity; a converted one keeps its contract.
    by_period = {x["periodStart"]: x for x in plan["lines"]["nodes"]}
    for d in changed_in_place:
        assert by_period[d["periodStart"]]["quantityTonnes"] == d["afterTonnes"]
    for d in requested:
        assert by_period[d["periodStart"]]["quantityTonnes"] == d["beforeTonnes"]
    # The mill's sales plan follows the changed lines.
    assert await sales_total(api) == sum(Decimal(x["quantityTonnes"])
                                         for x in plan["lines"]["nodes"]) != sold
    events = [r["event_type"] for r in await api.db.fetch(
        "SELECT event_type FROM domain_event WHERE event_type LIKE 'p%' ORDER BY seq")]
    assert events[-2:] == ["production_plan.changed", "purchase_plan.change_requested"]

    answer = await api.data(
        """mutation($input: AnswerChangeRequestInput!) { answerPlanChangeRequest(input: $input)
        { change { requestStatus } errors { code } } }""",
        {"input": {"changeId": requested[0]["id"], "accept": True}}, as_=SALES)
    assert answer["answerPlanChangeRequest"]["change"]["requestStatus"] == "ACCEPTED"


async def test_a_file_with_a_bad_row_imports_nothing(api: Api) -> None:
    w = await setup_faw(api)
    await configure_format(api, w)
    today = mill_today().strftime("%Y/%m/%d")
    rows = [("速腾", today, "100"), ("捷达", today, "50"), ("迈腾", "next week", "10"),
            ("速腾", "2026/13/40", "-3")]
    job = await finished(api, (await upload(api, "plan.csv", faw_csv(rows), as_=FAW))
                         ["planImport"]["id"], as_=FAW)
    assert job["status"] == "FAILED" and job["productionPlan"] is None
    assert job["errors"] == [
        {"row": 3, "column": "车型", "reason": "car model '捷达' is not in the consumption table"},
        {"row": 4, "column": "周开始", "reason": "not a date like %Y/%m/%d"},
        {"row": 5, "column": "周开始", "reason": "not a date like %Y/%m/%d"},
        {"row": 5, "column": "计划产量", "reason": "not a whole number of cars, 0 or more"},
    ]
    assert await api.db.fetchval("SELECT count(*) FROM production_plan") == 0

    missing = await finished(api, (await upload(
        api, "plan.csv", b"model,date\nSAGITAR,2026-01-01\n", as_=FAW))
        ["planImport"]["id"], as_=FAW)
    assert {e["column"] for e in missing["errors"]} == {"车型", "周开始", "计划产量"}
    assert all(e["row"] == 1 for e in missing["errors"])

    pdf = await upload(api, "plan.pdf", b"%PDF-1.7", as_=FAW)
    assert pdf == {"planImport": None, "errors": [
        {"field": "file", "message": "send a .csv or .xlsx file", "code": "INVALID"}]}
    # A file that is no workbook is refused before an import starts.
    fake = await upload(api, "plan.xlsx", b"not a workbook", as_=FAW)
    assert fake == {"planImport": None, "errors": [
        {"field": "file", "message": "the file is not an XLSX workbook", "code": "INVALID"}]}


async def test_xlsx_consumption_table_and_plan_with_standard_headings(api: Api) -> None:
    await build(api.db)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["model", "part_number", "kg_per_car", "yield_allowance_pct"])
    sheet.append(["SAGITAR", "PN-FAW-VW", 40, 5])
    buf = io.BytesIO()
    book.save(buf)
    job = await finished(api, (await upload(api, "bom.xlsx", buf.getvalue(), as_=FAW,
                                            kind="CONSUMPTION"))["planImport"]["id"], as_=FAW)
    assert job["status"] == "IMPORTED", job
    assert await api.db.fetchval("SELECT yield_allowance_pct FROM consumption_rate") == 5

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    # A title and a blank line above the heading, as planners' sheets often have.
    sheet.append(["FAW-VW daily build plan"])
    sheet.append([])
    sheet.append(["model", "period_start", "units", "period_days"])
    start = mill_today()
    for d in range(3):
        sheet.append(["SAGITAR", start + timedelta(days=d), 100, 1])
    sheet.append(["SAGITAR", start + timedelta(days=3), 100.5, 1])
    buf = io.BytesIO()
    book.save(buf)
    job = await finished(api, (await upload(api, "plan.xlsx", buf.getvalue(), as_=FAW))
                         ["planImport"]["id"], as_=FAW)
    assert job["errors"] == [{"row": 7, "column": "units",
                              "reason": "not a whole number of cars, 0 or more"}]
    sheet.delete_rows(7)
    buf = io.BytesIO()
    book.save(buf)
    job = await finished(api, (await upload(api, "plan.xlsx", buf.getvalue(), as_=FAW))
                         ["planImport"]["id"], as_=FAW)
    assert job["status"] == "IMPORTED", job
    assert len(job["productionPlan"]["entries"]["nodes"]) == 3


async def test_reject_with_a_reason_then_recompute(api: Api) -> None:
    w = await setup_faw(api)
    profile = """mutation($input: SetPlanningProfileInput!) { setPlanningProfile(input: $input)
        { ok errors { field code } } }"""
    faw = to_global_id("Organization", w.org["FAW-VW"])
    refused = await api.data(profile, {"input": {"customerId": faw, "firmDays": 14}}, as_=FAW)
    assert refused["setPlanningProfile"]["errors"][0]["code"] == "FORBIDDEN"
    bad = await api.data(profile, {"input": {"customerId": faw, "firmDays": 60}}, as_=SALES)
    assert bad["setPlanningProfile"]["errors"] == [{"field": "firmDays", "code": "INVALID"}]
    done = await api.data(profile, {"input": {"customerId": faw, "firmDays": 7}}, as_=SALES)
    assert done["setPlanningProfile"]["ok"] is True
    await api.data(SHARE, {"input": {"entries": weeks(4, {"SAGITAR": 1000})}}, as_=FAW)
    plan_id = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    await api.data(STEP, {"input": {"planId": plan_id}}, as_=FAW)
    again = await api.data(COMPUTE, {"input": {}}, as_=FAW)
    assert again["computePurchasePlan"]["errors"][0]["code"] == "CONFLICT"
    # The car plan changes while sales decides: the submitted plan says it is stale.
    await api.data(SHARE, {"input": {"entries": weeks(4, {"SAGITAR": 1200})}}, as_=FAW)
    stale = """query($id: ID!) { node(id: $id) { ... on PurchasePlan { isStale } } }"""
    assert (await api.data(stale, {"id": plan_id}, as_=SALES))["node"] == {"isStale": True}
    mine = await api.data("""query($c: ID) { purchasePlans(customerId: $c) { nodes { id } } }""",
                          {"c": to_global_id("Organization", w.org["FAW-VW"])}, as_=SALES)
    assert mine["purchasePlans"]["nodes"] == [{"id": plan_id}]
    other = await api.data("""query($c: ID) { purchasePlans(customerId: $c) { nodes { id } } }""",
                           {"c": to_global_id("Organization", w.org["GALANZ"])}, as_=SALES)
    assert other["purchasePlans"]["nodes"] == []
    blank = await api.data(REJECT, {"input": {"planId": plan_id, "reason": " "}}, as_=SALES)
    assert blank["rejectPurchasePlan"]["errors"][0]["field"] == "reason"
    rejected = await api.data(REJECT, {"input": {"planId": plan_id,
                                                 "reason": "capacity in week 2"}}, as_=SALES)
    assert rejected["rejectPurchasePlan"]["purchasePlan"] == {
        "id": plan_id, "status": "REJECTED", "rejectReason": "capacity in week 2"}
    firmness = """query($id: ID!) { node(id: $id) { ... on PurchasePlan {
        lines { nodes { firmness } } } } }"""
    lines = (await api.data(firmness, {"id": plan_id}, as_=FAW))["node"]["lines"]["nodes"]
    assert [x["firmness"] for x in lines] == ["FIRM"] + ["COMMITMENT_PRODUCTION"] * 3
    recomputed = await api.data(COMPUTE, {"input": {}}, as_=FAW)
    assert recomputed["computePurchasePlan"]["purchasePlan"] == {"id": plan_id,
                                                                 "status": "COMPUTED"}
    assert (await api.data(stale, {"id": plan_id}, as_=FAW))["node"] == {"isStale": False}


async def test_another_customer_sees_nothing_and_cannot_act(api: Api) -> None:
    w = await setup_faw(api)
    await api.data(SHARE, {"input": {"entries": weeks(2, {"SAGITAR": 1000})}}, as_=FAW)
    plan_id = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    assert (await api.data(PLAN, {"id": plan_id}, as_=GALANZ))["node"] is None
    job = (await upload(api, "plan.csv", b"model,period_start,units\n", as_=FAW))[
        "planImport"]["id"]
    production = to_global_id("ProductionPlan", await api.db.fetchval(
        "SELECT id FROM production_plan WHERE customer_org_id = $1", w.org["FAW-VW"]))
    node = "query($id: ID!) { node(id: $id) { __typename id } }"
    for gid, kind in ((plan_id, "PurchasePlan"), (job, "PlanImport"),
                      (production, "ProductionPlan")):
        assert (await api.data(node, {"id": gid}, as_=FAW))["node"]["__typename"] == kind
        stolen = await api.query(node, {"id": gid}, as_=GALANZ)
        missing = await api.query(node, {"id": to_global_id(kind, 10**9)}, as_=GALANZ)
        assert stolen == missing == {"data": {"node": None}}, kind
    stolen = await api.data(STEP, {"input": {"planId": plan_id}}, as_=GALANZ)
    assert stolen["submitPurchasePlan"]["errors"][0]["code"] == "NOT_FOUND"
    by_sales = await api.data(STEP, {"input": {"planId": plan_id}}, as_=SALES)
    assert by_sales["submitPurchasePlan"]["errors"][0]["code"] == "FORBIDDEN"
    faw_id = to_global_id("Organization", w.org["FAW-VW"])
    for_other = await api.data(COMPUTE, {"input": {"customerId": faw_id}}, as_=GALANZ)
    assert for_other["computePurchasePlan"]["errors"][0]["code"] == "NOT_FOUND"
    reject = await api.data(REJECT, {"input": {"planId": plan_id, "reason": "no"}}, as_=FAW)
    assert reject["rejectPurchasePlan"]["errors"][0]["code"] == "FORBIDDEN"
    as_logistics = await api.data(APPROVE, {"input": {"planId": plan_id}},
                                  as_=token("BAOSTEEL", "logistics"))
    assert as_logistics["approvePurchasePlan"]["errors"][0]["code"] == "FORBIDDEN"
    computed_by_sales = await api.data(COMPUTE, {"input": {"customerId": faw_id}}, as_=SALES)
    assert computed_by_sales["computePurchasePlan"]["purchasePlan"]["id"] == plan_id
    listed = await api.data("{ purchasePlans { nodes { id } } }", as_=GALANZ)
    assert listed["purchasePlans"]["nodes"] == []
    faw = to_global_id("Organization", w.org["FAW-VW"])
    peek = await api.data("""query($c: ID) { productionPlan(customerId: $c) { version }
        supplyChainStock(customerId: $c) { warehouseTonnes } }""", {"c": faw}, as_=GALANZ)
    assert peek == {"productionPlan": None, "supplyChainStock": []}
    staff = await api.data("""query($c: ID) { productionPlan(customerId: $c) { version } }""",
                           {"c": faw}, as_=SALES)
    assert staff["productionPlan"] == {"version": 1}
    bad = await api.data(SHARE, {"input": {"entries": weeks(1, {"POLO": 5})}}, as_=FAW)
    assert bad["shareProductionPlan"]["errors"][0]["message"] == (
        "car model 'POLO' is not in the consumption table")


async def test_supply_chain_stock_view(api: Api) -> None:
    w = await setup_faw(api)
    await api.data(SHARE, {"input": {"entries": weeks(2, {"SAGITAR": 700})}}, as_=FAW)
    spec = to_global_id("SteelSpec", w.spec["FAW-VW"])
    got = await api.data("""mutation($input: ReportStockInput!) { reportStock(input: $input)
        { ok errors { message } } }""", {"input": {"specId": spec, "consumedTonnes": "1",
                                                    "allocatedTonnes": "2"}}, as_=FAW)
    assert got["reportStock"]["ok"] is True
    # One coil of the line received at the customer's warehouse.
    device = await api.db.fetchval(
        "INSERT INTO device (code, kind, site_id) VALUES ('SCAN-WH', 'scanner', $1) RETURNING id",
        w.site["FAW-VW"])
    await api.db.execute(
        "INSERT INTO scan_event (device_id, code, coil_id, step, site_id, scanned_at,"
        " received_at) VALUES ($1, 'FAW-VW-0', $2, 'receiving', $3, now(), now())",
        device, w.coils["FAW-VW"][0], w.site["FAW-VW"])
    view = await api.data("""{ supplyChainStock { spec { code } millWipTonnes
        millFinishedTonnes inTransitTonnes warehouseTonnes unshippedTonnes allocatedTonnes
        positionTonnes dailyDemandTonnes safetyDays daysOfCover belowSafety } }""", as_=FAW)
    (line,) = view["supplyChainStock"]
    assert line == {
        "spec": {"code": "SP-FAW-VW"}, "millWipTonnes": "108.300",
        "millFinishedTonnes": "7.800", "inTransitTonnes": "0.000",
        "warehouseTonnes": "2.900", "unshippedTonnes": "120.000", "allocatedTonnes": "2.000",
        "positionTonnes": "120.900", "dailyDemandTonnes": "4.000", "safetyDays": "5.00",
        "daysOfCover": "0.7", "belowSafety": True,
    }


async def long_plan_file(api: Api) -> tuple[World, bytes]:
    """A daily plan of 20 models over 150 days: 3,000 rows, six steps of progress."""
    w = await build(api.db)
    models = [f"M{i:02d}" for i in range(20)]
    await api.data(SET_TABLE, {"input": {"rates": [
        {"model": m, "spec": "PN-FAW-VW", "kgPerCar": "10"} for m in models]}}, as_=FAW)
    start = mill_today()
    lines = ["model,period_start,units,period_days"] + [
        f"{m},{(start + timedelta(days=d)).isoformat()},{100 + d},1"
        for d in range(150) for m in models]
    return w, ("\n".join(lines) + "\n").encode()


async def test_a_long_import_shows_its_progress(api: Api) -> None:
    w, content = await long_plan_file(api)
    org = w.org["FAW-VW"]
    job = await imports.start(api.db, org, "plan", "long.csv", actor=Actor.system("planner"))
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(await api.db.fetchval(
                "SELECT rows_done FROM plan_import WHERE id = $1", job))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        await imports.run(api.db, job, org, "plan", "long.csv", content, actor="planner")
    finally:
        watcher.cancel()
    state = await api.db.fetchrow("SELECT status, rows_done, rows_total FROM plan_import"
                                  " WHERE id = $1", job)
    assert state is not None and tuple(state) == ("imported", 3000, 3000)
    assert any(0 < n < 3000 for n in seen), seen
    assert seen == sorted(seen)


async def test_the_design_example_from_live_stock(api: Api) -> None:
    """The worked example with its stock made of real records: 320 t at the
    warehouse (324 t received by scan, 4 t reported consumed), 180 t on a shipment under
    way, 250 t confirmed and not yet shipped."""
    w = await setup_faw(api)
    org, line, spec = w.org["FAW-VW"], w.line["FAW-VW"], w.spec["FAW-VW"]
    await api.db.execute("UPDATE contract_line SET quantity_t = 1000, shipped_t = 750"
                         " WHERE id = $1", line)
    coils = []
    for i in range(27 + 15):
        coils.append(await api.db.fetchval(
            "INSERT INTO coil (coil_no, kind, heat_id, spec_id, line_id, customer_org_id,"
            " thickness_mm, width_mm, weight_kg, produced_at) VALUES ($1, 'cold_rolled', $2,"
            " $3, $4, $5, 0.8, 1250, 12000, now()) RETURNING id",
            f"X{i:03d}", w.heat, spec, line, org))
    device = await api.db.fetchval(
        "INSERT INTO device (code, kind, site_id) VALUES ('WH-1', 'scanner', $1) RETURNING id",
        w.site["FAW-VW"])
    await api.db.executemany(
        "INSERT INTO scan_event (device_id, code, coil_id, step, site_id, scanned_at,"
        " received_at) VALUES ($1, $2, $3, 'receiving', $4, now(), now())",
        [(device, f"X{i:03d}", c, w.site["FAW-VW"]) for i, c in enumerate(coils[:27])])
    shipment = await api.db.fetchval(
        "INSERT INTO shipment (number, status) VALUES ('SH-1', 'in_transit') RETURNING id")
    leg = await api.db.fetchval(
        "INSERT INTO shipment_leg (shipment_id, seq, mode, origin_site_id,"
        " destination_site_id, planned_departure, planned_arrival, status) VALUES"
        " ($1, 1, 'rail', $2, $3, now(), now() + interval '5 days', 'in_transit') RETURNING id",
        shipment, w.site["plant"], w.site["FAW-VW"])
    await api.db.executemany("INSERT INTO leg_coil VALUES ($1, $2)",
                             [(leg, c) for c in coils[27:]])
    spec_gid = to_global_id("SteelSpec", spec)
    await api.data("""mutation($input: ReportStockInput!) { reportStock(input: $input)
        { ok } }""", {"input": {"specId": spec_gid, "consumedTonnes": "4"}}, as_=FAW)

    start = mill_today()
    await api.data(SHARE, {"input": {"entries": [
        {"model": "SAGITAR", "periodStart": start.isoformat(), "units": 12000, "periodDays": 30},
        {"model": "MAGOTAN", "periodStart": start.isoformat(), "units": 8000, "periodDays": 30},
    ]}}, as_=FAW)
    plan_id = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    got = await api.data("""query($id: ID!, $spec: ID!) { node(id: $id) { ... on PurchasePlan {
        lines { nodes { grossTonnes dailyTonnes safetyTonnes leadTimeTonnes availableTonnes
                        netTonnes coils quantityTonnes releaseDate needDate } }
        stockCurve(specId: $spec) { warehouseTonnes inTransitTonnes unshippedTonnes
            positionTonnes days { day stockTonnes receiptTonnes } } } } }""",
        {"id": plan_id, "spec": spec_gid}, as_=FAW)
    (line_,) = got["node"]["lines"]["nodes"]
    assert line_ == {
        "grossTonnes": "900.000", "dailyTonnes": "30.000", "safetyTonnes": "150.000",
        "leadTimeTonnes": "210.000", "availableTonnes": "750.000", "netTonnes": "510.000",
        "coils": 43, "quantityTonnes": "516.000",
        "releaseDate": (start + timedelta(days=13)).isoformat(),
        "needDate": (start + timedelta(days=20)).isoformat(),
    }
    curve = got["node"]["stockCurve"]
    assert (curve["warehouseTonnes"], curve["inTransitTonnes"], curve["unshippedTonnes"],
            curve["positionTonnes"]) == ("320.000", "180.000", "250.000", "750.000")
    assert len(curve["days"]) == 30
    assert curve["days"][20]["receiptTonnes"] == "516.000"
    assert curve["days"][19]["stockTonnes"] == "150.000"


async def test_the_sample_file_of_the_readme_imports_with_the_demo_format(api: Api) -> None:
    w = await build(api.db)
    await api.data(SET_TABLE, {"input": {"rates": [
        {"model": m, "spec": "PN-FAW-VW", "kgPerCar": "40"} for m in demo_planning.WEEKLY]}},
        as_=FAW)
    await api.db.execute(
        "INSERT INTO plan_format (customer_org_id, columns, models, updated_by)"
        " VALUES ($1, $2, $3, 'staff')", w.org["FAW-VW"], demo_planning.FORMAT,
        demo_planning.MODEL_NAMES)
    content = (Path(__file__).parents[1] / "data" / "planning" / "faw-vw-plan.csv").read_bytes()
    # The request exactly as README.md shows it with curl.
    readme = ('{"query": "mutation($f: Upload!) { importPlanFile(input: {file: $f}) {'
              ' planImport { id status } errors { message } } }", "variables": {"f": null}}')
    r = await api.client.post(
        "/graphql", headers={"authorization": f"Bearer {FAW}"},
        data={"operations": readme, "map": '{"0": ["variables.f"]}'},
        files={"0": ("faw-vw-plan.csv", content, "text/csv")})
    started = r.json()["data"]["importPlanFile"]
    assert started["errors"] == []
    job = await finished(api, started["planImport"]["id"], as_=FAW)
    assert (job["status"], job["rowsTotal"], job["errors"]) == ("IMPORTED", 16, [])
    entries = job["productionPlan"]["entries"]["nodes"]
    assert {e["model"] for e in entries} == set(demo_planning.WEEKLY)


async def test_approval_without_a_price_leaves_the_plan_submitted(api: Api) -> None:
    await setup_faw(api)
    spec = await api.db.fetchval(
        "INSERT INTO steel_spec (code, grade, standard, product, thickness_mm, width_mm)"
        " VALUES ('BS-DC01', 'DC01', 'EN 10130', 'cold_rolled', 1.0, 1250) RETURNING id")
    await api.data(SET_TABLE, {"input": {"rates": [
        {"model": "SAGITAR", "spec": "PN-FAW-VW", "kgPerCar": "40"},
        {"model": "SAGITAR", "spec": "BS-DC01", "kgPerCar": "12"}]}}, as_=FAW)
    await api.data(SHARE, {"input": {"entries": weeks(2, {"SAGITAR": 2000})}}, as_=FAW)
    plan_id = (await api.data(COMPUTE, {"input": {}}, as_=FAW))[
        "computePurchasePlan"]["purchasePlan"]["id"]
    await api.data(STEP, {"input": {"planId": plan_id}}, as_=FAW)
    refused = await api.data(APPROVE, {"input": {"planId": plan_id}}, as_=SALES)
    (error,) = refused["approvePurchasePlan"]["errors"]
    assert error["code"] == "INVALID" and error["field"].endswith("unitPrice")
    plan = (await api.data(PLAN, {"id": plan_id}, as_=SALES))["node"]
    assert plan["status"] == "SUBMITTED" and plan["contracts"] == []
    assert await api.db.fetchval("SELECT count(*) FROM contract") == 2

    priced = await api.data(APPROVE, {"input": {"planId": plan_id, "acceptInfeasible": True,
        "unitPrices": [{"specId": to_global_id("SteelSpec", spec), "unitPrice": "4950.00"}]}},
        as_=SALES)
    assert priced["approvePurchasePlan"]["purchasePlan"]["status"] == "CONVERTED"
    prices = {r["spec_id"]: r["unit_price"] for r in await api.db.fetch(
        "SELECT spec_id, unit_price FROM contract_line WHERE status = 'confirmed'")}
    assert prices[spec] == Decimal("4950.00")


async def test_the_demo_has_a_faw_vw_purchase_plan_to_explore(demo_api: Api) -> None:
    got = await demo_api.data("""{ productionPlan { version horizonStart horizonEnd }
        purchasePlans { nodes { status totalTonnes firmTonnes
            lines(first: 100, firmness: FIRM) { nodes { spec { customerPartNumber }
                coils quantityTonnes releaseDate transitDays } } } }
        supplyChainStock { spec { customerPartNumber } dailyDemandTonnes safetyDays } }""",
        as_=FAW)
    assert got["productionPlan"]["version"] == 1
    (plan,) = got["purchasePlans"]["nodes"]
    assert plan["status"] == "COMPUTED" and Decimal(plan["totalTonnes"]) > 0
    firm = plan["lines"]["nodes"]
    assert firm and all(x["transitDays"] == 7 for x in firm)
    assert {x["spec"]["customerPartNumber"] for x in firm} == set(
        part for parts in demo_planning.CONSUMPTION.values() for part in parts)
    stock = got["supplyChainStock"]
    assert all(Decimal(s["dailyDemandTonnes"]) > 0 for s in stock)
    galanz = await demo_api.data("{ purchasePlans { nodes { id } } }", as_=GALANZ)
    assert galanz["purchasePlans"]["nodes"] == []


async def test_only_the_customer_side_keeps_planning_inputs(api: Api) -> None:
    w = await setup_faw(api)
    faw = to_global_id("Organization", w.org["FAW-VW"])
    spec = to_global_id("SteelSpec", w.spec["FAW-VW"])
    site = to_global_id("Site", w.site["FAW-VW"])
    stock = """mutation($input: ReportStockInput!) { reportStock(input: $input)
        { ok errors { field message code } } }"""
    production = token("BAOSTEEL", "production", subject="production.mill")
    customer_side = "this needs the role customer or sales or admin"
    cases = [
        (SET_TABLE, "setConsumptionTable", {"rates": [
            {"model": "SAGITAR", "spec": "PN-FAW-VW", "kgPerCar": "1"}]}, production,
         customer_side),
        (SET_PARAMS, "setPlanningParameters", {"specId": spec, "safetyDays": "1"}, production,
         customer_side),
        (SET_CYCLE, "setTransportCycle", {"siteId": site, "transportMode": "RAIL",
                                          "cycleDays": 1}, production, customer_side),
        (stock, "reportStock", {"specId": spec, "consumedTonnes": "1",
                                "allocatedTonnes": "2"}, production, customer_side),
        (SHARE, "shareProductionPlan", {"entries": weeks(1, {"SAGITAR": 5})}, production,
         customer_side),
        (SET_FORMAT, "setPlanFormat", {"columns": [{"field": "model", "column": "m"}],
                                       "models": []}, FAW,
         "this needs the role sales or admin"),
    ]
    for mutation, name, given, who, message in cases:
        body = await api.data(mutation, {"input": {**given, "customerId": faw}}, as_=who)
        [error] = body[name]["errors"]
        assert (error["code"], error["message"]) == ("FORBIDDEN", message), name
    org = w.org["FAW-VW"]
    assert await api.db.fetchval(
        "SELECT array_agg(kg_per_car ORDER BY kg_per_car)::text FROM consumption_rate"
        " WHERE customer_org_id = $1", org) == "{40.000,52.500}"
    assert await api.db.fetchval(
        "SELECT (SELECT count(*) FROM stock_report WHERE customer_org_id = $1)"
        " + (SELECT count(*) FROM production_plan WHERE customer_org_id = $1)"
        " + (SELECT count(*) FROM plan_format WHERE customer_org_id = $1)", org) == 0
    assert await api.db.fetchval(
        "SELECT cycle_days FROM transport_cycle WHERE customer_org_id = $1", org) == 7
