"""A page of purchase plans costs a fixed number of SQL statements, however many plans
it holds: lines, car plans, changes and contracts come through per-request loaders."""

from __future__ import annotations

from typing import Any

from domain.db import count_statements
from tests.support.api import Api, token

FAW = token("FAW-VW", subject="planner.faw")
SALES = token("BAOSTEEL", "sales", subject="sales.mill")

PAGE = """query($first: Int!) { purchasePlans(first: $first) { nodes { status totalTonnes
    isStale customer { code } productionPlan { version entries(first: 3) { nodes { units } } }
    lines(first: 5) { nodes { quantityTonnes spec { grade } deliverySite { code }
        contractLine { status } } }
    contracts { number }
    changes(first: 5) { nodes { afterTonnes productionPlanVersion spec { grade } } } } } }"""


async def _copies(api: Api, n: int) -> list[tuple[int, int]]:
    """``n`` decided copies of the demo's plan, each with its lines, a change and a car
    plan version of its own; returns (purchase plan, car plan) of each copy."""
    made: list[tuple[int, int]] = []
    source = await api.db.fetchval("SELECT id FROM purchase_plan ORDER BY id LIMIT 1")
    car_plan = await api.db.fetchval(
        "SELECT production_plan_id FROM purchase_plan WHERE id = $1", source)
    for k in range(n):
        # Each copy from a car plan version of its own, with the same entries.
        version = await api.db.fetchval(
            "INSERT INTO production_plan (customer_org_id, version, horizon_start, horizon_end,"
            " source, created_by) SELECT customer_org_id, version + $2, horizon_start,"
            " horizon_end, source, created_by FROM production_plan WHERE id = $1 RETURNING id",
            car_plan, k + 1)
        await api.db.execute(
            "INSERT INTO production_plan_entry (plan_id, model_code, period_start,"
            " period_days, units) SELECT $2, model_code, period_start, period_days, units"
            " FROM production_plan_entry WHERE plan_id = $1", car_plan, version)
        copy = await api.db.fetchval(
            "INSERT INTO purchase_plan (customer_org_id, production_plan_id, as_of, status)"
            " SELECT customer_org_id, $2, as_of, 'approved' FROM purchase_plan"
            " WHERE id = $1 RETURNING id", source, version)
        await api.db.execute(
            "INSERT INTO purchase_plan_line (plan_id, customer_org_id, spec_id, period_start,"
            " period_end, gross_t, daily_t, safety_t, lead_time_t, available_t, net_t,"
            " quantity_t, coils, need_date, release_date, firmness, delivery_site_id,"
            " transport_mode, transit_days) SELECT $2, customer_org_id, spec_id, period_start,"
            " period_end, gross_t, daily_t, safety_t, lead_time_t, available_t, net_t,"
            " quantity_t, coils, need_date, release_date, firmness, delivery_site_id,"
            " transport_mode, transit_days FROM purchase_plan_line WHERE plan_id = $1",
            source, copy)
        await api.db.execute(
            "INSERT INTO purchase_plan_change (plan_id, customer_org_id, production_plan_id,"
            " spec_id, period_start, before_t, after_t, action)"
            " SELECT $2, customer_org_id, $3, spec_id, period_start, quantity_t,"
            " quantity_t + 12, 'changed' FROM purchase_plan_line WHERE plan_id = $1 LIMIT 2",
            source, copy, version)
        made.append((copy, version))
    return made


async def _remove(api: Api, made: list[tuple[int, int]]) -> None:
    """Take the copies out again: the demo database is shared with other tests."""
    plans, versions = [p for p, _ in made], [v for _, v in made]
    for sql, ids in (
        ("DELETE FROM purchase_plan_change WHERE plan_id = ANY($1::bigint[])", plans),
        ("DELETE FROM purchase_plan_line WHERE plan_id = ANY($1::bigint[])", plans),
        ("DELETE FROM purchase_plan WHERE id = ANY($1::bigint[])", plans),
        ("DELETE FROM production_plan_entry WHERE plan_id = ANY($1::bigint[])", versions),
        ("DELETE FROM production_plan WHERE id = ANY($1::bigint[])", versions),
    ):
        await api.db.execute(sql, ids)


async def _statements(api: Api, first: int, as_: str) -> tuple[int, list[dict[str, Any]]]:
    await api.data("{ viewer { subject } }", as_=as_)  # warm the organization cache
    with count_statements() as seen:
        data = await api.data(PAGE, {"first": first}, as_=as_)
    return len(seen), data["purchasePlans"]["nodes"]


async def test_a_page_of_plans_costs_the_same_for_two_or_eight(demo_api: Api) -> None:
    made = await _copies(demo_api, 7)
    try:
        await _page_costs(demo_api)
    finally:
        await _remove(demo_api, made)


async def _page_costs(demo_api: Api) -> None:
    for who in (SALES, FAW):
        small, few = await _statements(demo_api, 2, who)
        large, many = await _statements(demo_api, 8, who)
        assert len(few) == 2 and len(many) == 8
        assert all(p["lines"]["nodes"] and len(p["productionPlan"]["entries"]["nodes"]) == 3
                   for p in many)
        assert [p["productionPlan"]["version"] for p in many] == [8, 7, 6, 5, 4, 3, 2, 1]
        assert [p["isStale"] for p in many] == [False] + [True] * 7
        assert sum(len(p["changes"]["nodes"]) for p in many) == 14
        assert large == small, f"{large} statements for 8 plans, {small} for 2"
        assert large <= 12
