"""The mill's ERP takes the contracts made on the platform as its own records, and a
customer's receiving advice is checked against the shipment it answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jsonschema_rs
import pytest

from domain.actor import Actor
from domain.contracts import writes as contract_writes
from domain.contracts.order_lines import NewContractLine
from domain.db import Database
from domain.egress import EgressPolicy
from domain.exchange import jsonfmt, outbound
from domain.exchange import messages as m
from domain.exchange.addresses import AddressInput, put_address
from domain.feeds.kinds import KINDS
from tests.support.api import Api, token
from tests.support.factory import TODAY
from tests.tracking.support import Track, build_track

LOCAL = EgressPolicy.of("127.0.0.0/8", production=False)
ADMIN = Actor("admin@mill", 1, frozenset({"admin"}), False)


@pytest.fixture
async def world(db: Database) -> Track:
    return await build_track(db)



async def test_a_contract_made_on_the_platform_reaches_the_erp_as_its_own_record(
    db: Database, world: Track
) -> None:
    w = world.world
    await put_address(db, ADMIN, AddressInput(
        org_id=w.org["BAOSTEEL"], document_type="contract", code="BAOSTEEL.ERP",
        transport="https", format="json", url="https://127.0.0.1:9443/erp"), policy=LOCAL)
    sales = Actor("sales.zhang", w.org["BAOSTEEL"], frozenset({"sales"}), False)
    made = await contract_writes.place_order(
        db, sales, w.org["FAW-VW"], [NewContractLine(
            spec_id=w.spec["FAW-VW"], quantity_t=Decimal("60.000"),
            delivery_from=TODAY + timedelta(days=60), delivery_to=TODAY + timedelta(days=70),
            unit_price=Decimal("5150.00"))], confirm=True)
    assert await outbound.generate(db) == 1
    body = await db.fetchval("SELECT body FROM exchange_document WHERE document_type ="
                             " 'contract'")
    record = json.loads(body)
    # The ERP reads it as it writes its own contracts: a record of the feeds' kind.
    validator = jsonschema_rs.validator_for(KINDS["contract"].schema(), validate_formats=True)
    assert [e.message for e in validator.iter_errors(record)] == []
    assert record["key"] == made.number and record["data"]["customer"] == "FAW-VW"
    assert record["data"]["lines"][0]["quantityT"] == "60.000"


async def test_a_contract_the_erp_fed_is_not_sent_back(db: Database, world: Track) -> None:
    w = world.world
    await put_address(db, ADMIN, AddressInput(
        org_id=w.org["BAOSTEEL"], document_type="contract", code="BAOSTEEL.ERP",
        transport="https", format="json", url="https://127.0.0.1:9443/erp"), policy=LOCAL)
    from domain.feeds.batch import apply_record

    await apply_record(db, ADMIN, "contract", "ERP-1", {
        "customer": "FAW-VW", "lines": [{
            "lineNo": 1, "spec": "SP-FAW-VW", "quantityT": "10", "unitPrice": "5000",
            "deliveryFrom": str(TODAY + timedelta(days=60)),
            "deliveryTo": str(TODAY + timedelta(days=70)), "transportMode": "rail"}]},
        version=7)
    assert await outbound.generate(db) == 0


async def test_a_receiving_advice_names_each_discrepancy(
    local: Api, db: Database, world: Track
) -> None:
    w = world.world
    await put_address(db, ADMIN, AddressInput(
        org_id=w.org["FAW-VW"], document_type="receiving_advice", code="FAW-VW.RECADV",
        transport="https", format="json", url="https://127.0.0.1:9443/contrl"), policy=LOCAL)
    coils = [r["coil_no"] for r in await db.fetch(
        "SELECT coil_no FROM coil WHERE id = ANY($1::bigint[]) AND customer_org_id = $2"
        " ORDER BY coil_no", world.coils, w.org["FAW-VW"])]
    advice = m.ReceivingAdvice(
        document_number="GR-0007", received_at=datetime.now(UTC),
        despatch_advice_number=None, shipment_number="SH-1", leg_seq=1, packages=(
            m.ReceivedPackage(sscc=None, coil_no=coils[0],
                              received=m.Quantity(Decimal("3.9"), "TNE"),
                              discrepancy="damaged"),))
    r = await local.client.post("/exchange/inbox/FAW-VW.RECADV", content=jsonfmt.to_json(advice),
                                headers={"authorization": f"Bearer {token('FAW-VW')}"})
    assert r.status_code == 200, r.text
    found = await db.fetch("SELECT org_id, payload FROM domain_event WHERE event_type ="
                           " 'shipment.receipt_discrepancy' ORDER BY seq")
    assert [(e["payload"]["coil"], e["payload"]["discrepancy"]) for e in found] == [
        (coils[0], "damaged"), (coils[1], "missing")]
    assert {e["org_id"] for e in found} == {w.org["FAW-VW"]}


@pytest.mark.filterwarnings("ignore::pydifact.exceptions.MissingImplementationWarning")
async def test_a_credited_claim_reaches_the_customer_as_a_credit_note(db: Database) -> None:
    from pydifact.segmentcollection import Interchange

    from domain.disputes import claims
    from domain.disputes.claims import ClaimStep
    from domain.settlements.writes import InvoiceInput, move_invoice
    from tests.disputes.test_disputes import staff
    from tests.settlements.test_settlements import agreed_claim, shipping_world

    w = await shipping_world(db)
    await put_address(db, ADMIN, AddressInput(
        org_id=w.org["FAW-VW"], document_type="invoice", code="FAW-VW.INVOIC",
        transport="https", format="edifact", url="https://127.0.0.1:9443/invoic",
        options={"sender": "BAOSTEEL", "recipient": "FAWVW"}), policy=LOCAL)
    draft = await db.fetchval("SELECT id FROM settlement WHERE customer_org_id = $1",
                              w.org["FAW-VW"])
    await move_invoice(db, staff(w, "finance"), InvoiceInput(draft, "issue"))
    claim = await agreed_claim(db, w, "1234.56")
    await claims.transition(db, staff(w, "finance"), ClaimStep(claim, "credit",
                                                              credit_note="CN-2026-0031"))
    assert await outbound.generate(db) == 2  # the invoice, then the credit note
    body = await db.fetchval("SELECT body FROM exchange_document WHERE business_key = $1",
                             f"claim:{claim}:credited")
    segments = list(Interchange.from_str(bytes(body).decode("latin-1")).segments)
    bgm = next(s for s in segments if s.tag == "BGM")
    assert bgm.elements[0] == "381" and bgm.elements[1] == "CN-2026-0031"
    moa = {s.elements[0][0]: s.elements[0][1] for s in segments if s.tag == "MOA"}
    assert Decimal(moa["86"]) == Decimal("1234.56")
    invoice = await db.fetchval("SELECT number FROM settlement WHERE id = $1", draft)
    assert invoice in bytes(body).decode("latin-1")  # the invoice it credits


async def test_a_receiving_advice_as_csv_names_each_discrepancy_by_the_partners_words(
    local: Api, db: Database, world: Track
) -> None:
    """The customer's goods-receipt list, exported from its store's system in its own
    columns, words and kilograms, is read through its mapping into the same advice."""
    w = world.world
    mapping = {
        "document": "receiving_advice", "delimiter": ";",
        "fields": [
            {"field": "advice_number", "column": "WE-Nr"},
            {"field": "shipment", "column": "Sendung"},
            {"field": "coil", "column": "Coil"},
            {"field": "received", "type": "quantity", "column": "Gewicht", "unit": "kg"},
            {"field": "discrepancy", "column": "Befund", "codes": "findings",
             "required": False},
        ],
        "codes": {"findings": {"BESCH": "damaged", "FEHLT": "missing"}},
    }
    await put_address(db, ADMIN, AddressInput(
        org_id=w.org["FAW-VW"], document_type="receiving_advice", code="FAW-VW.WE",
        transport="https", format="csv", url="https://127.0.0.1:9443/we",
        options={"mapping": mapping}), policy=LOCAL)
    coils = [r["coil_no"] for r in await db.fetch(
        "SELECT coil_no FROM coil WHERE id = ANY($1::bigint[]) AND customer_org_id = $2"
        " ORDER BY coil_no", world.coils, w.org["FAW-VW"])]
    body = ("WE-Nr;Sendung;Coil;Gewicht;Befund\r\n"
            f"WE-0009;SH-1;{coils[0]};3900;BESCH\r\n").encode()

    r = await local.client.post("/exchange/inbox/FAW-VW.WE", content=body, headers={
        "authorization": f"Bearer {token('FAW-VW')}", "keylink-document-name": "we-0009.csv"})

    assert r.status_code == 200, r.text
    found = await db.fetch("SELECT org_id, payload FROM domain_event WHERE event_type ="
                           " 'shipment.receipt_discrepancy' ORDER BY seq")
    assert [(e["payload"]["coil"], e["payload"]["discrepancy"], e["payload"]["advice"])
            for e in found] == [(coils[0], "damaged", "WE-0009"),
                                (coils[1], "missing", "WE-0009")]
    # An advice of a shipment the customer has none of is refused whole, saying so.
    r = await local.client.post("/exchange/inbox/FAW-VW.WE", content=(
        b"WE-Nr;Sendung;Coil;Gewicht;Befund\r\nWE-0010;SH-404;X1;3900;\r\n"),
        headers={"authorization": f"Bearer {token('FAW-VW')}"})
    assert r.status_code == 422, r.text
    assert r.json()["problems"] == ["no shipment 'SH-404' of this customer"]
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                             " 'shipment.receipt_discrepancy'") == 2
