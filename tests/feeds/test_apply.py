"""Records applied through the feeds: by key and version, all or nothing, references,
weights and custody checked, every change an event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from domain.actor import Actor
from domain.db import Database
from domain.errors import Conflict, Forbidden
from domain.feeds.batch import BatchResult, apply_record, ndjson_lines, run_batch
from domain.feeds.records import Rejection
from settings import PROJECT_ROOT

EXAMPLE = (PROJECT_ROOT / "docs" / "examples" / "plant.ndjson").read_bytes()
PLANT = Actor.system("keylink:test-plant")


def records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXAMPLE.splitlines()]


def body(docs: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(d, ensure_ascii=False).encode() + b"\n" for d in docs)


async def chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def feed(db: Database, data: bytes, actor: Actor = PLANT, **options: Any) -> BatchResult:
    return await run_batch(db, actor, ndjson_lines(chunks(data)), **options)


async def count(db: Database, table: str) -> int:
    n: int = await db.fetchval(f"SELECT count(*) FROM {table}")
    return n


def changed(doc: dict[str, Any], version: int, **data: Any) -> dict[str, Any]:
    return {**doc, "version": version, "data": {**doc["data"], **data}}


def of(kind: str, key: str) -> dict[str, Any]:
    return next(r for r in records() if r["kind"] == kind and r["key"] == key)


async def test_the_example_loads_and_its_replay_changes_nothing(db: Database) -> None:
    first = await feed(db, EXAMPLE)
    assert (first.status, first.applied, first.rejected) == ("committed", 18, 0)
    assert await count(db, "coil") == 3 and await count(db, "genealogy_edge") == 3
    assert await count(db, "shipment_leg") == 1 and await count(db, "leg_coil") == 2
    customer = await db.fetchval("SELECT id FROM organization WHERE code = 'CHERY'")
    assert await db.fetchval(
        "SELECT array_agg(org_id) FROM shipment_customer") == [customer]
    events = await count(db, "domain_event")
    assert await db.fetchval(
        "SELECT count(*) FROM domain_event WHERE event_type = 'shipment.created'"
        " AND org_id = $1", customer) == 1
    again = await feed(db, EXAMPLE)
    assert (again.status, again.applied, again.unchanged) == ("committed", 0, 18)
    assert await count(db, "domain_event") == events


async def test_an_older_version_never_overwrites_a_newer_one(db: Database) -> None:
    await feed(db, EXAMPLE)
    truck = of("vehicle", "TRK-AH-M1234")
    newer = await feed(db, body([changed(truck, 5, name="Truck renamed")]))
    assert (newer.applied, newer.stale) == (1, 0)
    older = await feed(db, body([changed(truck, 3, name="An old name")]))
    assert (older.applied, older.stale) == (0, 1)
    assert await db.fetchval("SELECT name FROM vehicle WHERE code = 'TRK-AH-M1234'") \
        == "Truck renamed"
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                             " 'vehicle.updated'") == 1


async def test_the_same_version_with_other_data_is_a_conflict(db: Database) -> None:
    await feed(db, EXAMPLE)
    result = await feed(db, body([changed(of("vehicle", "TRK-AH-M1234"), 1, name="x")]))
    assert result.status == "rejected"
    assert [(r.line, r.field, r.code) for r in result.rejections] == [(1, "version", "CONFLICT")]


async def test_one_bad_record_writes_nothing_and_is_named(db: Database) -> None:
    docs = records()
    docs[12] = changed(docs[12], 1, heat="H-NO-SUCH")  # the hot-rolled coil
    result = await feed(db, body(docs))
    assert result.status == "rejected" and result.applied == 0
    first = result.rejections[0]
    assert (first.line, first.kind, first.key, first.field, first.code) == (
        13, "coil", "HR26-40071-01", "data.heat", "NOT_FOUND")
    # Its children name it as parent, and what names them is refused too: each is listed.
    assert [r.line for r in result.rejections] == [13, 14, 15, 16, 17, 18]
    for table in ("organization", "site", "coil", "shipment", "feed_record", "domain_event"):
        assert await count(db, table) == 0, table
    assert await db.fetchval("SELECT status FROM feed_batch WHERE id = $1", result.id) \
        == "rejected"


async def test_per_record_mode_writes_the_good_ones(db: Database) -> None:
    docs = records()
    docs.insert(3, {"kind": "site", "key": "NOWHERE", "version": 1,
                    "data": {"name": "x", "kind": "port", "latitude": 91, "longitude": 0,
                             "geofenceRadiusM": 10}})
    result = await feed(db, body(docs), mode="each")
    assert (result.status, result.applied, result.rejected) == ("committed", 18, 1)
    assert (result.rejections[0].line, result.rejections[0].field) == (4, "data.latitude")
    assert await count(db, "site") == 2


async def test_a_dry_run_checks_everything_and_writes_nothing(db: Database) -> None:
    result = await feed(db, EXAMPLE, dry_run=True)
    assert (result.status, result.applied) == ("checked", 18)
    assert await count(db, "organization") == 0 and await count(db, "feed_record") == 0


async def test_children_take_no_more_than_their_parent_weighed(db: Database) -> None:
    docs = records()
    third = changed(of("coil", "CR26-40071-01B"), 1, weightKg="11900.0", parents=[
        {"coil": "HR26-40071-01", "operation": "slit", "inputWeightKg": "11950.0",
         "outputWeightKg": "11900.0", "occurredAt": "2026-11-29T10:00:00+08:00"}])
    third["key"] = "CR26-40071-01C"
    docs.insert(15, third)
    result = await feed(db, body(docs))
    assert result.status == "rejected"
    assert (result.rejections[0].line, result.rejections[0].field) == (16, "data.parents")
    assert "HR26-40071-01 take more than it weighed" in result.rejections[0].reason


async def test_a_coil_travels_on_one_open_shipment(db: Database) -> None:
    await feed(db, EXAMPLE)
    second = of("shipment", "SH-2026-12-0042")
    second["key"] = "SH-2026-12-0043"
    result = await feed(db, body([second]))
    assert [(r.field, r.code) for r in result.rejections] == [("data.legs.0.coils", "CONFLICT")]
    assert "CR26-40071-01A is on open shipment SH-2026-12-0042" in result.rejections[0].reason


async def test_each_leg_starts_where_the_previous_one_ended(db: Database) -> None:
    await feed(db, EXAMPLE)
    shipment = of("shipment", "SH-2026-12-0042")
    leg = shipment["data"]["legs"][0]
    result = await feed(db, body([changed(shipment, 2, legs=[leg, {
        **leg, "origin": "MS-PLANT", "destination": "CHERY-WUHU", "coils": []}])]))
    assert [(r.field, r.reason) for r in result.rejections] == [
        ("data.legs.1.origin", "each leg starts where the previous one ended")]


async def test_a_leg_that_has_left_keeps_its_vehicle_and_manifest(db: Database) -> None:
    await feed(db, EXAMPLE)
    await db.execute("UPDATE shipment_leg SET status = 'departed'")
    shipment = of("shipment", "SH-2026-12-0042")
    leg = shipment["data"]["legs"][0]
    fewer = await feed(db, body([changed(shipment, 2, legs=[{**leg, "coils": leg["coils"][:1]}])]))
    assert [(r.field, r.code) for r in fewer.rejections] == [("data.legs.0", "CONFLICT")]
    later = await feed(db, body([changed(shipment, 3, legs=[
        {**leg, "plannedArrival": "2026-12-08T14:00:00+08:00"}])]))
    assert later.applied == 1
    assert await count(db, "leg_coil") == 2
    retire = await feed(db, body([{"kind": "shipment", "key": "SH-2026-12-0042",
                                   "version": 4, "retire": True}]))
    assert retire.rejections[0].reason == "shipment SH-2026-12-0042 has left: it cannot be " \
        "cancelled"


async def test_retiring_disables_cancels_or_removes(db: Database) -> None:
    await feed(db, EXAMPLE)
    result = await feed(db, body([
        {"kind": "device", "key": "gps-m1234", "version": 2, "retire": True},
        {"kind": "shipment", "key": "SH-2026-12-0042", "version": 2, "retire": True},
        {"kind": "heat", "key": "H26-40071", "version": 2, "retire": True},
    ]), mode="each")
    assert (result.retired, result.rejected) == (2, 1)
    assert result.rejections[0].key == "H26-40071"
    assert result.rejections[0].reason.startswith("still referenced by")
    assert await db.fetchval("SELECT enabled FROM device WHERE code = 'gps-m1234'") is False
    assert await db.fetchval("SELECT status FROM shipment") == "cancelled"
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                             " 'shipment.cancelled'") == 1
    spec = {"kind": "spec", "key": "SPARE", "version": 1, "data": {
        "grade": "DC01", "standard": "EN 10130", "product": "cold_rolled",
        "thicknessMm": "1.0", "widthMm": "1000"}}
    await feed(db, body([spec, {"kind": "spec", "key": "SPARE", "version": 2, "retire": True}]))
    assert await db.fetchval("SELECT count(*) FROM steel_spec WHERE code = 'SPARE'") == 0


async def test_a_token_writes_only_the_kinds_it_names(db: Database) -> None:
    erp = Actor("erp@mill", 1, frozenset({"integration"}), False, frozenset({"organization"}))
    result = await feed(db, EXAMPLE[:EXAMPLE.index(b'{"kind":"spec"')], erp, mode="each")
    assert result.applied == 3
    assert {(r.kind, r.code) for r in result.rejections} == {("site", "FORBIDDEN")}
    staff = Actor("admin@mill", 1, frozenset({"admin"}), False)
    with pytest.raises(Forbidden):
        await feed(db, EXAMPLE, staff)


async def test_an_edit_by_hand_yields_to_the_sources_next_change(db: Database) -> None:
    await feed(db, EXAMPLE)
    logistics = Actor("li@mill", 1, frozenset({"logistics"}), False)
    truck = of("vehicle", "TRK-AH-M1234")
    await apply_record(db, logistics, "vehicle", truck["key"],
                       {**truck["data"], "name": "Edited"})
    replay = await feed(db, EXAMPLE)
    assert replay.unchanged == 18
    assert await db.fetchval("SELECT name FROM vehicle") == "Edited"
    await feed(db, body([changed(truck, 2, name="From the TMS")]))
    assert await db.fetchval("SELECT name FROM vehicle") == "From the TMS"
    with pytest.raises(Conflict) as refused:
        second = of("shipment", "SH-2026-12-0042")
        await apply_record(db, logistics, "shipment", "SH-OTHER", second["data"])
    assert refused.value.field == "legs.0.coils"
    with pytest.raises(Forbidden):
        await apply_record(db, Actor("s@mill", 1, frozenset({"sales"}), False), "vehicle",
                           truck["key"], truck["data"])


async def test_lines_are_read_however_the_bytes_are_cut() -> None:
    data = b'{"a":1}\n\n  \n{"b":2}\n' + b"x" * 50 + b"\n{\"c\":3}"
    for size in (1, 2, 3, 7, 64):
        got = [line async for line in ndjson_lines(chunks(data, size), max_line=20)]
        assert got[:2] == [(1, b'{"a":1}'), (4, b'{"b":2}')]
        assert isinstance(got[2], Rejection) and (got[2].line, got[2].code) == (5, "TOO_LARGE")
        assert got[3] == (6, b'{"c":3}')


async def test_malformed_envelopes_are_named(db: Database) -> None:
    result = await feed(db, b'not json\n[1]\n{"kind":"coil"}\n{"kind":"ufo","key":"k",'
                        b'"version":1,"data":{}}\n{"kind":"site","key":"S","version":"yesterday",'
                        b'"data":{}}\n{"kind":"site","key":"S","version":1,"data":{},"x":1}\n')
    assert [(r.line, r.code, r.field) for r in result.rejections] == [
        (1, "MALFORMED", None), (2, "MALFORMED", None), (3, "INVALID", "key"),
        (4, "UNKNOWN_KIND", "kind"), (5, "INVALID", "version"), (6, "MALFORMED", "x")]


async def test_the_mill_stays_the_mill(db: Database) -> None:
    await feed(db, EXAMPLE)
    mill = changed(of("organization", "BSTEEL"), 2, kind="customer")
    chery = changed(of("organization", "CHERY"), 2, kind="mill")
    result = await feed(db, body([mill, chery]), mode="each")
    assert [(r.key, r.field, r.code) for r in result.rejections] == [
        ("BSTEEL", "data.kind", "CONFLICT"), ("CHERY", "data.kind", "CONFLICT")]
    assert await db.fetchval("SELECT kind FROM organization WHERE code = 'BSTEEL'") == "mill"


async def test_a_certificate_fed_is_checked_against_its_specs_limits(db: Database) -> None:
    await feed(db, EXAMPLE)
    assert await db.fetchrow(
        "SELECT q.limits_revision, c.quality_status FROM quality_certificate q"
        " JOIN coil c ON c.id = q.coil_id") == (1, "released")
    issued = await db.fetchrow("SELECT aggregate_type, aggregate_id, org_id FROM domain_event"
                               " WHERE event_type = 'quality.certificate_issued'")
    coil = await db.fetchrow("SELECT id, customer_org_id FROM coil"
                             " WHERE coil_no = 'CR26-40071-01A'")
    assert tuple(issued) == ("coil", coil["id"], coil["customer_org_id"])
    soft = of("certificate", "QC-CR26-40071-01A")
    result = await feed(db, body([changed(soft, 2, yieldStrengthMpa="120.0")]))
    assert [(r.code, r.field) for r in result.rejections] == [
        ("OUT_OF_SPEC", "data.yieldStrengthMpa")]
    # Limits tightened by the next version of the spec: a new revision, which the
    # certificate issued again is checked against and names.
    spec = of("spec", "DC04-0.8x1250")
    tighter = {**spec["data"]["limits"], "yieldStrengthMpa": {"min": "140", "max": "170"}}
    await feed(db, body([changed(spec, 2, limits=tighter)]))
    assert await db.fetchval("SELECT limits_revision FROM steel_spec") == 2
    again = await feed(db, body([changed(soft, 3, yieldStrengthMpa="168.0")]))
    assert again.applied == 1
    assert await db.fetchval("SELECT limits_revision FROM quality_certificate") == 2


async def test_two_writers_cannot_put_one_coil_on_two_shipments(db: Database) -> None:
    import asyncio

    await feed(db, body(r for r in records() if r["kind"] != "shipment"))
    first, second = of("shipment", "SH-2026-12-0042"), of("shipment", "SH-2026-12-0042")
    second["key"] = "SH-2026-12-0043"
    go_on = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        # The shipment's chunk is applied once a record of another kind follows it; the
        # batch's transaction then stays open until told to go on.
        yield body([first, of("vehicle", "TRK-AH-M1234")])
        await go_on.wait()

    one = asyncio.create_task(run_batch(db, PLANT, ndjson_lines(slow())))
    await asyncio.sleep(0.5)
    logistics = Actor("li@mill", 1, frozenset({"logistics"}), False)
    two = asyncio.create_task(apply_record(db, logistics, "shipment", second["key"],
                                           second["data"]))
    await asyncio.sleep(0.5)
    assert not two.done()  # waiting for the first writer's coils
    go_on.set()
    assert (await one).applied == 1
    with pytest.raises(Conflict):
        await two
    assert await count(db, "shipment") == 1
