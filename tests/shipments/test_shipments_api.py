"""Shipments over GraphQL: lists and lookups, manifests, positions, tracks and events,
each seen by a customer only as far as its own coils go."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import redis.asyncio as aioredis

from api.app import create_app
from api.context import Services
from domain.db import Database, count_statements
from domain.shipments import reads as shipment_reads
from domain.shipments.detected import CUSTOMER_KINDS
from domain.shipments.positions import latest_key, live_group
from domain.tenancy import Scope
from resolvers.relay import to_global_id
from settings import Settings
from tests.support.api import CODEC, SETTINGS, Api, _client, token
from tests.support.factory import build
from tests.support.shipments import NOW, WAGON_FIXES, Tracking, build_tracking

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
MILL = ("BAOSTEEL", "logistics")
LIST = """query($filter: ShipmentFilter) { shipments(filter: $filter) {
    nodes { number status delayed } } }"""
SHIPMENT = """query($number: String!) { shipment(number: $number) {
    number status eta delayed customers { code }
    currentLeg { seq }
    legs { seq mode status delayed eta etaConfidence origin { code } destination { code }
           vehicle { code kind plate mmsi imo } coils { nodes { coilNo } } }
    coils { nodes { coilNo } }
    latestPosition { fixTime latitude longitude speedKmh heading accuracyM }
    events { nodes { kind occurredAt details leg { seq } } } } }"""
TRACK = """query($number: String!, $max: Int!) { shipment(number: $number) {
    track(maxPoints: $max) { fixTime latitude } } }"""


@pytest.fixture
async def world(api: Api) -> Tracking:
    return await build_tracking(api.db, await build(api.db))


def _numbers(data: dict) -> list[str]:
    return [s["number"] for s in data["shipments"]["nodes"]]


async def test_other_customers_shipments_and_vehicles_read_like_missing_ones(
    api: Api, world: Tracking
) -> None:
    await _walk(api, world)


async def test_the_walk_reads_alike_without_the_read_planner(api: Api, world: Tracking) -> None:
    async for resolved in _client(api.db, Settings(read_planner="off")):
        await _walk(resolved, world)


async def _walk(api: Api, world: Tracking) -> None:
    own = {"GALANZ": [("Shipment", world.shipment["galanz"]),
                      ("Vehicle", world.vehicle["SHIP-1"])],
           "FAW-VW": [("Shipment", world.shipment["faw"]), ("Vehicle", world.vehicle["WAG-1"])]}
    for owner, other in (("GALANZ", "FAW-VW"), ("FAW-VW", "GALANZ")):
        for type_name, pk in own[owner]:
            gid = to_global_id(type_name, pk)
            seen = await api.data(NODE, {"id": gid}, as_=token(owner))
            assert seen["node"] == {"__typename": type_name, "id": gid}
            stolen = await api.query(NODE, {"id": gid}, as_=token(other))
            missing = await api.query(NODE, {"id": to_global_id(type_name, 10**9)},
                                      as_=token(other))
            assert stolen == missing == {"data": {"node": None}}
    faw = token("FAW-VW")
    lookups = await api.data("""{ s: shipment(number: "SH-GALANZ") { number }
        v: vehicle(code: "SHIP-1") { code }
        other: shipments(filter: {mode: [WATER]}) { nodes { number } } }""", as_=faw)
    assert lookups == {"s": None, "v": None, "other": {"nodes": []}}
    track = await api.query("""query($id: ID!) { node(id: $id) { ... on Shipment {
        track { fixTime } } } }""", {"id": to_global_id("Shipment", world.shipment["galanz"])},
        as_=faw)
    assert track == {"data": {"node": None}}


async def test_a_customer_lists_the_shipments_that_carry_its_coils(
    api: Api, world: Tracking
) -> None:
    assert _numbers(await api.data(LIST, as_=token("FAW-VW"))) == ["SH-SHARED", "SH-FAW"]
    assert _numbers(await api.data(LIST, as_=token("GALANZ"))) == ["SH-SHARED", "SH-GALANZ"]
    staff = token(*MILL)
    assert _numbers(await api.data(LIST, as_=staff)) == ["SH-SHARED", "SH-GALANZ", "SH-FAW"]
    for flt, expected in (
        ({"status": ["LOADING"]}, ["SH-SHARED"]),
        ({"mode": ["RAIL", "WATER"]}, ["SH-GALANZ", "SH-FAW"]),
        ({"delayedOnly": True}, ["SH-FAW"]),
        ({"contractId": to_global_id("Contract", world.world.contract["GALANZ"])},
         ["SH-SHARED", "SH-GALANZ"]),
    ):
        assert _numbers(await api.data(LIST, {"filter": flt}, as_=staff)) == expected, flt
    page = await api.data("{ shipments(first: 1) { nodes { number } pageInfo { endCursor"
                          " hasNextPage } } }", as_=staff)
    cursor = page["shipments"]["pageInfo"]["endCursor"]
    assert page["shipments"]["pageInfo"]["hasNextPage"]
    rest = await api.data("query($a: String) { shipments(after: $a) { nodes { number } } }",
                          {"a": cursor}, as_=staff)
    assert _numbers(rest) == ["SH-GALANZ", "SH-FAW"]
    bad = await api.query("{ shipments(after: \"nonsense\") { nodes { number } } }", as_=staff)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_shared_leg_shows_each_customer_only_its_own_coils(
    api: Api, world: Tracking
) -> None:
    coils = {}
    for who in ("FAW-VW", "GALANZ"):
        data = await api.data(SHIPMENT, {"number": "SH-SHARED"}, as_=token(who))
        s = data["shipment"]
        coils[who] = ({c["coilNo"] for c in s["coils"]["nodes"]},
                      {c["coilNo"] for c in s["legs"][0]["coils"]["nodes"]})
        assert s["customers"] is None
    assert coils["FAW-VW"] == ({"FAW-VW-2"}, {"FAW-VW-2"})
    assert coils["GALANZ"] == ({"GALANZ-2"}, {"GALANZ-2"})
    staff = (await api.data(SHIPMENT, {"number": "SH-SHARED"}, as_=token(*MILL)))["shipment"]
    assert {c["coilNo"] for c in staff["coils"]["nodes"]} == {"FAW-VW-2", "GALANZ-2"}
    assert sorted(c["code"] for c in staff["customers"]) == ["FAW-VW", "GALANZ"]


async def test_a_shipment_shows_its_legs_vehicles_position_and_events(
    api: Api, world: Tracking
) -> None:
    s = (await api.data(SHIPMENT, {"number": "SH-FAW"}, as_=token("FAW-VW")))["shipment"]
    assert s["status"] == "IN_TRANSIT" and s["delayed"] and s["currentLeg"] == {"seq": 2}
    road, rail = s["legs"]
    assert (road["mode"], road["status"], road["origin"]["code"], road["vehicle"]["code"]) \
        == ("ROAD", "UNLOADED", "BAOSHAN", "TRK-1")
    assert (rail["mode"], rail["delayed"], rail["etaConfidence"], rail["vehicle"]["plate"]) \
        == ("RAIL", True, 0.8, "C70E 1801234")
    assert s["eta"] == rail["eta"] and rail["destination"]["code"] == "WH-FAW-VW"
    assert {c["coilNo"] for c in rail["coils"]["nodes"]} == {"FAW-VW-0", "FAW-VW-1"}
    # The database's newest fix of the wagon: Redis is not configured here.
    assert s["latestPosition"]["latitude"] == pytest.approx(
        31.36 + (43.9 - 31.36) * 0.0004 * WAGON_FIXES)
    assert [(e["kind"], e["leg"]["seq"]) for e in s["events"]["nodes"]] == [
        ("departed", 1), ("arrived", 1), ("departed", 2), ("delayed", 2)]
    assert s["events"]["nodes"][0]["details"] == {"test": True}
    page = await api.data("""{ shipment(number: "SH-FAW") { events(first: 2) {
        pageInfo { endCursor } } } }""", as_=token("FAW-VW"))
    after = page["shipment"]["events"]["pageInfo"]["endCursor"]
    rest = await api.data("""query($a: String) { shipment(number: "SH-FAW") {
        events(after: $a) { nodes { kind } } } }""", {"a": after}, as_=token("FAW-VW"))
    assert [e["kind"] for e in rest["shipment"]["events"]["nodes"]] == ["departed", "delayed"]


async def test_track_is_thinned_to_max_points_keeping_first_and_last(
    api: Api, world: Tracking
) -> None:
    faw = token("FAW-VW")
    full = (await api.data(TRACK, {"number": "SH-FAW", "max": 5000}, as_=faw))["shipment"]
    points = full["track"]
    # The wagon's fixes and the truck's two on FAW's leg; not the truck's later rounds.
    assert len(points) == WAGON_FIXES + 2
    assert [p["fixTime"] for p in points] == sorted(p["fixTime"] for p in points)
    for n in (2, 3, 50, 500):
        thin = (await api.data(TRACK, {"number": "SH-FAW", "max": n}, as_=faw))["shipment"]
        track = thin["track"]
        assert 2 <= len(track) <= n
        assert track[0] == points[0] and track[-1] == points[-1]
    assert len((await api.data(TRACK, {"number": "SH-FAW", "max": 500}, as_=faw))
               ["shipment"]["track"]) >= 400
    window = await api.data("""query($f: DateTime, $t: DateTime) { shipment(number: "SH-FAW")
        { track(from: $f, to: $t) { fixTime } } }""",
        {"f": (NOW - timedelta(hours=29, minutes=30)).isoformat(),
         "t": (NOW - timedelta(hours=27)).isoformat()}, as_=faw)
    assert len(window["shipment"]["track"]) == 2
    for n in (1, 5001):
        bad = await api.query(TRACK, {"number": "SH-FAW", "max": n}, as_=faw)
        assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_customer_sees_where_a_vehicle_is_only_while_it_carries_its_coils(
    api: Api, world: Tracking
) -> None:
    q = """{ trk: vehicle(code: "TRK-1") { code latestPosition { latitude } }
             wag: vehicle(code: "WAG-1") { latestPosition { latitude } } }"""
    faw = await api.data(q, as_=token("FAW-VW"))
    # TRK-1 carried FAW's coils yesterday: FAW may know the truck, not where it is now.
    assert faw["trk"] == {"code": "TRK-1", "latestPosition": None}
    assert faw["wag"]["latestPosition"] is not None
    staff = await api.data(q, as_=token(*MILL))
    assert staff["trk"]["latestPosition"] == {"latitude": 31.2}
    galanz = await api.data(q, as_=token("GALANZ"))
    assert galanz["trk"]["latestPosition"] is None and galanz["wag"] is None
    # Where GALANZ's finished truck leg ended is still its shipment's history.
    ended = await api.data("""{ shipment(number: "SH-GALANZ") { legs { seq } } }""",
                           as_=token("GALANZ"))
    assert len(ended["shipment"]["legs"]) == 2


async def test_coil_location_and_contract_shipments(api: Api, world: Tracking) -> None:
    data = await api.data("""{ a: coil(coilNumber: "FAW-VW-0") { location { since
            onVehicle { code latestPosition { latitude } } atSite { code }
            shipment { number } } }
        b: coil(coilNumber: "FAW-VW-1") { location { since } }
        c: contract(number: "C-FAW-VW") { shipments { nodes { number } } } }""",
        as_=token("FAW-VW"))
    loc = data["a"]["location"]
    assert loc["onVehicle"]["code"] == "WAG-1" and loc["atSite"] is None
    assert loc["shipment"] == {"number": "SH-FAW"}
    assert data["b"]["location"] is None
    assert [s["number"] for s in data["c"]["shipments"]["nodes"]] == ["SH-SHARED", "SH-FAW"]
    galanz = await api.data("""{ coil(coilNumber: "GALANZ-2") { location {
        atSite { code } onVehicle { code } } } }""", as_=token("GALANZ"))
    assert galanz["coil"]["location"] == {"atSite": {"code": "BAOSHAN"}, "onVehicle": None}


@pytest.fixture
async def live_api(db: Database, redis_url: str) -> AsyncIterator[tuple[Api, aioredis.Redis]]:
    client = aioredis.from_url(redis_url)
    services = Services(db=db, codec=CODEC, redis=client)
    app = create_app(SETTINGS, services=services)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://keylink.test") as http:
        yield Api(http, db), client
    await client.flushdb()
    await client.aclose()


async def test_latest_position_comes_from_live_state_when_redis_has_it(
    live_api: tuple[Api, aioredis.Redis],
) -> None:
    api, redis = live_api
    w = await build_tracking(api.db, await build(api.db))
    wagon = w.vehicle["WAG-1"]
    fix_time = NOW + timedelta(seconds=30)
    message = {"type": "position", "vehicle_id": wagon, "shipment_ids": [w.shipment["faw"]],
               "fix_time": fix_time.isoformat(), "lat": 40.5, "lon": 118.25,
               "speed_kmh": 71.5, "heading": 12.0, "accuracy_m": 6.0, "latest": True}
    await redis.hset(latest_key(live_group(wagon)), mapping={
        f"{wagon}:ms": int(fix_time.timestamp() * 1000), str(wagon): json.dumps(message)})
    q = """{ shipment(number: "SH-FAW") { latestPosition { latitude longitude speedKmh } }
             vehicle(code: "WAG-1") { latestPosition { latitude } } }"""
    data = await api.data(q, as_=token("FAW-VW"))
    assert data["shipment"]["latestPosition"] == {"latitude": 40.5, "longitude": 118.25,
                                                  "speedKmh": 71.5}
    assert data["vehicle"]["latestPosition"] == {"latitude": 40.5}
    # The ship has nothing in Redis: the database's fix stands in.
    ship = await api.data("""{ shipment(number: "SH-GALANZ") { latestPosition { latitude } }
        }""", as_=token("GALANZ"))
    assert ship["shipment"]["latestPosition"] == {"latitude": pytest.approx(31.5448)}


PAGE = """query($first: Int!) { shipments(first: $first) { nodes { number eta
    legs { seq origin { code } destination { code } vehicle { code latestPosition { fixTime } }
           coils(first: 5) { nodes { coilNo location { since } } } }
    latestPosition { fixTime } track(maxPoints: 50) { fixTime }
    events(first: 3) { nodes { kind leg { seq } } } } } }"""


async def test_a_page_of_shipments_costs_a_bounded_number_of_statements(
    demo_api: Api, tokens: dict[str, str]
) -> None:
    # One statement per relation, whatever the page holds; positions read the database
    # only for what live state lacks, so a page may need one statement fewer.
    for who in ("mill", "faw"):
        for first in (2, 20):
            await demo_api.data("{ viewer { subject } }", as_=tokens[who])
            with count_statements() as seen:
                data = await demo_api.data(PAGE, {"first": first}, as_=tokens[who])
            assert len(data["shipments"]["nodes"]) >= min(first, 10), "too few shipments"
            assert len(seen) <= 13, (who, first, seen)


async def test_a_ship_shows_the_voyage_its_crew_reported(api: Api, world: Tracking) -> None:
    await api.db.execute(
        "UPDATE vehicle SET reported_destination = 'CNFOS', reported_eta = $2,"
        " voyage_heard_at = $3 WHERE id = $1",
        world.vehicle["SHIP-1"], NOW + timedelta(days=3), NOW)
    data = await api.data(
        """query($code: String!) { vehicle(code: $code) { reportedDestination reportedEta
           voyageHeardAt } }""", {"code": "SHIP-1"}, as_=token(*MILL))
    assert data["vehicle"]["reportedDestination"] == "CNFOS"
    assert data["vehicle"]["reportedEta"] == (NOW + timedelta(days=3)).isoformat()


async def test_fence_crossings_and_scan_anomalies_stay_with_the_mill(
    api: Api, world: Tracking
) -> None:
    """A customer reads of its shipment's events only the kinds it is told of, in a page
    and in what `shipmentEvents` starts with: a fence crossing is the mill's operations,
    and an anomaly may name another customer's coil (here one scanned onto FAW-VW's wagon)."""
    galanz_coil = await api.db.fetchval("SELECT coil_no FROM coil WHERE id = $1",
                                        world.world.coils["GALANZ"][0])
    for kind, details in (("geofence_entered", {"site_id": world.site["YARD"]}),
                          ("coil_not_on_manifest", {"code": galanz_coil, "step": "loading"})):
        await api.db.execute(
            "INSERT INTO shipment_event (shipment_id, leg_id, kind, occurred_at, details,"
            " dedupe_key) VALUES ($1, $2, $3, $4, $5, $6)", world.shipment["faw"],
            world.leg["faw-2"], kind, NOW - timedelta(hours=1), details, f"mill:{kind}")
    query = """{ shipment(number: "SH-FAW") { events(first: 50) { nodes { kind details } } } }"""
    faw = (await api.data(query, as_=token("FAW-VW")))["shipment"]["events"]["nodes"]
    mill = (await api.data(query, as_=token(*MILL)))["shipment"]["events"]["nodes"]
    assert {e["kind"] for e in faw} == {"departed", "arrived", "delayed"}
    assert galanz_coil not in json.dumps(faw)
    assert {"geofence_entered", "coil_not_on_manifest"} <= {e["kind"] for e in mill}

    faw_org = world.world.org["FAW-VW"]
    recent = await shipment_reads.recent_events(api.db, Scope.customer(faw_org),
                                                [world.shipment["faw"]], 10)
    everything = await shipment_reads.recent_events(api.db, Scope.everything(),
                                                    [world.shipment["faw"]], 10)
    assert {e.kind for e in recent} <= CUSTOMER_KINDS and recent
    assert {"geofence_entered", "coil_not_on_manifest"} <= {e.kind for e in everything}
