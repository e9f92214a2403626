"""Documents FAW-VW's systems send: a DELFOR becomes the next version of its delivery
schedule, with each period's firmness, and feeds its purchase plan; a malformed one, or
one naming parts the platform does not know, is refused whole with every reason (the
segment named), answered with a CONTRL, and changes nothing."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.context import Services
from domain.actor import Actor
from domain.calendar import mill_today
from domain.db import Database
from domain.egress import EgressPolicy
from domain.exchange.addresses import AddressInput, put_address
from push.exchange import pick_up_all
from push.transports import base as transports
from push.transports.base import Endpoint
from resolvers.relay import to_global_id
from settings import PROJECT_ROOT
from tests.exchange.delfor import Want, delfor
from tests.exchange.test_acknowledgements import contrl
from tests.exchange_transports import peers
from tests.planning.test_planning_api import COMPUTE, FAW, SET_TABLE, SHARE, weeks
from tests.support.api import CODEC, SETTINGS, Api, serving, token
from tests.support.factory import World, build

DELFOR = (PROJECT_ROOT / "tests" / "data" / "exchange" / "delfor-fawvw.edi").read_bytes()
PUT = """mutation($input: PutExchangeAddressInput!) { putExchangeAddress(input: $input) {
    errors { field message } } }"""


@pytest.fixture
async def world(db: Database) -> World:
    w = await build(db)
    faw = w.org["FAW-VW"]
    # What FAW-VW's schedule names: its Changchun warehouse and its two panels' parts.
    await db.execute("INSERT INTO site (code, name, kind, org_id, latitude, longitude,"
                     " geofence_radius_m) VALUES ('FAW-VW-CC-WH1', 'Changchun WH1',"
                     " 'customer_warehouse', $1, 43.88, 125.32, 400)", faw)
    for part in ("5G0-809-605", "5G0-809-606"):
        await db.execute(
            "INSERT INTO steel_spec (code, grade, standard, product, thickness_mm, width_mm,"
            " customer_org_id, customer_part_number) VALUES ($1, 'DC04', 'EN 10130',"
            " 'cold_rolled', 0.8, 1250, $2, $3)", f"FV-{part}", faw, part)
    return w



async def send(api: Api, body: bytes, bearer: str, code: str = "FAW-VW.DELFOR"
               ) -> tuple[int, dict[str, Any]]:
    r = await api.client.post(f"/exchange/inbox/{code}", content=body, headers={
        "authorization": f"Bearer {bearer}", "content-type": "application/EDIFACT",
        "keylink-document-name": "DELFOR-0042.edi"})
    return r.status_code, r.json()


async def register(api: Api, w: World) -> None:
    done = await api.data(PUT, {"input": {
        "organizationId": to_global_id("Organization", w.org["FAW-VW"]),
        "documentType": "DELIVERY_SCHEDULE", "code": "FAW-VW.DELFOR", "transport": "HTTPS",
        "format": "EDIFACT", "url": "https://127.0.0.1:9443/contrl",
        "options": {"recipient": "BAOSTEEL"}}}, as_=token("FAW-VW"))
    assert done["putExchangeAddress"]["errors"] == []


async def test_a_delfor_becomes_the_next_version_of_the_delivery_schedule(
    local: Api, db: Database, world: World
) -> None:
    await register(local, world)
    status, answer = await send(local, DELFOR, token("FAW-VW"))
    assert status == 200 and answer["accepted"] is True, answer
    [schedule] = answer["receipt"]["schedules"]
    stored = await db.fetch(
        "SELECT s.customer_part_number AS part, l.period_start, l.quantity_t, l.firmness"
        " FROM delivery_schedule_line l JOIN steel_spec s ON s.id = l.spec_id"
        " ORDER BY l.period_start, s.customer_part_number")
    assert schedule["version"] == 1 and schedule["lines"] == len(stored) > 0
    assert {r["part"] for r in stored} == {"5G0-809-605", "5G0-809-606"}
    assert {r["firmness"] for r in stored} >= {"firm", "forecast"}
    assert sum(r["quantity_t"] for r in stored) == Decimal(schedule["totalT"])
    contrl = base64.b64decode(answer["acknowledgement"]).decode("latin-1")
    assert "CONTRL" in contrl and "UCI+FV2611240042+FAWVW" in contrl and "+7'" in contrl
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                             " 'production_plan.delivery_schedule_received'") == 1
    # FAW-VW reads it back as its current delivery schedule; GALANZ sees none of it.
    read = await local.data("""{ deliverySchedule { version documentNumber
        lines { customerPartNumber quantityT firmness } } }""", as_=token("FAW-VW"))
    assert read["deliverySchedule"]["documentNumber"] == "DF-20261124-0042"
    assert len(read["deliverySchedule"]["lines"]) == len(stored)
    assert "FIRM" in {ln["firmness"] for ln in read["deliverySchedule"]["lines"]}
    other = await local.data("{ deliverySchedule { version } }", as_=token("GALANZ"))
    assert other["deliverySchedule"] is None
    # The same interchange again: answered as before, applied once.
    again_status, again = await send(local, DELFOR, token("FAW-VW"))
    assert again_status == 200 and again["document"] == answer["document"]
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 1


async def test_a_malformed_delfor_is_refused_with_the_segment_named(
    local: Api, db: Database, world: World
) -> None:
    await register(local, world)
    broken = DELFOR.replace(b"QTY+1:120.000:TNE", b"QTY+1:12O.000:TNE", 1)
    status, answer = await send(local, broken, token("FAW-VW"))
    assert status == 422 and answer["accepted"] is False
    assert any("QTY" in p and "segment" in p and "element 1.2" in p
               for p in answer["problems"]), answer["problems"]
    contrl = base64.b64decode(answer["acknowledgement"]).decode("latin-1")
    assert "UCI+FV2611240042+FAWVW" in contrl and "+4" in contrl  # rejected
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 0
    stored = await db.fetchrow("SELECT status, receipt FROM exchange_document")
    assert stored is not None
    assert stored["status"] == "refused" and stored["receipt"]["count"] >= 1


async def test_a_delfor_naming_unknown_parts_changes_nothing(
    local: Api, db: Database, world: World
) -> None:
    await register(local, world)
    unknown = DELFOR.replace(b"5G0-809-606", b"5G0-999-999")
    status, answer = await send(local, unknown, token("FAW-VW"))
    assert status == 422
    assert answer["problems"] == ["line 2: part '5G0-999-999' is not known"]
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 0
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                             " 'exchange.document_refused'") == 1


async def test_only_the_partner_sends_to_its_address(local: Api, world: World) -> None:
    await register(local, world)
    status, _ = await send(local, DELFOR, token("GALANZ"))
    assert status == 404
    status, _ = await send(local, DELFOR, "not-a-token")
    assert status == 401
    status, _ = await send(local, DELFOR, token("BAOSTEEL", "quality"))
    assert status == 403


async def test_a_delfor_dropped_on_faw_vws_sftp_server_is_picked_up_once(
    local: Api, db: Database, world: World, tmp_path: Path
) -> None:
    outbox = tmp_path / "sftp" / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "DELFOR-0042.edi").write_bytes(DELFOR)
    async with peers.sftp_peer(tmp_path / "sftp") as sftp:
        done = await local.data(PUT, {"input": {
            "organizationId": to_global_id("Organization", world.org["FAW-VW"]),
            "documentType": "DELIVERY_SCHEDULE", "code": "FAW-VW.DELFOR", "transport": "SFTP",
            "format": "EDIFACT", "url": sftp.url("/outbox"), "credentials": sftp.credentials(),
            "options": {"recipient": "BAOSTEEL"}}}, as_=token("BAOSTEEL", "logistics"))
        assert done["putExchangeAddress"]["errors"] == []
        assert await pick_up_all(db, config=peers.config()) == 1
        assert await pick_up_all(db, config=peers.config()) == 0
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 1
    assert not (outbox / "DELFOR-0042.edi").exists()
    assert (outbox / "done" / "DELFOR-0042.edi").read_bytes() == DELFOR


async def test_a_delfor_over_as2_is_applied_and_answered_with_a_signed_receipt(
    db: Database, world: World
) -> None:
    mill, faw = peers.station("BAOSTEEL"), peers.station("FAWVW")
    settings = SETTINGS.replace(
        webhook_allow="127.0.0.0/8", as2_id="BAOSTEEL",
        as2_key=peers.pem_key(mill.private_key).decode(),  # type: ignore[arg-type]
        as2_certificate=peers.pem_cert(mill.certificate).decode())
    services = Services(db=db, codec=CODEC, settings=settings)
    await put_address(db, Actor("admin@mill", 1, frozenset({"admin"}), False), AddressInput(
        org_id=world.org["FAW-VW"], document_type="delivery_schedule", code="FAW-VW.DELFOR",
        transport="as2", format="edifact", url="https://127.0.0.1:9443/as2",
        credentials={"certificate": peers.pem_cert(faw.certificate).decode()},
        options={"as2_id": "FAWVW", "recipient": "BAOSTEEL"}),
        policy=EgressPolicy.of("127.0.0.0/8", production=False))
    async with serving(create_app(settings, services=services)) as address:
        receipt = await transports.send(
            Endpoint("as2", f"http://{address}/exchange/as2",
                     {"certificate": peers.pem_cert(mill.certificate).decode()},
                     {"as2_id": "BAOSTEEL"}),
            name="DELFOR-0042.edi", body=DELFOR, content_type="application/EDIFACT",
            message_id="fawvw-delfor-0042", config=peers.config(station=faw))
        # A CONTRL over the same AS2 link goes to the partner's EDIFACT address by its
        # message type; one naming an interchange never sent is refused, and kept.
        answered = await transports.send(
            Endpoint("as2", f"http://{address}/exchange/as2",
                     {"certificate": peers.pem_cert(mill.certificate).decode()},
                     {"as2_id": "BAOSTEEL"}),
            name="CONTRL-1.edi", body=contrl("99999999", "7"),
            content_type="application/EDIFACT", message_id="fawvw-contrl-1",
            config=peers.config(station=faw))
    assert receipt.mdn is not None and receipt.mdn.status == "processed"
    assert receipt.mdn.signature_verified and receipt.mdn.mic_verified
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 1
    assert answered.mdn is not None and answered.mdn.signature_verified
    kept = await db.fetch("SELECT name, status, receipt FROM exchange_document ORDER BY id")
    assert [(k["name"], k["status"]) for k in kept] == [
        ("DELFOR-0042.edi", "accepted"), ("CONTRL-1.edi", "refused")]
    assert "answers interchange '99999999'" in kept[1]["receipt"]["problems"][0]


LINES = """query($id: ID!) { node(id: $id) { ... on PurchasePlan { status isStale
    lines(first: 100) { nodes { spec { customerPartNumber } periodStart periodEnd
        grossTonnes firmness demandSource deliveryScheduleVersion } } } } }"""
PANEL, INNER = "5G0-809-605", "5G0-809-606"


async def planning(api: Api, w: World) -> date:
    """FAW-VW's outer panel and its own spec PN-FAW-VW in its consumption table (50 and 40
    kg per SAGITAR), twelve weeks of 1,000 SAGITARs a week, and its DELFOR address."""
    got = await api.data(SET_TABLE, {"input": {"rates": [
        {"model": "SAGITAR", "spec": PANEL, "kgPerCar": "50"},
        {"model": "SAGITAR", "spec": "PN-FAW-VW", "kgPerCar": "40"}]}}, as_=FAW)
    assert got["setConsumptionTable"]["errors"] == []
    got = await api.data(SHARE, {"input": {"entries": weeks(12, {"SAGITAR": 1000})}}, as_=FAW)
    assert got["shareProductionPlan"]["errors"] == []
    await register(api, w)
    return mill_today()


def first_schedule(t: date) -> bytes:
    day = timedelta(days=1)
    return delfor("DF-1", [
        Want(PANEL, t + 7 * day, "120.000:TNE", "firm"),
        # Firm by the zones (under 28 days ahead), a forecast by the customer.
        Want(PANEL, t + 14 * day, "240:TNE", "forecast", end=t + 20 * day),
        # A commitment for material by the zones, firm by the customer; it ends mid-week.
        Want(PANEL, t + 63 * day, "300:TNE", "firm", end=t + 66 * day),
        Want(INNER, t + 21 * day, "60500:KGM", "commitment_production"),
    ], reference="FV0001")


async def lines_of(api: Api, plan_id: str) -> dict[str, list[tuple[object, ...]]]:
    node = (await api.data(LINES, {"id": plan_id}, as_=FAW))["node"]
    out: dict[str, list[tuple[object, ...]]] = {}
    for x in node["lines"]["nodes"]:
        out.setdefault(x["spec"]["customerPartNumber"], []).append((
            x["periodStart"], x["periodEnd"], x["grossTonnes"], x["firmness"],
            x["demandSource"], x["deliveryScheduleVersion"]))
    return out


def d(t: date, days: int) -> str:
    return (t + timedelta(days=days)).isoformat()


async def test_a_delfor_from_faw_vw_feeds_its_purchase_plan_with_its_firmness(
    local: Api, db: Database, world: World
) -> None:
    t = await planning(local, world)
    status, answer = await send(local, first_schedule(t), token("FAW-VW"))
    assert status == 200, answer

    computed = await local.data(COMPUTE, {"input": {}}, as_=FAW)
    plan_id = computed["computePurchasePlan"]["purchasePlan"]["id"]
    lines = await lines_of(local, plan_id)
    build, scheduled = "BUILD_PLAN", "DELIVERY_SCHEDULE"
    # Within the schedule's horizon for the panel (day 7 to day 66) its tonnes and
    # firmness; each scheduled quantity lasts until the next one. Outside it, the car
    # plan: 50 t a week, the week the horizon ends in keeping its last 3 days (3/7 of it).
    assert lines[PANEL] == [
        (d(t, 0), d(t, 6), "50.000", "FIRM", build, None),
        (d(t, 7), d(t, 13), "120.000", "FIRM", scheduled, 1),
        (d(t, 14), d(t, 62), "240.000", "FORECAST", scheduled, 1),
        (d(t, 63), d(t, 66), "300.000", "FIRM", scheduled, 1),
        (d(t, 67), d(t, 69), "21.429", "COMMITMENT_MATERIAL", build, None),
        (d(t, 70), d(t, 76), "50.000", "COMMITMENT_MATERIAL", build, None),
        (d(t, 77), d(t, 83), "50.000", "COMMITMENT_MATERIAL", build, None),
    ]
    # A part in no consumption table is planned from the schedule alone.
    assert lines[INNER] == [
        (d(t, 21), d(t, 21), "60.500", "COMMITMENT_PRODUCTION", scheduled, 1)]
    # A spec the schedule does not name keeps the car plan and the zones.
    assert [x[2:5] for x in lines["PN-FAW-VW"]] == [("40.000", "FIRM", build)] * 4 + [
        ("40.000", "COMMITMENT_PRODUCTION", build)] * 4 + [
        ("40.000", "COMMITMENT_MATERIAL", build)] * 4

    # A second version: 180 t on day 7 and nothing more of either part. The open plan
    # follows it at once, as it follows a new car plan.
    second = delfor("DF-2", [Want(PANEL, t + timedelta(days=7), "180:TNE", "firm")],
                    reference="FV0002")
    status, answer = await send(local, second, token("FAW-VW"))
    assert status == 200 and answer["receipt"]["schedules"][0]["version"] == 2, answer
    followed = await lines_of(local, plan_id)
    assert followed[PANEL][:3] == [
        (d(t, 0), d(t, 6), "50.000", "FIRM", build, None),
        (d(t, 7), d(t, 7), "180.000", "FIRM", scheduled, 2),
        (d(t, 8), d(t, 13), "42.857", "FIRM", build, None),
    ]
    assert [x[2] for x in followed[PANEL][3:]] == ["50.000"] * 10
    assert INNER not in followed
    node = (await local.data(LINES, {"id": plan_id}, as_=FAW))["node"]
    assert node["status"] == "COMPUTED" and node["isStale"] is False
    recomputed = await local.data(COMPUTE, {"input": {}}, as_=FAW)
    assert recomputed["computePurchasePlan"]["purchasePlan"]["id"] == plan_id
    assert await lines_of(local, plan_id) == followed


async def test_a_refused_delfor_changes_nothing_in_the_plan(
    local: Api, db: Database, world: World
) -> None:
    t = await planning(local, world)
    status, _ = await send(local, first_schedule(t), token("FAW-VW"))
    assert status == 200
    computed = await local.data(COMPUTE, {"input": {}}, as_=FAW)
    plan_id = computed["computePurchasePlan"]["purchasePlan"]["id"]
    before = await lines_of(local, plan_id)
    assert before[PANEL][1][2:] == ("120.000", "FIRM", "DELIVERY_SCHEDULE", 1)

    # A version whose tonnes would change every scheduled line, with one bad quantity.
    changed = delfor("DF-2", [Want(PANEL, t + timedelta(days=7), "999:TNE", "firm"),
                              Want(INNER, t + timedelta(days=21), "12O:TNE", "firm")],
                     reference="FV0002")
    status, answer = await send(local, changed, token("FAW-VW"))
    assert status == 422 and answer["accepted"] is False
    assert await lines_of(local, plan_id) == before
    await local.data(COMPUTE, {"input": {}}, as_=FAW)
    assert await lines_of(local, plan_id) == before
    assert await db.fetchval("SELECT max(version) FROM delivery_schedule") == 1
    # The same version without the fault is applied: the refusal was the fault alone.
    fixed = changed.replace(b"12O:TNE", b"120:TNE")
    status, _ = await send(local, fixed, token("FAW-VW"))
    assert status == 200
    assert (await lines_of(local, plan_id))[PANEL][1][2] == "999.000"
