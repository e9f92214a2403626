"""The demo case carries each customer's own way of working and a hotline in use."""

from __future__ import annotations

from tests.support.api import Api

FORM = """{ orderForm { defaults { deliverySite { code } transportMode transitDays language }
    deliverySites { site { code } transportMode transitDays default } } }"""


async def test_demo_customers_prefer_rail_and_water(demo_api: Api,
                                                    tokens: dict[str, str]) -> None:
    faw = (await demo_api.data(FORM, as_=tokens["faw"]))["orderForm"]
    assert faw["defaults"] == {"deliverySite": {"code": "FAWVW-CC-WH"}, "transportMode": "RAIL",
                               "transitDays": 7, "language": "zh-CN"}
    routes = {s["site"]["code"]: (s["transportMode"], s["transitDays"])
              for s in faw["deliverySites"]}
    assert routes["CHANGCHUN-RAIL"] == ("RAIL", 6)
    assert "GALANZ-SD-WH" not in routes
    galanz = (await demo_api.data(FORM, as_=tokens["galanz"]))["orderForm"]
    assert galanz["defaults"]["transportMode"] == "WATER"
    assert galanz["defaults"]["deliverySite"] == {"code": "GALANZ-SD-WH"}
    routes = {s["site"]["code"]: s["transportMode"] for s in galanz["deliverySites"]}
    assert routes["FOSHAN-BEIJIAO"] == "WATER"


async def test_demo_urges_are_in_every_state(demo_api: Api, tokens: dict[str, str]) -> None:
    q = """{ urgeTickets(first: 100) { nodes { status escalationLevel assignee
        history { action } line { contract { customer { code } } } } } }"""
    mill = (await demo_api.data(q, as_=tokens["mill"]))["urgeTickets"]["nodes"]
    assert {t["status"] for t in mill} >= {"OPEN", "PROMISED"}
    escalated = [t for t in mill if t["escalationLevel"] > 0]
    assert escalated and all(t["history"][-1]["action"] == "ESCALATED" for t in escalated)
    faw = (await demo_api.data(q, as_=tokens["faw"]))["urgeTickets"]["nodes"]
    assert faw and {t["line"]["contract"]["customer"]["code"] for t in faw} == {"FAW-VW"}
