"""The demo's quality disputes, and containment on the demo's genealogy: the suspects are
exactly the other coils of the heat, the siblings exactly those of the same parent coil."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.db import Database, Executor, Transaction, count_statements
from domain.disputes import containment
from domain.tenancy import Scope
from resolvers.relay import to_global_id
from settings import PROJECT_ROOT
from tests.support.api import Api, token


async def _expected(db: Executor, dispute_id: int) -> dict[int, tuple[bool, str]]:
    """Suspects worked out in Python from the raw tables, independently of the query."""
    named = {r["coil_id"] for r in await db.fetch(
        "SELECT coil_id FROM dispute_coil WHERE dispute_id = $1", dispute_id)}
    coils = {r["id"]: r["heat_id"] for r in await db.fetch("SELECT id, heat_id FROM coil")}
    heats = {coils[c] for c in named}
    parent_of, children = {}, defaultdict(set)
    for e in await db.fetch("SELECT parent_coil_id, child_coil_id FROM genealogy_edge"
                            " WHERE parent_coil_id IS NOT NULL"):
        parent_of[e["child_coil_id"]] = e["parent_coil_id"]
        children[e["parent_coil_id"]].add(e["child_coil_id"])
    siblings = set().union(*(children[parent_of[c]] for c in named if c in parent_of))
    processed = {r["coil_id"] for r in await db.fetch("SELECT coil_id FROM processing_feedback")}
    where = {r["coil_id"]: (r["vehicle_id"], r["kind"]) for r in await db.fetch(
        "SELECT cl.coil_id, cl.vehicle_id, s.kind FROM coil_location cl"
        " LEFT JOIN site s ON s.id = cl.site_id")}

    def now(c: int) -> str:
        if c in children or c in processed:
            return "consumed"
        vehicle, kind = where.get(c, (None, "plant"))
        if vehicle is not None or kind in ("port", "rail_station"):
            return "in_transit"
        return "at_customer" if kind == "customer_warehouse" else "at_mill"

    return {c: (c in siblings, now(c)) for c, h in coils.items()
            if h in heats and c not in named}


async def test_the_demo_has_disputes_in_several_states(seeded_db: Database) -> None:
    rows = await seeded_db.fetch(
        "SELECT o.code, d.status, count(q.id) AS claims FROM quality_dispute d"
        " JOIN organization o ON o.id = d.customer_org_id"
        " LEFT JOIN quality_claim q ON q.dispute_id = d.id GROUP BY o.code, d.id ORDER BY d.id")
    assert [tuple(r) for r in rows][:3] == [
        ("FAW-VW", "correcting", 1), ("FAW-VW", "claiming", 1), ("GALANZ", "established", 0)]
    # Behind them, a year of closed ones: each completed, its one claim agreed and either
    # deducted on its contract's draft settlement or credited, opened and closed in the
    # past year.
    history = await seeded_db.fetch(
        "SELECT o.code, d.status, d.opened_at, d.closed_at, q.status AS claim,"
        " q.settlement_id IS NOT NULL AS deducted"
        " FROM quality_dispute d JOIN organization o ON o.id = d.customer_org_id"
        " JOIN quality_claim q ON q.dispute_id = d.id WHERE d.id > ("
        "   SELECT min(id) + 2 FROM quality_dispute) ORDER BY d.id")
    assert {r["code"] for r in history} == {"FAW-VW", "GALANZ"} and len(history) >= 6
    assert {r["status"] for r in history} == {"completed"}
    assert all(r["claim"] == "credited" or (r["deducted"] and r["claim"] in (
        "agreed", "partially_agreed")) for r in history)
    year_ago = datetime.now(UTC) - timedelta(days=366)
    assert all(year_ago < r["opened_at"] < r["closed_at"] < datetime.now(UTC) - timedelta(
        days=30) for r in history)
    claim = await seeded_db.fetchrow(
        "SELECT q.status, q.agreed_amount, s.claim_deductions FROM quality_claim q"
        " LEFT JOIN settlement s ON s.id = q.settlement_id ORDER BY q.id LIMIT 1")
    assert claim is not None
    assert (claim["status"], claim["agreed_amount"]) == ("partially_agreed", Decimal("12400.50"))
    if claim["claim_deductions"] is not None:
        assert claim["claim_deductions"] >= Decimal("12400.50")


async def _check(db: Executor, dispute_id: int) -> list[containment.Suspect]:
    expected = await _expected(db, dispute_id)
    found = await containment.suspects(db, Scope.everything(), dispute_id, limit=10_000,
                                       after_id=None)
    assert {s.coil_id: (s.same_parent, s.where_now) for s in found} == expected
    assert len(found) == len(expected) > 0
    return found


async def test_containment_on_demo_data_finds_exactly_the_siblings(seeded_db: Database) -> None:
    for r in await seeded_db.fetch("SELECT id FROM quality_dispute ORDER BY id"):
        await _check(seeded_db, r["id"])
    # A dispute on a slit coil of every customer, in a transaction that is rolled back.
    async with seeded_db.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            db = Transaction(conn)
            slit = await db.fetch(
                "SELECT DISTINCT ON (c.customer_org_id) c.id, c.customer_org_id"
                " FROM coil c JOIN genealogy_edge g ON g.child_coil_id = c.id"
                " WHERE g.operation = 'slit' AND c.customer_org_id IS NOT NULL"
                " ORDER BY c.customer_org_id, c.id")
            assert slit, "the demo has slit coils"
            for coil in slit:
                pk = await db.fetchval(
                    "INSERT INTO quality_dispute (number, customer_org_id, defect_kind,"
                    " description, affected_t, found_during, opened_by) VALUES ($1, $2,"
                    " 'shape', 'edge wave', 1, 'processing', 't') RETURNING id",
                    f"T-{coil['id']}", coil["customer_org_id"])
                await db.execute("INSERT INTO dispute_coil VALUES ($1, $2)", pk, coil["id"])
                found = await _check(db, pk)
                assert sum(s.same_parent for s in found) >= 1
        finally:
            await tx.rollback()


PAGE = """query($id: ID!, $after: String) { dispute(id: $id) { suspects(first: 7, after: $after) {
    nodes { coil { coilNo } } pageInfo { hasNextPage endCursor } } } }"""


async def test_suspects_page_through_and_a_customer_sees_only_its_own(demo_api: Api) -> None:
    db = demo_api.db
    first = await db.fetchrow("SELECT id, customer_org_id FROM quality_dispute ORDER BY id"
                              " LIMIT 1")
    assert first is not None
    gid = to_global_id("QualityDispute", first["id"])
    expected = await _expected(db, first["id"])
    numbers = {r["id"]: (r["coil_no"], r["customer_org_id"]) for r in await db.fetch(
        "SELECT id, coil_no, customer_org_id FROM coil WHERE id = ANY($1::bigint[])",
        list(expected))}
    for who, keep in ((token("BAOSTEEL", "quality"), lambda org: True),
                      (token("FAW-VW"), lambda org: org == first["customer_org_id"])):
        seen, after = [], None
        while True:
            page = (await demo_api.data(PAGE, {"id": gid, "after": after}, as_=who)
                    )["dispute"]["suspects"]
            seen += [n["coil"]["coilNo"] for n in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [numbers[c][0] for c in sorted(expected) if keep(numbers[c][1])]
    assert (await demo_api.data(PAGE, {"id": gid}, as_=token("GALANZ")))["dispute"] is None


async def test_the_readme_example_runs_on_the_demo(demo_api: Api) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quality disputes"):]
    example = section[section.index("```graphql") + 10:section.index("```\n", 10)]
    number = await demo_api.db.fetchval("SELECT number FROM quality_dispute ORDER BY id"
                                        " LIMIT 1")
    query = example.replace("QD-2026-000001", number)
    for who in (token("FAW-VW"), token("BAOSTEEL", "quality")):
        d = (await demo_api.data(query, as_=who))["dispute"]
        assert d["status"] == "CORRECTING"
        assert [s["action"] for s in d["timeline"]["nodes"]][:3] == [
            "opened", "process", "containment"]
        claim = d["claims"]["nodes"][0]
        assert (claim["status"], claim["agreedAmount"]) == ("PARTIALLY_AGREED", "12400.50")
        assert d["evidence"]["nodes"] == [] and d["suspects"]["nodes"]
    assert (await demo_api.data(query, as_=token("GALANZ")))["dispute"] is None


LISTED = """query($first: Int!) { disputes(first: $first) { nodes { number
    suspects(first: 100) { nodes { sameParent coil { coilNo } } } } } }"""


async def test_suspects_of_a_page_of_disputes_cost_a_fixed_number_of_statements(
        demo_api: Api) -> None:
    counts, pages = [], []
    await demo_api.data(LISTED, {"first": 1}, as_=token("BAOSTEEL", "quality"))  # warm up
    for first in (1, 3):
        with count_statements() as seen:
            pages.append((await demo_api.data(LISTED, {"first": first},
                                              as_=token("BAOSTEEL", "quality")))["disputes"])
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    nodes = pages[1]["nodes"]
    assert len(nodes) == 3 and pages[0]["nodes"] == nodes[:1]
    for node in nodes:
        pk = await demo_api.db.fetchval("SELECT id FROM quality_dispute WHERE number = $1",
                                        node["number"])
        alone = await containment.suspects(demo_api.db, Scope.everything(), pk, limit=100,
                                           after_id=None)
        assert [n["coil"]["coilNo"] for n in node["suspects"]["nodes"]] == [
            s.coil_no for s in alone] and alone
