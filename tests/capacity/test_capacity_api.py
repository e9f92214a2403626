"""The stages' capacity over GraphQL, and the order enquiry against what is booked."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.capacity import atp
from domain.contracts.model import MIN_PRODUCTION_TIME
from domain.contracts.stage_routes import plan_stages
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import TODAY, build

SET = """mutation($input: SetStageCapacityInput!) { setStageCapacity(input: $input) {
    entries { stage weekStart capacityT bookedT availableT setBy }
    errors { field code message } } }"""
READ = """query($from: Date, $weeks: Int!, $stages: [ProductionStage!]) {
    stageCapacity(from: $from, weeks: $weeks, stages: $stages) {
      stage weekStart capacityT bookedT availableT } }"""
ENQUIRY = """query($input: OrderEnquiryInput!) { orderEnquiry(input: $input) {
    customer { code } spec { code } deliverySite { code } quantityT transportMode transitDays
    deliverBy feasible reason earliestDelivery plannedFinish
    stages { stage weekStart capacityT bookedT availableT neededT short }
    prices { currency meanUnitPrice12m tonnes12m lines12m last { contractNumber unitPrice } }
    credit { headroom }
    quality { coils certified mechanical { property n mean cpk } } } }"""
PRODUCTION = token("BAOSTEEL", "production", subject="planner.li")
SALES = token("BAOSTEEL", "sales", subject="sales.zhang")
FAW = token("FAW-VW", subject="buyer.faw")
GALANZ = token("GALANZ", subject="buyer.galanz")
MONDAY = atp.monday(TODAY)


def week(n: int) -> str:
    return (MONDAY + timedelta(weeks=n)).isoformat()


def every_stage(weeks: int, tonnes: str) -> list[dict[str, Any]]:
    stages = ["STEELMAKING", "CASTING", "HOT_ROLLING", "PICKLING", "COLD_ROLLING", "ANNEALING",
              "COATING", "FINISHING", "INSPECTION", "PACKING", "WAREHOUSED"]
    return [{"stage": s, "weekStart": week(w), "capacityT": tonnes}
            for w in range(weeks) for s in stages]


async def test_production_planning_sets_capacity_and_only_it(api: Api) -> None:
    await build(api.db)
    one = [{"stage": "COLD_ROLLING", "weekStart": week(1), "capacityT": "3600"}]
    for who in (SALES, FAW):
        got = (await api.data(SET, {"input": {"entries": one}}, as_=who))["setStageCapacity"]
        assert got["entries"] is None and got["errors"][0]["code"] == "FORBIDDEN"
    tuesday = (MONDAY + timedelta(days=1)).isoformat()
    bad = await api.data(SET, {"input": {"entries": [
        *one, {"stage": "ANNEALING", "weekStart": tuesday, "capacityT": "1"}]}}, as_=PRODUCTION)
    assert bad["setStageCapacity"]["errors"] == [{
        "field": "entries.1.weekStart", "code": "INVALID", "message": "a week starts on a Monday"}]
    assert await api.db.fetchval("SELECT count(*) FROM stage_capacity") == 0

    got = (await api.data(SET, {"input": {"entries": one}}, as_=PRODUCTION))["setStageCapacity"]
    assert got["errors"] == []
    assert got["entries"] == [{"stage": "COLD_ROLLING", "weekStart": week(1),
                               "capacityT": "3600.000", "bookedT": got["entries"][0]["bookedT"],
                               "availableT": got["entries"][0]["availableT"],
                               "setBy": "planner.li"}]
    again = [{**one[0], "capacityT": "3000"}]
    await api.data(SET, {"input": {"entries": again}}, as_=PRODUCTION)
    rows = (await api.data(READ, {"from": week(1), "weeks": 1, "stages": ["COLD_ROLLING"]},
                           as_=SALES))["stageCapacity"]
    assert [(r["stage"], r["capacityT"]) for r in rows] == [("COLD_ROLLING", "3000.000")]
    # A customer is not shown the mill's figures.
    refused = await api.query(READ, {"weeks": 2}, as_=FAW)
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_booked_load_is_what_confirmed_lines_still_take(api: Api) -> None:
    await build(api.db)  # each customer has a line of 120 t in production
    rows = (await api.data(READ, {"weeks": 6}, as_=SALES))["stageCapacity"]
    booked: dict[str, Decimal] = {}
    for r in rows:
        booked[r["stage"]] = booked.get(r["stage"], Decimal(0)) + Decimal(r["bookedT"])
        assert r["capacityT"] is None and r["availableT"] is None
    # Steelmaking is recorded complete: nothing left of it; later stages are still to come.
    assert booked["STEELMAKING"] == 0
    assert booked["COLD_ROLLING"] > 0 and booked["COATING"] > 0
    assert booked["WAREHOUSED"] == Decimal(240)


async def test_the_enquiry_answers_earliest_window_prices_and_quality(api: Api) -> None:
    w = await build(api.db)
    await api.data(SET, {"input": {"entries": every_stage(27, "5000")}}, as_=PRODUCTION)
    ask = {"specCode": "SP-FAW-VW", "quantityT": "300"}
    got = (await api.data(ENQUIRY, {"input": ask}, as_=FAW))["orderEnquiry"]
    assert got["customer"] == {"code": "FAW-VW"} and got["spec"] == {"code": "SP-FAW-VW"}
    assert got["deliverySite"] == {"code": "WH-FAW-VW"}
    assert (got["transportMode"], got["transitDays"]) == ("RAIL", 7)
    shortest = TODAY + MIN_PRODUCTION_TIME
    assert got["feasible"] is None
    assert got["earliestDelivery"] == (shortest + timedelta(days=7)).isoformat()
    # A customer reads what is left, never the capacity or what others booked.
    assert got["stages"] and all(s["capacityT"] is None and s["bookedT"] is None
                                 for s in got["stages"])
    assert sum(Decimal(s["neededT"]) for s in got["stages"] if s["stage"] == "WAREHOUSED") \
        == Decimal(300)
    assert got["prices"]["currency"] == "CNY"
    assert got["prices"]["last"] == [{"contractNumber": "C-FAW-VW", "unitPrice": "5200.50"}]
    assert got["prices"]["meanUnitPrice12m"] == "5200.50"
    # No limit set: no headroom, and no check.
    assert got["credit"] == {"headroom": None}
    assert got["quality"]["coils"] == 3 and got["quality"]["certified"] == 1

    # Finance's limit, shown to the customer: the headroom is finance's own figure.
    finance = token("BAOSTEEL", "finance", subject="finance.wang")
    faw = to_global_id("Organization", w.org["FAW-VW"])
    limit = """mutation($input: SetCreditLimitInput!) { setCreditLimit(input: $input) {
        credit { headroom } errors { message } } }"""
    for shown in (False, True):
        done = (await api.data(limit, {"input": {"customerId": faw, "limit": "2000000.00",
                                                 "shownToCustomer": shown}},
                               as_=finance))["setCreditLimit"]
        assert done["errors"] == []
        seen = (await api.data(ENQUIRY, {"input": ask}, as_=FAW))["orderEnquiry"]["credit"]
        assert seen == {"headroom": done["credit"]["headroom"] if shown else None}
    assert Decimal(done["credit"]["headroom"]) < Decimal("2000000.00")

    # Cold rolling down to 100 t in the weeks the shortest route rolls: a later window.
    plans = plan_stages("cold_rolled", Decimal(300), TODAY, shortest)
    rolling = next(p for p in plans if p.stage == "cold_rolling")
    short = sorted({atp.monday(rolling.planned_start), atp.monday(rolling.planned_end)})
    await api.data(SET, {"input": {"entries": [
        {"stage": "COLD_ROLLING", "weekStart": d.isoformat(), "capacityT": "100"}
        for d in short]}}, as_=PRODUCTION)
    by = (shortest + timedelta(days=7)).isoformat()
    late = (await api.data(ENQUIRY, {"input": {**ask, "deliverBy": by}}, as_=FAW))["orderEnquiry"]
    assert late["feasible"] is False and "cold_rolling is" in late["reason"]
    assert late["earliestDelivery"] > by
    assert late["plannedFinish"] == (
        date.fromisoformat(late["earliestDelivery"]) - timedelta(days=7)).isoformat()
    later = (await api.data(ENQUIRY, {"input": {**ask, "deliverBy": late["earliestDelivery"]}},
                            as_=FAW))["orderEnquiry"]
    assert later["feasible"] is True and later["reason"] is None

    # The mill's staff ask for a customer, and see the figures.
    staff = (await api.data(ENQUIRY, {"input": {
        **ask, "customerId": to_global_id("Organization", w.org["FAW-VW"])}},
        as_=SALES))["orderEnquiry"]
    assert any(s["capacityT"] is not None for s in staff["stages"])
    missing = await api.query(ENQUIRY, {"input": ask}, as_=SALES)
    assert missing["errors"][0]["message"] == "say which customer: give customerId"


async def test_a_customer_enquires_for_itself_only(api: Api) -> None:
    w = await build(api.db)
    ask = {"specCode": "SP-FAW-VW", "quantityT": "30"}
    # GALANZ may not order FAW-VW's own spec, nor ask for FAW-VW.
    theirs = await api.query(ENQUIRY, {"input": ask}, as_=GALANZ)
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    as_faw = await api.query(ENQUIRY, {"input": {
        "specCode": "SP-GALANZ", "quantityT": "30",
        "customerId": to_global_id("Organization", w.org["FAW-VW"])}}, as_=GALANZ)
    unknown = await api.query(ENQUIRY, {"input": {
        "specCode": "SP-GALANZ", "quantityT": "30",
        "customerId": to_global_id("Organization", 2**40)}}, as_=GALANZ)
    assert as_faw["errors"][0]["message"] == unknown["errors"][0]["message"]
    own = (await api.data(ENQUIRY, {"input": {"specCode": "SP-GALANZ", "quantityT": "30"}},
                          as_=GALANZ))["orderEnquiry"]
    assert own["customer"] == {"code": "GALANZ"}
    assert [p["contractNumber"] for p in own["prices"]["last"]] == ["C-GALANZ"]
    assert own["quality"]["coils"] == 3  # its own three, not FAW-VW's of the same heat
    bad = await api.query(ENQUIRY, {"input": {**ask, "quantityT": "0"}}, as_=FAW)
    assert bad["errors"][0]["extensions"]["code"] == "INVALID"
