"""The demo's plant records: a plant's batch the feeds accept whole, whose replay changes
nothing, and whose files (``keylink seed-demo --records-out``) each kind's published JSON
Schema accepts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import jsonschema_rs
import orjson

from demo import records, tracking
from demo.build import build
from demo.schedule import CST
from domain.actor import Actor
from domain.db import Database
from domain.feeds.batch import BatchResult, ndjson_lines, run_batch
from domain.feeds.kinds import KINDS
from settings import PROJECT_ROOT, Settings

CONTRACTS = 24
PLANT = Actor.system("keylink:test-plant")
# Tables the records write, and a digest of each one's rows (ids included).
TABLES = ("organization", "site", "steel_spec", "vehicle", "device", "heat", "slab", "coil",
          "genealogy_edge", "inspection", "contract", "contract_line", "production_order",
          "production_stage_plan", "shipment", "shipment_leg", "leg_coil", "shipment_customer")


async def _feed(db: Database, chunks: AsyncIterator[bytes]) -> BatchResult:
    return await run_batch(db, PLANT, ndjson_lines(chunks))


async def _snapshot(db: Database) -> dict[str, str]:
    return {t: await db.fetchval(f"SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text),"
                                 f" '')) FROM {t} x") for t in TABLES}


async def test_the_demos_records_apply_whole_and_their_replay_changes_nothing(
        db: Database) -> None:
    today = datetime.now(CST).date()
    data = build(CONTRACTS, 5, today, lambda _: None)
    shipping = tracking.plan(data, today, 5)
    total = sum(1 for _ in records.records(data, shipping, today))

    first = await _feed(db, records.encoded(data, shipping, today))
    assert first.rejections == []
    assert (first.status, first.applied, first.rejected) == ("committed", total, 0)
    m = data.material
    for table, expected in (("coil", len(m.coils)), ("genealogy_edge", len(m.edges)),
                            ("inspection", len(data.inspections)),
                            ("contract_line", len(data.lines)),
                            ("shipment", len(shipping.shipments)),
                            ("shipment_leg", sum(len(s.legs) for s in shipping.shipments)),
                            ("leg_coil", sum(len(s.legs) * len(s.coils)
                                             for s in shipping.shipments))):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == expected, table
    assert len(shipping.shipments) > 0 and len(m.edges) > len(m.slabs)
    before = await _snapshot(db)
    events = await db.fetchval("SELECT count(*) FROM domain_event")

    again = await _feed(db, records.encoded(data, shipping, today))
    assert (again.status, again.applied, again.unchanged, again.rejected) == (
        "committed", 0, total, 0)
    assert await _snapshot(db) == before
    assert await db.fetchval("SELECT count(*) FROM domain_event") == events


def test_records_out_writes_a_file_per_kind_each_schema_accepts(tmp_path: Path) -> None:
    out = tmp_path / "records"
    settings = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
    env = {k: v for k, v in os.environ.items() if k not in settings}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "seed-demo", "--records-out", str(out),
         "--contracts", str(CONTRACTS)], env=env, cwd=PROJECT_ROOT, capture_output=True,
        text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [records.file_name(kind) for kind in records.ORDER]
    assert set(records.ORDER) | set(records.LATER) == set(KINDS)
    written = 0
    for kind in records.ORDER:
        validator = jsonschema_rs.validator_for(KINDS[kind].schema(), validate_formats=True)
        lines = (out / records.file_name(kind)).read_bytes().splitlines()
        assert lines, f"no {kind} records"
        for line in lines:
            doc = orjson.loads(line)
            errors = [e.message for e in validator.iter_errors(doc)]
            assert errors == [], (kind, doc["key"], errors)
            assert doc["kind"] == kind
        written += len(lines)
    assert f"wrote {written} demo records" in done.stdout


def _in_name_order(directory: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(directory.glob("*.ndjson"))]


async def test_the_files_fed_in_name_order_load_an_empty_database(
        db: Database, tmp_path: Path) -> None:
    """What an integrator does with them: every file, in file-name order, one batch."""
    import demo

    counts = demo.write_records(tmp_path, contracts=CONTRACTS, random_seed=3)
    contents = _in_name_order(tmp_path)

    async def files() -> AsyncIterator[bytes]:
        for data in contents:
            for start in range(0, len(data), 64 * 1024):
                yield data[start:start + 64 * 1024]

    result = await _feed(db, files())
    assert result.rejections == []
    assert (result.status, result.applied) == ("committed", sum(counts.values()))
    assert await db.fetchval("SELECT count(*) FROM coil") == counts["coil"]
