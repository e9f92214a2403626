"""Records written by hand over GraphQL (`putSite`, `putSpec`, `putVehicle`, `putDevice`,
`putShipment`, `retireRecord`): the plant feeds' checks, refusals named by the input's own
field paths, the roles of each kind, the object read back within the viewer's scope, and
an event in the outbox for every change."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.db import Database
from domain.feeds.records import version_of
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import NOW, World, build

LOGISTICS = token("BAOSTEEL", "logistics", subject="logistics.li")
QUALITY = token("BAOSTEEL", "quality", subject="quality.wu")
SALES = token("BAOSTEEL", "sales", subject="sales.zhang")
FAW = token("FAW-VW", subject="buyer.faw")
ERRORS = "errors { field message code }"

PUT_SITE = f"""mutation($input: PutSiteInput!) {{ putSite(input: $input) {{
    site {{ id code name kind latitude longitude geofence geofenceRadiusM timeZone
            owner {{ code }} }} {ERRORS} }} }}"""
PUT_VEHICLE = f"""mutation($input: PutVehicleInput!) {{ putVehicle(input: $input) {{
    vehicle {{ code kind name plate mmsi }} {ERRORS} }} }}"""
PUT_DEVICE = f"""mutation($input: PutDeviceInput!) {{ putDevice(input: $input) {{
    device {{ code kind enabled vehicle {{ code }} }} {ERRORS} }} }}"""
PUT_SPEC = f"""mutation($input: PutSpecInput!) {{ putSpec(input: $input) {{
    spec {{ code grade product thicknessMm widthMm customerPartNumber coilNominalWeightT }}
    {ERRORS} }} }}"""
SHIPMENT_FIELDS = """id number status legs { seq mode status origin { code }
    destination { code } vehicle { code } plannedDeparture promisedBy
    coils { nodes { coilNo } } }"""
PUT_SHIPMENT = f"""mutation($input: PutShipmentInput!) {{ putShipment(input: $input) {{
    shipment {{ {SHIPMENT_FIELDS} }} {ERRORS} }} }}"""
RETIRE = f"""mutation($input: RetireRecordInput!) {{ retireRecord(input: $input) {{
    retired shipment {{ number status legs {{ status }} }} {ERRORS} }} }}"""
READ_SHIPMENT = f"""query($number: String!) {{ shipment(number: $number) {{
    {SHIPMENT_FIELDS} }} }}"""
DEPARTS = NOW + timedelta(days=1)
TIMED = "2026-12-07T08:00:00+08:00"


@pytest.fixture
async def world(api: Api) -> World:
    return await build(api.db)


async def _put(api: Api, mutation: str, input: dict[str, Any], as_: str) -> dict[str, Any]:
    data = await api.data(mutation, {"input": input}, as_=as_)
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


def _errors(payload: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def _events(db: Database, event_type: str) -> list[tuple[str | None, str | None]]:
    """(customer's code, actor) of each event of ``event_type``, in order."""
    rows = await db.fetch(
        "SELECT o.code, e.actor FROM domain_event e LEFT JOIN organization o ON o.id = e.org_id"
        " WHERE e.event_type = $1 ORDER BY e.seq", event_type)
    return [(r["code"], r["actor"]) for r in rows]


async def _written(db: Database) -> tuple[int, int, int, int]:
    """Everything a put could have written: shipments, legs, feed records, events."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM shipment) AS s, (SELECT count(*) FROM shipment_leg) AS l,"
        " (SELECT count(*) FROM feed_record) AS f, (SELECT count(*) FROM domain_event) AS e")
    assert row is not None
    return row["s"], row["l"], row["f"], row["e"]


def _leg(origin: str, destination: str, coils: list[str], *, vehicle: str | None = "TRK-9",
         hours: int = 0) -> dict[str, Any]:
    leg: dict[str, Any] = {
        "mode": "ROAD", "originCode": origin, "destinationCode": destination,
        "plannedDeparture": (DEPARTS + timedelta(hours=hours)).isoformat(),
        "plannedArrival": (DEPARTS + timedelta(hours=hours + 4)).isoformat(),
        "promisedBy": (DEPARTS + timedelta(days=3)).isoformat(), "coilNumbers": coils}
    if vehicle is not None:
        leg["vehicleCode"] = vehicle
    return leg


async def _dock_and_truck(api: Api) -> None:
    site = await _put(api, PUT_SITE, {"code": "DOCK-9", "name": "Luojing dock 9",
                                      "kind": "PORT", "latitude": 31.42, "longitude": 121.51,
                                      "geofenceRadiusM": 400}, LOGISTICS)
    assert site["errors"] == []
    vehicle = await _put(api, PUT_VEHICLE, {"code": "TRK-9", "kind": "TRUCK",
                                            "name": "Truck 9", "plate": "沪A99999"}, LOGISTICS)
    assert vehicle["errors"] == []


async def test_logistics_records_a_site_a_vehicle_and_a_shipment_and_reads_them_back(
    api: Api, world: World
) -> None:
    fence = {"type": "Polygon", "coordinates": [[[125.29, 43.89], [125.31, 43.89],
                                                  [125.31, 43.91], [125.29, 43.89]]]}
    site = await _put(api, PUT_SITE, {
        "code": "WH-FAW-2", "name": "FAW-VW press shop 2", "kind": "CUSTOMER_WAREHOUSE",
        "organizationCode": "FAW-VW", "latitude": 43.9, "longitude": 125.3,
        "geofence": fence, "timeZone": "Asia/Harbin"}, LOGISTICS)
    assert site["errors"] == []
    assert site["site"] | {"id": None} == {
        "id": None, "code": "WH-FAW-2", "name": "FAW-VW press shop 2",
        "kind": "CUSTOMER_WAREHOUSE", "latitude": 43.9, "longitude": 125.3,
        "geofence": fence, "geofenceRadiusM": None, "timeZone": "Asia/Harbin",
        "owner": {"code": "FAW-VW"}}
    await _dock_and_truck(api)

    put = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0", "GALANZ-0"])]}, LOGISTICS)
    assert put["errors"] == []
    shipment = put["shipment"]
    assert (shipment["number"], shipment["status"]) == ("SH-9", "PLANNED")
    [leg] = shipment["legs"]
    assert (leg["seq"], leg["mode"], leg["status"]) == (1, "ROAD", "PLANNED")
    assert (leg["origin"], leg["destination"], leg["vehicle"]) == (
        {"code": "BAOSHAN"}, {"code": "DOCK-9"}, {"code": "TRK-9"})
    assert {c["coilNo"] for c in leg["coils"]["nodes"]} == {"FAW-VW-0", "GALANZ-0"}

    # Read back as anyone reads it: the list, and a customer seeing its own coils only.
    listed = await api.data("{ shipments { nodes { number } } }", as_=LOGISTICS)
    assert listed["shipments"]["nodes"] == [{"number": "SH-9"}]
    seen = await api.data("""query($id: ID!) { node(id: $id) { ... on Shipment {
        number coils { nodes { coilNo } } } } }""", {"id": shipment["id"]}, as_=FAW)
    assert seen["node"] == {"number": "SH-9", "coils": {"nodes": [{"coilNo": "FAW-VW-0"}]}}

    # Each change is announced, by whom; a shipment to each customer of its coils.
    assert await _events(api.db, "site.created") == [(None, "logistics.li")] * 2
    assert await _events(api.db, "vehicle.created") == [(None, "logistics.li")]
    assert sorted(await _events(api.db, "shipment.created")) == [
        ("FAW-VW", "logistics.li"), ("GALANZ", "logistics.li")]
    # Written by hand, in no batch: the record's version row and its events name none.
    recorded = await api.db.fetchrow("SELECT version, batch_id FROM feed_record"
                                     " WHERE kind = 'shipment' AND key = 'SH-9'")
    assert recorded is not None and (recorded["version"], recorded["batch_id"]) == (0, None)
    payload = await api.db.fetchval("SELECT payload FROM domain_event"
                                    " WHERE event_type = 'shipment.created' LIMIT 1")
    assert payload == {"number": "SH-9", "key": "SH-9", "version": 0, "legs": 1}

    # A second put replaces the record whole and says so.
    again = await _put(api, PUT_SITE, {"code": "DOCK-9", "name": "Luojing dock 9 (east)",
                                       "kind": "PORT", "latitude": 31.42, "longitude": 121.51,
                                       "geofenceRadiusM": 600}, LOGISTICS)
    assert (again["site"]["name"], again["site"]["geofenceRadiusM"]) == (
        "Luojing dock 9 (east)", 600)
    assert await _events(api.db, "site.updated") == [(None, "logistics.li")]


async def test_a_leg_that_starts_elsewhere_than_the_last_ended_is_refused_by_its_field(
    api: Api, world: World
) -> None:
    await _dock_and_truck(api)
    first = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0"])]}, LOGISTICS)
    assert first["errors"] == []
    before = await _written(api.db)

    broken = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0"]),
        _leg("WH-GALANZ", "WH-FAW-VW", [], hours=8)]}, LOGISTICS)
    assert broken["shipment"] is None
    assert _errors(broken) == [("legs.1.originCode", "INVALID")]
    assert "where the previous one ended" in broken["errors"][0]["message"]
    unknown = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0", "NO-SUCH-COIL"])]}, LOGISTICS)
    assert _errors(unknown) == [("legs.0.coilNumbers.1", "NOT_FOUND")]
    no_truck = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", [], vehicle="TRK-404")]}, LOGISTICS)
    assert _errors(no_truck) == [("legs.0.vehicleCode", "NOT_FOUND")]

    assert await _written(api.db) == before
    shipment = (await api.data(READ_SHIPMENT, {"number": "SH-9"}, as_=LOGISTICS))["shipment"]
    assert [(g["origin"]["code"], g["destination"]["code"]) for g in shipment["legs"]] == [
        ("BAOSHAN", "DOCK-9")]
    assert shipment["legs"][0]["coils"]["nodes"] == [{"coilNo": "FAW-VW-0"}]


async def test_a_coil_on_an_open_shipment_is_refused(api: Api, world: World) -> None:
    await _dock_and_truck(api)
    first = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0"])]}, LOGISTICS)
    assert first["errors"] == []
    second = await _put(api, PUT_SHIPMENT, {"number": "SH-10", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-1", "FAW-VW-0"])]}, LOGISTICS)
    assert second["shipment"] is None
    assert _errors(second) == [("legs.0.coilNumbers", "CONFLICT")]
    assert "FAW-VW-0" in second["errors"][0]["message"]
    assert "SH-9" in second["errors"][0]["message"]
    assert (await api.data(READ_SHIPMENT, {"number": "SH-10"}, as_=LOGISTICS)) == {
        "shipment": None}


async def test_a_customer_and_a_sales_user_write_nothing(api: Api, world: World) -> None:
    await _dock_and_truck(api)
    before = await _written(api.db)
    refused = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0"])]}, FAW)
    assert (refused["shipment"], _errors(refused)) == (None, [(None, "FORBIDDEN")])
    site = await _put(api, PUT_SITE, {"code": "WH-FAW-VW", "name": "Mine now",
                                      "kind": "CUSTOMER_WAREHOUSE", "latitude": 0,
                                      "longitude": 0, "geofenceRadiusM": 1}, FAW)
    assert _errors(site) == [(None, "FORBIDDEN")]
    retire = await _put(api, RETIRE, {"kind": "VEHICLE", "key": "TRK-9"}, FAW)
    assert (retire["retired"], _errors(retire)) == (False, [(None, "FORBIDDEN")])

    vehicle = await _put(api, PUT_VEHICLE, {"code": "TRK-10", "kind": "TRUCK",
                                            "name": "Truck 10"}, SALES)
    assert vehicle["vehicle"] is None
    assert vehicle["errors"] == [{"field": None, "code": "FORBIDDEN",
                                  "message": "this needs the role logistics or admin"}]
    assert await _written(api.db) == before
    names = await api.db.fetch("SELECT code, name FROM site ORDER BY code")
    assert ("WH-FAW-VW", "WH-FAW-VW") in [(r["code"], r["name"]) for r in names]
    assert await api.db.fetchval("SELECT count(*) FROM vehicle WHERE code = 'TRK-10'") == 0


async def test_quality_records_a_spec_with_its_customer(api: Api, world: World) -> None:
    spec = {"code": "SP-FAW-DC06", "grade": "DC06", "standard": "EN 10130",
            "product": "COLD_ROLLED", "thicknessMm": "0.7", "widthMm": "1500",
            "customerCode": "FAW-VW", "customerPartNumber": "5G0-809-605"}
    put = await _put(api, PUT_SPEC, spec, QUALITY)
    assert put["errors"] == []
    assert put["spec"] == {"code": "SP-FAW-DC06", "grade": "DC06", "product": "COLD_ROLLED",
                           "thicknessMm": "0.700", "widthMm": "1500.0",
                           "customerPartNumber": "5G0-809-605", "coilNominalWeightT": "12.000"}
    assert await _events(api.db, "spec.created") == [(None, "quality.wu")]

    alone = await _put(api, PUT_SPEC, spec | {"customerPartNumber": None}, QUALITY)
    assert _errors(alone) == [("customerPartNumber", "INVALID")]
    stranger = await _put(api, PUT_SPEC, spec | {"customerCode": "NOBODY"}, QUALITY)
    assert _errors(stranger) == [("customerCode", "NOT_FOUND")]
    fine = await _put(api, PUT_SPEC, spec | {"thicknessMm": "0.7001"}, QUALITY)
    assert _errors(fine) == [("thicknessMm", "INVALID")]
    logistics = await _put(api, PUT_SPEC, spec, LOGISTICS)
    assert _errors(logistics) == [(None, "FORBIDDEN")]
    assert await api.db.fetchval(
        "SELECT thickness_mm FROM steel_spec WHERE code = 'SP-FAW-DC06'") == Decimal("0.7")


async def test_retiring_a_shipment_cancels_it_and_frees_its_coils(
    api: Api, world: World
) -> None:
    await _dock_and_truck(api)
    put = await _put(api, PUT_SHIPMENT, {"number": "SH-9", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0"])]}, LOGISTICS)
    assert put["errors"] == []

    retired = await _put(api, RETIRE, {"kind": "SHIPMENT", "key": "SH-9"}, LOGISTICS)
    assert retired == {"retired": True, "errors": [], "shipment": {
        "number": "SH-9", "status": "CANCELLED", "legs": [{"status": "CANCELLED"}]}}
    assert await _events(api.db, "shipment.cancelled") == [("FAW-VW", "logistics.li")]
    again = await _put(api, PUT_SHIPMENT, {"number": "SH-10", "legs": [
        _leg("BAOSHAN", "DOCK-9", ["FAW-VW-0"])]}, LOGISTICS)
    assert again["errors"] == []

    # What a leg still names cannot go; what nothing names does, once.
    site = await _put(api, RETIRE, {"kind": "SITE", "key": "DOCK-9"}, LOGISTICS)
    assert (site["retired"], _errors(site)) == (False, [(None, "CONFLICT")])
    spare = await _put(api, PUT_VEHICLE, {"code": "TRK-10", "kind": "TRUCK",
                                          "name": "Truck 10"}, LOGISTICS)
    assert spare["errors"] == []
    gone = await _put(api, RETIRE, {"kind": "VEHICLE", "key": "TRK-10"}, LOGISTICS)
    assert gone == {"retired": True, "shipment": None, "errors": []}
    assert (await api.data('{ vehicle(code: "TRK-10") { code } }', as_=LOGISTICS)) == {
        "vehicle": None}
    assert await _events(api.db, "vehicle.retired") == [(None, "logistics.li")]
    twice = await _put(api, RETIRE, {"kind": "VEHICLE", "key": "TRK-10"}, LOGISTICS)
    assert _errors(twice) == [("key", "NOT_FOUND")]


async def test_a_device_is_recorded_by_its_code_and_retired_by_disabling_it(
    api: Api, world: World
) -> None:
    await _dock_and_truck(api)
    unknown = await _put(api, PUT_DEVICE, {"code": "gps-9", "kind": "GPS_UNIT",
                                           "vehicleCode": "TRK-404"}, LOGISTICS)
    assert (unknown["device"], _errors(unknown)) == (None, [("vehicleCode", "NOT_FOUND")])
    system = await _put(api, PUT_DEVICE, {"code": "keylink-ingest-1", "kind": "SCANNER"},
                        LOGISTICS)
    assert _errors(system) == [("code", "INVALID")]
    put = await _put(api, PUT_DEVICE, {"code": "gps-9", "kind": "GPS_UNIT",
                                       "vehicleCode": "TRK-9"}, LOGISTICS)
    assert put == {"device": {"code": "gps-9", "kind": "GPS_UNIT", "enabled": True,
                              "vehicle": {"code": "TRK-9"}}, "errors": []}
    row = await api.db.fetchrow("SELECT d.kind, d.enabled, v.code AS vehicle FROM device d"
                                " JOIN vehicle v ON v.id = d.vehicle_id WHERE d.code = 'gps-9'")
    assert row is not None and (row["kind"], row["enabled"], row["vehicle"]) == (
        "gps_unit", True, "TRK-9")
    retired = await _put(api, RETIRE, {"kind": "DEVICE", "key": "gps-9"}, LOGISTICS)
    assert (retired["retired"], retired["errors"]) == (True, [])
    assert await api.db.fetchval("SELECT enabled FROM device WHERE code = 'gps-9'") is False
    assert [e for e, _ in await _events(api.db, "device.registered")] == [None]
    assert len(await _events(api.db, "device.disabled")) == 1


async def test_a_version_older_than_the_stored_one_changes_nothing(
    api: Api, world: World
) -> None:
    truck = {"code": "TRK-9", "kind": "TRUCK", "name": "Truck 9"}
    assert (await _put(api, PUT_VEHICLE, truck | {"version": "5"}, LOGISTICS))["errors"] == []
    older = await _put(api, PUT_VEHICLE, truck | {"name": "Old", "version": "3"}, LOGISTICS)
    assert (older["vehicle"], _errors(older)) == (None, [("version", "CONFLICT")])
    same = await _put(api, PUT_VEHICLE, truck | {"name": "Other", "version": "5"}, LOGISTICS)
    assert _errors(same) == [("version", "CONFLICT")]
    bad = await _put(api, PUT_VEHICLE, truck | {"version": "yesterday"}, LOGISTICS)
    assert _errors(bad) == [("version", "INVALID")]
    # A time is a version too, and one without a version leaves the stored one.
    at = await _put(api, PUT_VEHICLE, truck | {"name": "Timed", "version": TIMED}, LOGISTICS)
    assert at["vehicle"]["name"] == "Timed"
    plain = await _put(api, PUT_VEHICLE, truck | {"name": "By hand"}, LOGISTICS)
    assert plain["vehicle"]["name"] == "By hand"
    versions = await api.db.fetchval(
        "SELECT version FROM feed_record WHERE kind = 'vehicle' AND key = 'TRK-9'")
    assert versions == version_of(TIMED)
    assert await api.db.fetchval("SELECT name FROM vehicle WHERE code = 'TRK-9'") == "By hand"
    assert [e for e, _ in await _events(api.db, "vehicle.updated")] == [None, None]


async def test_a_sites_owner_decides_who_sees_it_and_its_fence_is_checked(
    api: Api, world: World
) -> None:
    put = await _put(api, PUT_SITE, {"code": "WH-GALANZ-2", "name": "GALANZ Foshan 2",
                                     "kind": "CUSTOMER_WAREHOUSE", "organizationCode": "GALANZ",
                                     "latitude": 23.0, "longitude": 113.1,
                                     "geofenceRadiusM": 300}, LOGISTICS)
    assert put["errors"] == []
    pk = await api.db.fetchval("SELECT id FROM site WHERE code = 'WH-GALANZ-2'")
    gid = put["site"]["id"]
    assert gid == to_global_id("Site", pk)
    node = "query($id: ID!) { node(id: $id) { ... on Site { code } } }"
    assert (await api.data(node, {"id": gid}, as_=token("GALANZ")))["node"] == {
        "code": "WH-GALANZ-2"}
    assert (await api.data(node, {"id": gid}, as_=FAW))["node"] is None

    site = {"code": "DOCK-10", "name": "Dock", "kind": "PORT", "latitude": 31.4,
            "longitude": 121.5}
    point = await _put(api, PUT_SITE, site | {"geofence": {"type": "Point",
                                                           "coordinates": [121.5, 31.4]}},
                       LOGISTICS)
    assert _errors(point) == [("geofence", "INVALID")]
    nothing = await _put(api, PUT_SITE, site, LOGISTICS)
    assert _errors(nothing) == [("geofence", "INVALID")]
    zone = await _put(api, PUT_SITE, site | {"geofenceRadiusM": 50, "timeZone": "Mars/Base"},
                      LOGISTICS)
    assert _errors(zone) == [("timeZone", "INVALID")]
    owner = await _put(api, PUT_SITE, site | {"geofenceRadiusM": 50,
                                              "organizationCode": "NOBODY"}, LOGISTICS)
    assert _errors(owner) == [("organizationCode", "NOT_FOUND")]
    assert await api.db.fetchval("SELECT count(*) FROM site WHERE code = 'DOCK-10'") == 0
