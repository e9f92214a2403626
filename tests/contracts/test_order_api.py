"""`createContract` over GraphQL: a customer's draft order takes its defaults; sales enters
and confirms one for a customer; bad lines come back as typed errors naming the field."""

from __future__ import annotations

from datetime import timedelta

from domain.calendar import mill_today
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import World, build

CREATE = """mutation($input: CreateContractInput!) { createContract(input: $input) {
    contract { number status currency salesOwner customer { code }
      lines { lineNo quantityT unitPrice transportMode transitDays firmness status
              deliveryWindow { start end } deliverySite { code } progress { stageCount } } }
    errors { field message code } } }"""


def _line(w: World, cust: str = "FAW-VW", **extra: object) -> dict[str, object]:
    start = mill_today() + timedelta(days=45)
    return {"specId": to_global_id("SteelSpec", w.spec[cust]), "quantityT": "96",
            "deliveryFrom": start.isoformat(),
            "deliveryTo": (start + timedelta(days=10)).isoformat(), **extra}


async def test_a_customer_orders_a_draft_with_its_defaults(api: Api) -> None:
    w = await build(api.db)
    await api.db.execute("UPDATE contract SET sales_owner = 'sales.zhang' WHERE id = $1",
                         w.contract["FAW-VW"])
    await api.db.execute(
        "INSERT INTO transport_preference (org_id, site_id, transport_mode, transit_days)"
        " VALUES ($1, $2, 'road', 2)", w.org["FAW-VW"], w.site["FAW-VW"])
    body = await api.data(CREATE, {"input": {"lines": [
        _line(w), _line(w, unitPrice="5300", transportMode="WATER", firmness="FORECAST")]}},
        as_=token("FAW-VW"))
    made = body["createContract"]
    assert made["errors"] == []
    c = made["contract"]
    assert (c["status"], c["currency"], c["salesOwner"], c["customer"]) == (
        "DRAFT", "CNY", "sales.zhang", {"code": "FAW-VW"})
    first, second = c["lines"]
    assert (first["unitPrice"], first["transportMode"], first["transitDays"],
            first["deliverySite"], first["status"], first["progress"]) == (
        "5200.50", "ROAD", 2, {"code": "WH-FAW-VW"}, "DRAFT", None)
    assert (second["unitPrice"], second["transportMode"], second["transitDays"],
            second["firmness"]) == ("5300.00", "WATER", 10, "FORECAST")

    confirm = await api.data(CREATE, {"input": {"lines": [_line(w)], "confirm": True}},
                             as_=token("FAW-VW"))
    assert confirm["createContract"]["errors"][0] == {
        "field": "confirm", "code": "FORBIDDEN",
        "message": "the mill confirms contracts: leave confirm out"}
    other = await api.data(CREATE, {"input": {"lines": [_line(w, "GALANZ")]}},
                           as_=token("FAW-VW"))
    assert other["createContract"]["errors"][0]["field"] == "lines.0.specId"


async def test_sales_enters_and_confirms_for_a_customer(api: Api) -> None:
    w = await build(api.db)
    sales = token("BAOSTEEL", "sales", subject="sales.liu")
    galanz = to_global_id("Organization", w.org["GALANZ"])
    missing = await api.data(CREATE, {"input": {"lines": [_line(w, "GALANZ")]}}, as_=sales)
    assert missing["createContract"]["errors"][0]["field"] == "customerId"
    body = await api.data(CREATE, {"input": {
        "customerId": galanz, "confirm": True, "salesOwner": "sales.liu",
        "lines": [_line(w, "GALANZ")]}}, as_=sales)
    c = body["createContract"]["contract"]
    assert c["status"] == "CONFIRMED" and c["salesOwner"] == "sales.liu"
    assert c["lines"][0]["status"] == "CONFIRMED" and c["lines"][0]["progress"]["stageCount"] > 5
    seen = await api.data("query($n: String!) { contract(number: $n) { status } }",
                          {"n": c["number"]}, as_=token("GALANZ"))
    assert seen["contract"] == {"status": "CONFIRMED"}
    assert (await api.data("query($n: String!) { contract(number: $n) { status } }",
                           {"n": c["number"]}, as_=token("FAW-VW")))["contract"] is None

    bad = await api.data(CREATE, {"input": {"customerId": galanz, "lines": [
        _line(w, "GALANZ", quantityT="-5")]}}, as_=sales)
    assert bad["createContract"]["errors"] == [{
        "field": "lines.0.quantityT", "code": "INVALID",
        "message": "quantity must be a positive number of tonnes"}]
    production = await api.data(CREATE, {"input": {"customerId": galanz, "lines": [
        _line(w, "GALANZ")]}}, as_=token("BAOSTEEL", "production"))
    assert production["createContract"]["errors"][0]["code"] == "FORBIDDEN"
