"""A believable demo case: the mill, two key customers, a year of contracts around today.

``seed`` writes BAOSTEEL, FAW-Volkswagen (cold-rolled and high-strength body sheet by
rail to Changchun) and Galanz (galvanized sheet by water to Foshan), their sites and
specs, and ``contracts`` contracts in every state with production progress at every
stage, the heats, slabs and coils behind them, inspections, 3.1 certificates,
customer feedback, settlements with the payments received against them, and each
customer's credit limit. Settled and closed contracts spread over the past year, their
prices drifting, so that each customer has a year of sales. Dates are relative to
today, so some lines are late whenever it runs ("today" is the mill's calendar day, in
China time). The same seed on the same day gives the same data, and on any day the named examples of
``examples`` (a FAW-VW contract, coil and heat) carry the same numbers.

Everything is generated in memory, then written in one transaction: what the mill's
own systems would feed (organizations, sites, specs, the fleet and its devices, heats,
slabs, coils with their genealogy, inspections, contracts, production orders, shipments)
as records through the feeds (see :mod:`demo.records`), then what activity on the
platform would have left (progress, certificates, feedback, settlements, tracks, scans,
disputes, urges, plans, and the states contracts and legs were moved to), a statement a
table or through the domain's own operations.
``write_records`` writes the same records as NDJSON files, for integrators.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from domain.db import Database, Executor

from . import capacity, credit, disputes, planning, records, service, tracking
from .build import DemoData, build
from .catalogue import MILL
from .hotline import write as customer_ways
from .load import DemoRecordsRefused, write
from .schedule import CST

log = logging.getLogger(__name__)

# Serializes concurrent seeders so that two of them cannot both see an empty database.
_LOCK_ID = 0x4B4C44454D4F  # "KLDEMO"

__all__ = ["DemoAlreadySeeded", "DemoRecordsRefused", "DemoSummary", "is_seeded", "seed",
           "write_records"]


class DemoAlreadySeeded(RuntimeError):
    """The database already holds the demo (or real) organization BAOSTEEL."""


@dataclass(frozen=True)
class DemoSummary:
    organizations: int
    sites: int
    specs: int
    contracts: int
    lines: int
    production_orders: int
    progress_events: int
    heats: int
    slabs: int
    coils: int
    genealogy_edges: int
    inspections: int
    certificates: int
    feedback: int
    settlements: int


async def is_seeded(db: Executor) -> bool:
    """True once the mill organization exists."""
    found: Any = await db.fetchval("SELECT 1 FROM organization WHERE code = $1", MILL)
    return found is not None


async def seed(
    db: Database,
    *,
    contracts: int = 400,
    random_seed: int = 7,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Write the demo case; raises DemoAlreadySeeded if BAOSTEEL already exists."""
    if contracts < 0:
        raise ValueError("contracts must be >= 0")
    began = time.perf_counter()

    def step(message: str) -> None:
        log.info("demo seed: %s", message)
        if progress is not None:
            progress(message)

    if await is_seeded(db):
        raise DemoAlreadySeeded("the database already has organization BAOSTEEL")
    # The mill's day: every generated event lies on an earlier China-time day, so none
    # can be in the future wherever the seed runs.
    day = today or datetime.now(CST).date()
    data = build(contracts, random_seed, day, step)
    shipping = tracking.plan(data, day, random_seed)
    summary = _summary(data)
    async with db.transaction() as tx:
        await tx.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
        if await is_seeded(tx):
            raise DemoAlreadySeeded("the database already has organization BAOSTEEL")
        await write(tx, data, shipping, day, step)
        await tracking.write(tx, data, shipping, step)
        await customer_ways(tx, data, day, step)
        await planning.write(tx, day, step)
        await capacity.write(tx, day, step)
        step(f"quality disputes: {await disputes.write(tx)}")
        step(f"closed disputes of the past year: "
             f"{await disputes.history(tx, datetime.now(UTC))}")
        await credit.write(tx, data, step)
        step(f"service quality: {await service.write(tx, day, step, random_seed)}")
        await tx.execute(
            "INSERT INTO domain_event (event_type, org_id, aggregate_type, aggregate_id,"
            " payload, actor) VALUES ('demo.seeded', NULL, 'organization', $1, $2, 'demo')",
            data.orgs[MILL].id, {"random_seed": random_seed, **asdict(summary)},
        )
    step(f"done in {time.perf_counter() - began:.1f} s: {summary}")
    return summary


def _summary(data: DemoData) -> DemoSummary:
    material = data.material
    return DemoSummary(
        organizations=len(data.orgs), sites=len(data.sites), specs=len(data.specs),
        contracts=len(data.contracts), lines=len(data.lines),
        production_orders=sum(1 for ln in data.lines if ln.timeline is not None),
        progress_events=sum(len(ln.events) for ln in data.lines),
        heats=len(material.heats), slabs=len(material.slabs), coils=len(material.coils),
        genealogy_edges=len(material.edges), inspections=len(data.inspections),
        certificates=len(data.certificates), feedback=len(data.feedback),
        settlements=len(data.settlements),
    )


def write_records(
    directory: Path,
    *,
    contracts: int = 400,
    random_seed: int = 7,
    today: date | None = None,
) -> dict[str, int]:
    """Write the demo's plant records (what ``seed`` applies through the feeds) as NDJSON
    files, one per kind, numbered in the order they apply; returns the count per kind.
    Needs no database: the same seed on the same day gives the records ``seed`` applies
    (but for the shipments that wait to leave, planned from the moment it runs)."""
    if contracts < 0:
        raise ValueError("contracts must be >= 0")
    day = today or datetime.now(CST).date()
    data = build(contracts, random_seed, day, lambda _: None)
    return records.write_files(directory, data, tracking.plan(data, day, random_seed), day)
