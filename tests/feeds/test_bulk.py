"""Feeds applied in bulk: what a batch writes, counts and rejects, whatever the size of
its chunks: the plant example applied and replayed, weights and genealogy checked within
a chunk and across batches, what only the database refuses named record by record, the
order rejections are listed in, and the events each change queues."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from domain.actor import Actor
from domain.db import Database
from domain.feeds import batch
from domain.feeds.batch import BatchResult, apply_record, ndjson_lines, run_batch
from settings import PROJECT_ROOT

SYSTEM = Actor.system("plant-erp")
EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "plant.ndjson"


async def _bytes(body: bytes, size: int = 7_000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def _body(records: list[dict[str, Any] | bytes]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)


async def _run(db: Database, body: bytes, **kwargs: Any) -> BatchResult:
    return await run_batch(db, SYSTEM, ndjson_lines(_bytes(body)), **kwargs)


def _example() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines() if line.strip()]


def _rec(kind: str, key: str, data: dict[str, Any], version: int = 1) -> dict[str, Any]:
    return {"kind": kind, "key": key, "version": version, "data": data}


def _heat(n: int) -> dict[str, Any]:
    return _rec("heat", f"H{n}", {"grade": "DC04", "tappedAt": "2026-11-20T08:15:00+08:00",
                                  "weightT": "251.400", "chemistry": {"C": "0.0030"}})


def _slab(n: int, heat: int = 0, kg: str = "24100.0") -> dict[str, Any]:
    return _rec("slab", f"S{n}", {"heat": f"H{heat}", "weightKg": kg, "thicknessMm": "230.0",
                                  "widthMm": "1300.0", "lengthMm": "10200.0",
                                  "castAt": "2026-11-20T10:02:00+08:00"})


def _coil(key: str, kg: str, parent: dict[str, str], taken: str, *, heat: int = 0,
          status: str = "pending", thickness: str = "3.000", version: int = 1,
          ) -> dict[str, Any]:
    return _rec("coil", key, {
        "kind": "hot_rolled", "heat": f"H{heat}", "thicknessMm": thickness,
        "widthMm": "1280.0", "weightKg": kg, "qualityStatus": status,
        "producedAt": "2026-11-22T14:30:00+08:00",
        "parents": [{**parent, "operation": "roll" if "slab" in parent else "slit",
                     "inputWeightKg": taken, "outputWeightKg": kg,
                     "occurredAt": "2026-11-22T14:30:00+08:00"}]}, version)


async def _count(db: Database, table: str) -> int:
    n: int = await db.fetchval(f"SELECT count(*) FROM {table}")
    return n


async def test_the_plant_example_applies_then_replays_unchanged(db: Database) -> None:
    body = EXAMPLE.read_bytes()
    first = await _run(db, body)
    assert (first.status, first.applied, first.rejected) == ("committed", 18, 0), first.rejections
    assert await _count(db, "coil") == 3
    assert await _count(db, "genealogy_edge") == 3
    assert await _count(db, "leg_coil") == 2
    events = await db.fetch("SELECT event_type, org_id, payload FROM domain_event"
                            " WHERE payload ? 'batch' ORDER BY seq")
    types = [e["event_type"] for e in events]
    assert types.count("coil.created") == 3 and types.count("coil.released") == 3
    assert {e["payload"]["batch"] for e in events} == {str(first.id)}
    chery = await db.fetchval("SELECT id FROM organization WHERE code = 'CHERY'")
    allocated = [e for e in events if e["event_type"] == "coil.created"
                 and e["payload"]["key"].startswith("CR")]
    assert [e["org_id"] for e in allocated] == [chery, chery]
    queued = len(events)

    again = await _run(db, body)
    assert (again.status, again.applied, again.unchanged, again.rejected) == (
        "committed", 0, 18, 0)
    assert await _count(db, "domain_event") == await db.fetchval(
        "SELECT count(*) FROM domain_event WHERE payload ? 'batch'") == queued

    # Everything sent again under new versions: nothing changes but the versions.
    bumped = _body([{**r, "version": 2} for r in _example()])
    third = await _run(db, bumped)
    assert (third.applied, third.unchanged) == (0, 18)
    assert await db.fetchval("SELECT min(version) FROM feed_record") == 2
    row = await db.fetchrow("SELECT status, applied, unchanged FROM feed_batch WHERE id = $1",
                            third.id)
    assert tuple(row) == ("committed", 0, 18)


async def test_a_coil_whose_weight_disagrees_rejects_the_whole_batch(db: Database) -> None:
    records = _example()
    coil = next(r for r in records if r["key"] == "CR26-40071-01A")
    coil["data"]["weightKg"] = "11000.0"
    result = await _run(db, _body(records))
    assert result.status == "rejected" and result.applied == 0
    rejection, *followers = result.rejections
    assert (rejection.key, rejection.field, rejection.code) == (
        "CR26-40071-01A", "data.parents.0.outputWeightKg", "INVALID")
    assert "disagrees" in rejection.reason
    # What names the coil finds none: its inspection, its certificate and the shipment
    # carrying it.
    assert [(r.kind, r.code) for r in followers] == [
        ("inspection", "NOT_FOUND"), ("certificate", "NOT_FOUND"), ("shipment", "NOT_FOUND")]
    assert await _count(db, "coil") == 0
    assert await _count(db, "domain_event") == 0


async def test_children_may_not_take_more_than_their_parent_weighed(db: Database) -> None:
    parent = _coil("HR1", "24000.0", {"slab": "S0"}, "24100.0")
    slits = [_coil(f"CR1{x}", "11900.0", {"coil": "HR1"}, "11950.0") for x in "ABC"]
    result = await _run(db, _body([_heat(0), _slab(0), parent, *slits]), mode="each")
    assert (result.applied, result.rejected) == (5, 1)
    [rejection] = result.rejections
    assert (rejection.key, rejection.field, rejection.code) == ("CR1C", "data.parents",
                                                                "INVALID")
    assert rejection.reason == "the children of HR1 take more than it weighed"
    assert await _count(db, "genealogy_edge") == 3

    # Across batches: the parent is taken already.
    later = await _run(db, _body([_coil("CR1D", "11900.0", {"coil": "HR1"}, "11950.0")]))
    assert later.status == "rejected"
    assert later.rejections[0].reason == "the children of HR1 take more than it weighed"
    # A slab's children too, and a lighter child of its own is fine.
    slab = await _run(db, _body([_slab(1, kg="20000.0"),
                                 _coil("HR2", "12000.0", {"slab": "S1"}, "12000.0"),
                                 _coil("HR3", "9000.0", {"slab": "S1"}, "9000.0")]))
    assert slab.status == "rejected"
    assert slab.rejections[0].reason == "the children of S1 take more than it weighed"
    ok = await _run(db, _body([_slab(1, kg="20000.0"),
                               _coil("HR2", "12000.0", {"slab": "S1"}, "12000.0"),
                               _coil("HR3", "7900.0", {"slab": "S1"}, "7900.0")]))
    assert (ok.status, ok.applied) == ("committed", 3)


async def test_a_coil_reparented_releases_its_old_parent(db: Database) -> None:
    base = [_heat(0), _slab(0), _slab(1), _coil("HR1", "24000.0", {"slab": "S0"}, "24100.0")]
    assert (await _run(db, _body(base))).status == "committed"
    moved = _coil("HR1", "24000.0", {"slab": "S1"}, "24100.0", version=2)
    assert (await _run(db, _body([moved]))).applied == 1
    parents = await db.fetch("SELECT s.slab_no FROM genealogy_edge e JOIN slab s"
                             " ON s.id = e.parent_slab_id")
    assert [p["slab_no"] for p in parents] == ["S1"]
    # S0 is free again: another coil may take it.
    other = _coil("HR2", "24000.0", {"slab": "S0"}, "24100.0")
    assert (await _run(db, _body([other]))).status == "committed"


async def test_what_only_the_database_refuses_is_named_record_by_record(
        db: Database) -> None:
    coils = [_coil(f"HR{n}", "24000.0", {"slab": f"S{n}"}, "24100.0",
                   thickness="12345.000" if n == 3 else "3.000") for n in range(6)]
    result = await _run(db, _body([_heat(0), *[_slab(n) for n in range(6)], *coils]),
                        mode="each")
    assert (result.applied, result.rejected) == (12, 1)
    [rejection] = result.rejections
    assert (rejection.key, rejection.code) == ("HR3", "INVALID")
    assert rejection.reason.startswith("could not be written")
    assert await _count(db, "coil") == 5
    assert await _count(db, "genealogy_edge") == 5
    events = await db.fetch("SELECT payload->>'key' AS key FROM domain_event"
                            " WHERE event_type = 'coil.created' ORDER BY seq")
    assert [e["key"] for e in events] == ["HR0", "HR1", "HR2", "HR4", "HR5"]


async def test_rejections_are_listed_in_the_order_they_are_found(db: Database) -> None:
    body = _body([
        _heat(0),
        _coil("HR1", "24000.0", {"slab": "S9"}, "24100.0"),  # no such slab
        b"{not json",
        _slab(0),
        {"kind": "slab", "key": " S1", "version": 1, "data": {}},
        _rec("slab", "S2", {"heat": "H7", "weightKg": "1.0", "thicknessMm": "1.0",
                            "widthMm": "1.0", "lengthMm": "1.0",
                            "castAt": "2026-11-20T10:02:00+08:00"}),
        _rec("heat", "H1", {"grade": "DC04"}),
    ])
    result = await _run(db, body, mode="each")
    assert [(r.line, r.code) for r in result.rejections] == [
        (3, "MALFORMED"), (2, "NOT_FOUND"), (5, "INVALID"), (6, "NOT_FOUND"), (7, "INVALID")]
    assert (result.lines_read, result.applied, result.rejected) == (7, 2, 5)


async def test_versions_older_and_conflicting_and_repeated_in_one_file(db: Database) -> None:
    v1 = _coil("HR1", "24000.0", {"slab": "S0"}, "24100.0")
    v2 = _coil("HR1", "24000.0", {"slab": "S0"}, "24100.0", status="released", version=2)
    first = await _run(db, _body([_heat(0), _slab(0), v1, v2]))
    assert (first.status, first.applied) == ("committed", 4)
    assert await db.fetchval("SELECT quality_status FROM coil") == "released"
    assert await db.fetchval("SELECT version FROM feed_record WHERE key = 'HR1'") == 2
    stale = await _run(db, _body([v1]))
    assert (stale.stale, stale.applied) == (1, 0)
    clash = _coil("HR1", "24000.0", {"slab": "S0"}, "24100.0", status="blocked", version=2)
    conflict = await _run(db, _body([clash]))
    assert conflict.status == "rejected"
    assert (conflict.rejections[0].code, conflict.rejections[0].field) == ("CONFLICT",
                                                                           "version")
    types = [r["event_type"] for r in await db.fetch(
        "SELECT event_type FROM domain_event WHERE payload->>'key' = 'HR1' ORDER BY seq")]
    assert types == ["coil.created", "coil.updated", "coil.released"]


async def test_a_dry_run_writes_nothing(db: Database) -> None:
    result = await _run(db, EXAMPLE.read_bytes(), dry_run=True)
    assert (result.status, result.applied) == ("checked", 18)
    assert await _count(db, "coil") == 0
    assert await _count(db, "feed_record") == 0
    assert await _count(db, "domain_event") == 0


@pytest.mark.slow
async def test_many_chunks_with_shared_parents(db: Database) -> None:
    """More coils than a chunk holds, slit two by two, with a bad one deep inside."""
    hot = batch.CHUNK + 500
    records: list[dict[str, Any]] = [_heat(0)]
    records += [_slab(n) for n in range(hot)]
    records += [_coil(f"HR{n}", "24000.0", {"slab": f"S{n}"}, "24100.0") for n in range(hot)]
    for n in range(hot):
        for x in "AB":
            kg = "11900.0" if not (n == hot - 7 and x == "B") else "12500.0"
            records.append(_coil(f"CR{n}{x}", kg, {"coil": f"HR{n}"}, kg,
                                 status="released"))
    result = await _run(db, _body(records), mode="each")
    assert (result.applied, result.rejected) == (len(records) - 1, 1)
    assert result.rejections[0].key == f"CR{hot - 7}B"
    assert result.rejections[0].reason == f"the children of HR{hot - 7} take more than it weighed"
    assert await _count(db, "genealogy_edge") == 3 * hot - 1
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type"
                             " = 'coil.released'") == 2 * hot - 1
    assert await db.fetchval("SELECT count(*) FROM domain_event") == len(records) - 1 + (
        2 * hot - 1)
    seqs = [r["key"] for r in await db.fetch(
        "SELECT payload->>'key' AS key FROM domain_event WHERE event_type = 'slab.created'"
        " ORDER BY seq")]
    assert seqs == [f"S{n}" for n in range(hot)]


async def test_one_record_by_hand_and_one_fed_alone(db: Database) -> None:
    assert (await _run(db, _body([_heat(0), _slab(0)]))).status == "committed"
    staff = Actor("quality.li", 1, frozenset({"quality"}), False)
    row_id = await apply_record(db, staff, "coil", "HR1", _coil(
        "HR1", "24000.0", {"slab": "S0"}, "24100.0")["data"])
    assert row_id == await db.fetchval("SELECT id FROM coil WHERE coil_no = 'HR1'")
    # A key first written by hand is kept at version 0, whatever is edited after.
    assert await db.fetchval("SELECT version FROM feed_record WHERE key = 'HR1'") == 0
    again = await apply_record(db, staff, "coil", "HR1", _coil(
        "HR1", "24000.0", {"slab": "S0"}, "24100.0", status="blocked")["data"])
    assert again == row_id
    assert await db.fetchval("SELECT version FROM feed_record WHERE key = 'HR1'") == 0
    alone = await _run(db, _body([_coil("HR1", "24000.0", {"slab": "S0"}, "24100.0",
                                        status="released", version=3)]))
    assert (alone.status, alone.applied) == ("committed", 1)
    types = [r["event_type"] for r in await db.fetch(
        "SELECT event_type FROM domain_event WHERE payload->>'key' = 'HR1' ORDER BY seq")]
    assert types == ["coil.created", "coil.updated", "coil.blocked", "coil.updated",
                     "coil.released"]
    actors = {r["actor"] for r in await db.fetch(
        "SELECT actor FROM domain_event WHERE payload->>'key' = 'HR1'")}
    assert actors == {"quality.li", "plant-erp"}


async def _slowly(records: list[dict[str, Any]], pause: float) -> AsyncIterator[bytes]:
    for record in records:
        yield _body([record])
        await asyncio.sleep(pause)


async def test_progress_is_written_and_never_waits_for_a_connection(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress goes to the batch's row from a second connection while the batch runs;
    batches that hold every connection of the pool leave their progress out rather than
    wait for each other."""
    monkeypatch.setattr(batch, "_PROGRESS_SECONDS", 0.0)
    db = await Database.connect(database_url, min_size=1, max_size=2)
    try:
        seen: list[tuple[str, int]] = []
        watcher = await asyncpg.connect(database_url)

        async def watch(result: BatchResult) -> None:
            row = await watcher.fetchrow(
                "SELECT status, lines_read FROM feed_batch WHERE id = $1", result.id)
            seen.append((row["status"], row["lines_read"]))

        alone = await run_batch(db, SYSTEM, ndjson_lines(_slowly(
            [_heat(0), _slab(0), _heat(1)], 0.05)), on_progress=watch)
        await watcher.close()
        assert alone.status == "committed"
        assert ("running", 2) in seen and ("running", 3) in seen
        # The result commits with the records: the last report reads it.
        assert seen[-1] == ("committed", 3)

        both = await asyncio.wait_for(asyncio.gather(*(
            run_batch(db, SYSTEM, ndjson_lines(_slowly(
                [_heat(n), _slab(n, heat=n), _heat(n + 10)], 0.3)))
            for n in (2, 3))), 30)
        assert [b.status for b in both] == ["committed", "committed"]
        rows = await db.fetch("SELECT status, lines_read FROM feed_batch WHERE id = ANY($1)",
                              [b.id for b in both])
        assert sorted(tuple(r) for r in rows) == [("committed", 3), ("committed", 3)]
    finally:
        await db.close()


async def test_a_stream_that_breaks_off_fails_the_batch_and_writes_nothing(
        db: Database) -> None:
    """The stream is read a chunk ahead of what is written: its failure still ends the
    batch, with nothing of it kept."""

    async def broken() -> AsyncIterator[bytes]:
        yield _body([_heat(0), *[_slab(n) for n in range(batch.CHUNK + 10)]])
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await run_batch(db, SYSTEM, ndjson_lines(broken()))
    assert await db.fetchval("SELECT status FROM feed_batch") == "failed"
    assert await _count(db, "slab") == 0
    assert await _count(db, "feed_record") == 0
