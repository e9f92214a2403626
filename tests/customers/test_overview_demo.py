"""The customer overview on the demo's year of history, as the mill's sales and finance
read it: sales and prices month by month across specs, open and late contracts, claims,
urges and credit (FAW-VW close to its limit); and as customers read it, each its own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import demo
from domain.db import Database
from resolvers.relay import to_global_id
from tests.support.api import MILL_ROLES, Api, token

MILL = token("BAOSTEEL", *MILL_ROLES, subject="finance.li")
OVERVIEW = """query($c: ID, $since: Date, $until: Date) {
  customerOverview(customerId: $c, since: $since, until: $until) {
    since until customer { code }
    salesByMonth { month tonnes revenue spec { code } }
    priceHistory { month averagePrice minPrice maxPrice tonnes contracts spec { code } }
    openContracts { contracts lines openTonnes openValue lateContracts lateLines
                    late { number } }
    claims { disputes tonnes disputesClosed averageDaysToClose disputesOpen claims claimed
             agreed }
    urges { opened resolved open answeredInTime averageHoursToAnswer averageHoursToResolve }
    credit { limit shownToCustomer receivables overdue exposure headroom } } }"""


async def _overview(api: Api, db: Database, code: str, as_: str,
                    **period: str) -> dict[str, Any] | None:
    org = await db.fetchval("SELECT id FROM organization WHERE code = $1", code)
    got: dict[str, Any] | None = (await api.data(
        OVERVIEW, {"c": to_global_id("Organization", org), **period}, as_=as_)
    )["customerOverview"]
    return got


async def test_the_mill_reads_a_year_of_faw_vws_history(api: Api) -> None:
    # The demo as `make run` loads it: its year of history needs its 400 contracts.
    await demo.seed(api.db)
    seeded_db = api.db
    o = await _overview(api, seeded_db, "FAW-VW", MILL)
    assert o is not None and o["customer"] == {"code": "FAW-VW"}
    months = {m["month"] for m in o["salesByMonth"]}
    assert len(months) >= 10, months  # invoiced month by month over the year
    assert len({m["spec"]["code"] for m in o["salesByMonth"]}) >= 3
    assert all(Decimal(m["tonnes"]) > 0 and Decimal(m["revenue"]) > 0
               for m in o["salesByMonth"])
    # Prices drift: a spec's average a year ago is below its latest.
    by_spec: dict[str, list[Decimal]] = {}
    for p in o["priceHistory"]:
        assert Decimal(p["minPrice"]) <= Decimal(p["averagePrice"]) <= Decimal(p["maxPrice"])
        by_spec.setdefault(p["spec"]["code"], []).append(Decimal(p["averagePrice"]))
    long = [v for v in by_spec.values() if len(v) >= 6]
    assert long and sum(v[-1] > v[0] for v in long) > len(long) / 2
    # Open contracts, some late, as the platform's one lateness says.
    late = await seeded_db.fetchval(
        "SELECT count(DISTINCT l.contract_id) FROM contract_line_schedule s"
        " JOIN contract_line l ON l.id = s.line_id JOIN organization o"
        " ON o.id = l.customer_org_id WHERE s.is_late AND o.code = 'FAW-VW'"
        " AND l.status <> 'cancelled'")
    c = o["openContracts"]
    assert c["contracts"] > 0 and c["lateContracts"] == late > 0
    assert len(c["late"]) == min(late, 50)
    assert o["claims"]["disputes"] >= 1
    assert o["urges"]["opened"] >= 1
    paid = await seeded_db.fetchrow(
        "SELECT count(*) FILTER (WHERE s.paid_on <= s.due_on) AS on_time,"
        " count(*) FILTER (WHERE s.paid_on > s.due_on) AS late FROM settlement s"
        " WHERE s.invoice_status = 'paid' AND EXISTS (SELECT 1 FROM payment p"
        " WHERE p.settlement_id = s.id)")
    assert paid is not None and paid["on_time"] > paid["late"] > 0
    # Credit: overdue invoices among the receivables, close to the limit.
    credit = o["credit"]
    receivables, overdue = Decimal(credit["receivables"]), Decimal(credit["overdue"])
    assert receivables > overdue > 0
    limit, headroom = Decimal(credit["limit"]), Decimal(credit["headroom"])
    assert 0 < headroom < limit / 10
    assert headroom == limit - receivables - Decimal(credit["exposure"])


async def test_a_period_is_bounded_and_narrows_the_figures(
        demo_api: Api, seeded_db: Database) -> None:
    whole = await _overview(demo_api, seeded_db, "GALANZ", MILL)
    assert whole is not None and whole["salesByMonth"]
    last = whole["salesByMonth"][-1]["month"]
    one = await _overview(demo_api, seeded_db, "GALANZ", MILL, since=last,
                          until=whole["until"])
    assert one is not None
    assert {m["month"] for m in one["salesByMonth"]} == {last}
    org = await seeded_db.fetchval("SELECT id FROM organization WHERE code = 'GALANZ'")
    too_long = await demo_api.query(OVERVIEW, {"c": to_global_id("Organization", org),
                                               "since": "2020-01-01", "until": "2022-06-30"},
                                    as_=MILL)
    assert too_long["data"] is None or too_long["data"]["customerOverview"] is None
    assert "at most 731 days" in too_long["errors"][0]["message"]


async def test_each_customer_reads_its_own_overview_and_no_other(
        demo_api: Api, seeded_db: Database, tokens: dict[str, str]) -> None:
    # GALANZ is shown its limit; FAW-VW is not.
    galanz = await _overview(demo_api, seeded_db, "GALANZ", tokens["galanz"])
    assert galanz is not None and galanz["credit"]["limit"] is not None
    assert galanz["credit"]["headroom"] is not None
    faw = await _overview(demo_api, seeded_db, "FAW-VW", tokens["faw"])
    assert faw is not None
    assert (faw["credit"]["limit"], faw["credit"]["headroom"]) == (None, None)
    assert faw["salesByMonth"]
    assert await _overview(demo_api, seeded_db, "FAW-VW", tokens["galanz"]) is None
    assert await _overview(demo_api, seeded_db, "GALANZ", tokens["faw"]) is None
