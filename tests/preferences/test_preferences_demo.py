"""The demo case carries each customer's own way of working and a hotline in use."""

from __future__ import annotations

from domain.db import count_statements
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


async def test_urges_on_a_page_of_lines_cost_a_fixed_number_of_statements(
    demo_api: Api, tokens: dict[str, str]
) -> None:
    page = """query($first: Int!) { contracts(first: $first, filter: {lateOnly: true}) {
        nodes { lines { openUrgeTicket { number } urgeTickets { status
            history { action } line { lineNo } } } } } }"""

    async def statements(first: int) -> tuple[int, int]:
        await demo_api.data("{ viewer { subject } }", as_=tokens["mill"])
        with count_statements() as seen:
            data = await demo_api.data(page, {"first": first}, as_=tokens["mill"])
        tickets = [t for c in data["contracts"]["nodes"] for ln in c["lines"]
                   for t in ln["urgeTickets"]]
        return len(seen), len(tickets)

    small, _ = await statements(1)
    large, tickets = await statements(20)
    assert tickets >= 2, "data too thin"
    assert large == small, f"{large} statements for 20 contracts, {small} for 1"
