"""The demo case: coherent, complete across states and stages, deterministic, fast."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal

import pytest

from demo import DemoAlreadySeeded, DemoSummary, is_seeded, seed
from demo.build import build
from demo.commercial import STATUSES
from demo.schedule import CST
from domain.contracts.stage_routes import STAGES
from domain.db import Database
from domain.quality.certificates import content_hash, verify

SMALL = 40


@pytest.fixture
async def seeded(db: Database) -> AsyncIterator[tuple[Database, DemoSummary]]:
    summary = await seed(db, contracts=SMALL)
    yield db, summary


async def test_every_contract_state_occurs(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    rows = await db.fetch("SELECT status, count(*) FROM contract GROUP BY status")
    assert {r["status"] for r in rows} == set(STATUSES)
    assert sum(r["count"] for r in rows) == summary.contracts == SMALL
    # Lines follow their contract (a partially shipped contract mixes its lines' states).
    mismatched = await db.fetchval(
        "SELECT count(*) FROM contract_line l JOIN contract c ON c.id = l.contract_id"
        " WHERE c.status <> 'partially_shipped' AND l.status <> c.status")
    assert mismatched == 0
    partial = await db.fetch(
        "SELECT DISTINCT l.status FROM contract_line l JOIN contract c ON c.id = l.contract_id"
        " WHERE c.status = 'partially_shipped'")
    assert {r["status"] for r in partial} <= {"shipped", "partially_shipped", "in_production"}


async def test_production_orders_exactly_for_confirmed_or_later(
        seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    wrong = await db.fetchval(
        "SELECT count(*) FROM contract_line l JOIN contract c ON c.id = l.contract_id"
        " LEFT JOIN production_order o ON o.line_id = l.id"
        " WHERE (o.id IS NULL) <> (c.status IN ('draft', 'cancelled'))")
    assert wrong == 0
    assert await db.fetchval("SELECT count(*) FROM production_order") == summary.production_orders


async def test_lines_stand_at_every_stage(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    current = await db.fetch(
        "SELECT DISTINCT current_stage FROM contract_line_schedule WHERE current_stage IS NOT NULL")
    assert {r["current_stage"] for r in current} == set(STAGES)
    finished = await db.fetchval(
        "SELECT count(*) FROM contract_line_schedule WHERE stages_done = stage_count")
    assert finished > 0


async def test_some_lines_late_most_on_time(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE predicted_finish + transit_days > delivery_to) AS late,"
        "       count(*) FILTER (WHERE predicted_finish + transit_days <= delivery_to) AS on_time"
        " FROM contract_line_schedule")
    assert row is not None
    assert row["late"] > 0
    assert row["on_time"] > row["late"]
    # Some of the late ones are still to be delivered: those are the ones flagged.
    assert await db.fetchval("SELECT count(*) FROM contract_line_schedule WHERE is_late") > 0


async def test_shipped_lines_finished_all_stages(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    rows = await db.fetch(
        "SELECT l.status, s.stages_done, s.stage_count, l.shipped_t"
        " FROM contract_line l JOIN contract_line_schedule s ON s.line_id = l.id"
        " WHERE l.status IN ('shipped', 'partially_shipped', 'settled', 'closed')")
    assert rows
    for r in rows:
        assert r["stages_done"] == r["stage_count"]
        assert r["shipped_t"] > 0


async def test_nothing_happened_in_the_future(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    for table, column in [("progress_event", "occurred_at"), ("progress_event", "recorded_at"),
                          ("coil", "produced_at"), ("heat", "tapped_at"), ("slab", "cast_at"),
                          ("inspection", "inspected_at"), ("quality_certificate", "issued_at"),
                          ("processing_feedback", "recorded_at"), ("contract", "created_at"),
                          ("contract", "updated_at"), ("genealogy_edge", "occurred_at")]:
        late = await db.fetchval(f"SELECT count(*) FROM {table} WHERE {column} > now()")
        assert late == 0, (table, column)


async def test_genealogy_traces_every_finished_coil_to_slab_and_heat(
        seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    rows = await db.fetch("""
        WITH RECURSIVE up AS (
            SELECT c.id AS start, c.id AS coil_id, c.heat_id AS heat_id, 0 AS depth
            FROM coil c WHERE c.line_id IS NOT NULL
            UNION ALL
            SELECT up.start, e.parent_coil_id, up.heat_id, up.depth + 1
            FROM up JOIN genealogy_edge e ON e.child_coil_id = up.coil_id
            WHERE e.parent_coil_id IS NOT NULL AND up.depth < 10
        )
        SELECT up.start, s.heat_id AS slab_heat, up.heat_id
        FROM up
        JOIN genealogy_edge e ON e.child_coil_id = up.coil_id AND e.parent_slab_id IS NOT NULL
        JOIN slab s ON s.id = e.parent_slab_id""")
    allocated = await db.fetchval("SELECT count(*) FROM coil WHERE line_id IS NOT NULL")
    assert allocated > 0
    assert len({r["start"] for r in rows}) == allocated == len(rows)
    assert all(r["slab_heat"] == r["heat_id"] for r in rows)
    # Every coil was made from exactly one thing; hot-rolled coils from a slab.
    assert await db.fetchval(
        "SELECT count(*) FROM coil c WHERE (SELECT count(*) FROM genealogy_edge e"
        " WHERE e.child_coil_id = c.id) <> 1") == 0
    assert await db.fetchval(
        "SELECT count(*) FROM genealogy_edge e JOIN coil c ON c.id = e.child_coil_id"
        " WHERE (e.parent_slab_id IS NOT NULL) <> (c.kind = 'hot_rolled')") == 0
    # Slitting and cutting lose a little: children never outweigh their parent.
    splits = await db.fetch(
        "SELECT p.weight_kg, sum(e.output_weight_kg) AS out, sum(e.input_weight_kg) AS input,"
        "       count(*) AS n"
        " FROM genealogy_edge e JOIN coil p ON p.id = e.parent_coil_id"
        " WHERE e.operation IN ('slit', 'cut') GROUP BY p.id, p.weight_kg")
    assert splits
    for r in splits:
        assert r["out"] <= r["weight_kg"] == r["input"]
        assert r["n"] >= 2
    assert await db.fetchval(
        "SELECT count(*) FROM genealogy_edge WHERE output_weight_kg > input_weight_kg") == 0
    # Material only flows forward in time: slab cast, then rolled, then slit or cut.
    assert await db.fetchval(
        "SELECT count(*) FROM genealogy_edge e JOIN coil c ON c.id = e.child_coil_id"
        " LEFT JOIN slab s ON s.id = e.parent_slab_id LEFT JOIN coil p ON p.id = e.parent_coil_id"
        " WHERE coalesce(s.cast_at, p.produced_at) >= c.produced_at") == 0
    assert await db.fetchval(
        "SELECT count(*) FROM slab s JOIN heat h ON h.id = s.heat_id"
        " WHERE s.cast_at <= h.tapped_at") == 0


async def test_coils_allocated_only_once_their_coil_exists(
        seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    early = await db.fetchval("""
        SELECT count(*) FROM coil c
        JOIN production_order o ON o.line_id = c.line_id
        JOIN steel_spec sp ON sp.id = c.spec_id
        JOIN production_stage_status s ON s.order_id = o.id
             AND s.stage = CASE WHEN sp.product = 'galvanized' THEN 'coating'
                                ELSE 'cold_rolling' END
        WHERE NOT s.completed""")
    assert early == 0
    assert await db.fetchval(
        "SELECT count(*) FROM coil WHERE kind = 'hot_rolled' AND line_id IS NOT NULL") == 0


async def test_tenancy_is_coherent(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    checks = {
        "line vs contract": "SELECT count(*) FROM contract_line l JOIN contract c"
        " ON c.id = l.contract_id WHERE l.customer_org_id <> c.customer_org_id",
        "order vs line": "SELECT count(*) FROM production_order o JOIN contract_line l"
        " ON l.id = o.line_id WHERE o.customer_org_id <> l.customer_org_id",
        "coil vs line": "SELECT count(*) FROM coil c JOIN contract_line l ON l.id = c.line_id"
        " WHERE c.customer_org_id <> l.customer_org_id OR c.spec_id <> l.spec_id",
        "certificate vs coil": "SELECT count(*) FROM quality_certificate q JOIN coil c"
        " ON c.id = q.coil_id WHERE q.customer_org_id IS DISTINCT FROM c.customer_org_id"
        " OR q.heat_id <> c.heat_id",
        "feedback vs coil": "SELECT count(*) FROM processing_feedback f JOIN coil c"
        " ON c.id = f.coil_id WHERE f.customer_org_id IS DISTINCT FROM c.customer_org_id",
        "spec of another customer": "SELECT count(*) FROM contract_line l JOIN steel_spec s"
        " ON s.id = l.spec_id WHERE s.customer_org_id <> l.customer_org_id",
        "settlement vs contract": "SELECT count(*) FROM settlement s JOIN contract c"
        " ON c.id = s.contract_id WHERE s.customer_org_id <> c.customer_org_id",
        "warehouse of another customer": "SELECT count(*) FROM contract_line l JOIN site s"
        " ON s.id = l.delivery_site_id WHERE s.org_id <> l.customer_org_id",
    }
    for name, sql in checks.items():
        assert await db.fetchval(sql) == 0, name


async def test_a_heat_serves_both_customers(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    mixed = await db.fetchval(
        "SELECT count(*) FROM (SELECT heat_id FROM coil WHERE customer_org_id IS NOT NULL"
        " GROUP BY heat_id HAVING count(DISTINCT customer_org_id) > 1) h")
    assert mixed >= 1


async def test_certificates_match_their_hash(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    rows = await db.fetch(
        "SELECT q.content, q.content_hash, q.cert_no, c.coil_no, h.heat_no"
        " FROM quality_certificate q JOIN coil c ON c.id = q.coil_id"
        " JOIN heat h ON h.id = q.heat_id")
    assert len(rows) == summary.certificates > 0
    for r in rows:
        assert content_hash(r["content"]) == r["content_hash"]
        assert verify(r["content"], r["content_hash"])
        assert r["content"]["document"]["cert_no"] == r["cert_no"]
        assert r["content"]["product"]["coil_no"] == r["coil_no"]
        assert r["content"]["product"]["heat_no"] == r["heat_no"]
    released = await db.fetchval(
        "SELECT count(*) FROM quality_certificate q JOIN coil c ON c.id = q.coil_id"
        " WHERE c.quality_status <> 'released'")
    assert released == 0
    # Certified after every inspection of the coil, never before.
    assert await db.fetchval(
        "SELECT count(*) FROM quality_certificate q JOIN inspection i ON i.coil_id = q.coil_id"
        " WHERE i.inspected_at > q.issued_at") == 0


async def test_settlement_totals_add_up(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    rows = await db.fetch(
        "SELECT s.*, (SELECT sum(l.shipped_t) FROM contract_line l"
        "             WHERE l.contract_id = s.contract_id) AS shipped"
        " FROM settlement s")
    assert rows
    for r in rows:
        expected = r["goods_amount"] + r["surcharges"] + r["freight"] - r["claim_deductions"]
        assert r["total_amount"] == expected
        goods = (r["actual_weight_t"] * r["unit_price"]).quantize(Decimal("0.01"))
        assert abs(r["goods_amount"] - goods) <= Decimal("0.01")
        assert r["actual_weight_t"] == r["shipped"]
        drift = abs(r["theoretical_weight_t"] - r["actual_weight_t"]) / r["actual_weight_t"]
        assert drift < Decimal("0.01")
        assert (r["invoice_status"] == "paid") == (r["paid_on"] is not None)
    statuses = await db.fetch(
        "SELECT DISTINCT c.status FROM settlement s JOIN contract c ON c.id = s.contract_id")
    assert {r["status"] for r in statuses} == {"shipped", "settled", "closed"}


async def test_sites_are_fenced_and_owned(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    rows = await db.fetch("SELECT s.*, o.code AS org FROM site s LEFT JOIN organization o"
                          " ON o.id = s.org_id")
    kinds = {r["kind"] for r in rows}
    assert kinds == {"plant", "port", "rail_station", "customer_warehouse"}
    for r in rows:
        if r["kind"] in ("port", "rail_station"):
            assert r["org"] is None
        if r["geofence"] is not None:
            ring = r["geofence"]["coordinates"][0]
            assert r["geofence"]["type"] == "Polygon" and ring[0] == ring[-1]
            lons = [Decimal(str(p[0])) for p in ring]
            assert min(lons) < Decimal(str(r["longitude"])) < max(lons)
    owners = {r["code"]: r["org"] for r in rows}
    assert owners["BAOSHAN"] == "BAOSTEEL"
    assert owners["FAWVW-CC-WH"] == "FAW-VW" and owners["GALANZ-SD-WH"] == "GALANZ"


async def test_seeding_twice_is_refused(db: Database) -> None:
    assert not await is_seeded(db)
    messages: list[str] = []
    await seed(db, contracts=8, progress=messages.append)
    assert await is_seeded(db)
    assert messages
    with pytest.raises(DemoAlreadySeeded):
        await seed(db, contracts=8)
    assert await db.fetchval("SELECT count(*) FROM contract") == 8
    assert await db.fetchval(
        "SELECT count(*) FROM domain_event WHERE event_type = 'demo.seeded'") == 1


def test_same_seed_same_case() -> None:
    today = date(2026, 3, 1)
    first = build(SMALL, 7, today, lambda _: None)
    again = build(SMALL, 7, today, lambda _: None)
    other = build(SMALL, 8, today, lambda _: None)

    def numbers(data: object) -> list[tuple[str, str]]:
        return [(c.number, c.status) for c in data.contracts]  # type: ignore[attr-defined]

    assert numbers(first) == numbers(again)
    assert [c.coil_no for c in first.material.coils] == [c.coil_no for c in again.material.coils]
    assert numbers(first) != numbers(other)


async def test_database_holds_what_was_built(db: Database) -> None:
    today = datetime.now(CST).date()
    await seed(db, contracts=SMALL, random_seed=11, today=today)
    expected = build(SMALL, 11, today, lambda _: None)
    rows = await db.fetch("SELECT number FROM contract ORDER BY number")
    assert [r["number"] for r in rows] == sorted(c.number for c in expected.contracts)


@pytest.mark.slow
async def test_default_size_is_fast_and_full(db: Database) -> None:
    began = time.perf_counter()
    summary = await seed(db)
    elapsed = time.perf_counter() - began
    assert elapsed < 60
    assert summary.contracts == 400
    assert 4_000 <= summary.coils <= 6_000
    assert await db.fetchval("SELECT count(*) FROM coil") == summary.coils
    assert await db.fetchval("SELECT count(*) FROM progress_event") == summary.progress_events
