"""`sites`: every site the viewer may see, with its fence, a keyset page at a time. A
customer sees its own warehouses, the shared ports and stations and the mill's plants;
never another customer's warehouse."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api

SITES = """query($first: Int!, $after: String) { sites(first: $first, after: $after) {
  nodes { id code kind latitude longitude geofence geofenceRadiusM owner { code } }
  pageInfo { hasNextPage endCursor } } }"""


async def all_sites(api: Api, bearer: str, first: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await api.data(SITES, {"first": first, "after": after}, as_=bearer))["sites"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def expected(api: Api, *orgs: str) -> set[str]:
    """Site codes owned by no one, by the mill, or by one of the named organizations."""
    rows = await api.db.fetch(
        "SELECT s.code FROM site s LEFT JOIN organization o ON o.id = s.org_id"
        " WHERE o.id IS NULL OR o.kind = 'mill' OR o.code = ANY($1::text[])", list(orgs))
    return {r["code"] for r in rows}


async def test_a_customer_sees_its_own_warehouses_and_the_shared_sites_only(
    demo_api: Api, tokens: dict[str, str],
) -> None:
    faw = await all_sites(demo_api, tokens["faw"], first=3)
    codes = [s["code"] for s in faw]
    assert len(codes) == len(set(codes)), "a site repeated across pages"
    assert set(codes) == await expected(demo_api, "FAW-VW")
    owners = {s["owner"]["code"] for s in faw if s["owner"]}
    assert "GALANZ" not in owners and "FAW-VW" in owners
    galanz_own = await demo_api.db.fetch(
        "SELECT s.code FROM site s JOIN organization o ON o.id = s.org_id"
        " WHERE o.code = 'GALANZ'")
    assert galanz_own and not {r["code"] for r in galanz_own} & set(codes)
    # Every site comes with its fence, a polygon or a radius.
    assert all(s["geofence"] or s["geofenceRadiusM"] for s in faw)


async def test_the_mills_staff_see_every_site(demo_api: Api, tokens: dict[str, str]) -> None:
    mill = await all_sites(demo_api, tokens["mill"], first=100)
    total = await demo_api.db.fetchval("SELECT count(*) FROM site")
    assert len(mill) == total
    assert {s["code"] for s in mill} > await expected(demo_api, "FAW-VW")


async def test_a_bad_page_is_refused_with_a_reason(demo_api: Api, tokens: dict[str, str]) -> None:
    body = await demo_api.query(SITES, {"first": 500, "after": None}, as_=tokens["faw"])
    assert body["errors"][0]["message"] == "`first` must be between 0 and 100"
    body = await demo_api.query(SITES, {"first": 5, "after": "nonsense"}, as_=tokens["faw"])
    assert "cursor" in body["errors"][0]["message"]
    body = await demo_api.query(SITES, {"first": 5, "after": None})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
