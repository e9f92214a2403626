"""FAW-VW's address book (HTTPS for dispatch advice, SFTP for invoices, AS2 for
certificates), and a departure, an invoice and a certificate run through the platform:
each document is found at its peer, parsed back by the same library, carrying every coil,
amount and value it should; each went once, and its life is kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydifact.segmentcollection import Interchange

from domain.actor import Actor
from domain.db import Database
from domain.exchange import outbound
from domain.exchange.addresses import AddressInput, put_address
from domain.exchange.sscc import validate
from domain.quality import writes as quality_writes
from domain.settlements import writes as settling
from domain.shipments.detected import record_shipment_event
from push.exchange import exchange, send_due
from push.transports.as2 import Partner
from resolvers.relay import to_global_id
from tests.exchange_transports import peers
from tests.push.test_webhooks_delivery import Receiver, free_port
from tests.support.api import Api, token
from tests.tracking.support import Track, build_track

PUT = """mutation($input: PutExchangeAddressInput!) { putExchangeAddress(input: $input) {
    address { code } errors { field message } } }"""
DOCUMENTS = """{ exchangeDocuments { edges { node { documentType status businessKey name
    attempts receipt content address { code } } } } }"""
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def world(db: Database) -> Track:
    return await build_track(db)



async def register(api: Api, org: int, document: str, code: str, transport: str, fmt: str,
                   url: str, credentials: dict[str, str], options: dict[str, Any]) -> None:
    done = await api.data(PUT, {"input": {
        "organizationId": to_global_id("Organization", org), "documentType": document,
        "code": code, "transport": transport, "format": fmt, "url": url,
        "credentials": credentials, "options": options}}, as_=token("BAOSTEEL", "admin"))
    assert done["putExchangeAddress"]["errors"] == [], done


@pytest.mark.filterwarnings("ignore::pydifact.exceptions.MissingImplementationWarning")
async def test_documents_reach_faw_vws_systems_by_its_address_book(
    local: Api, db: Database, world: Track, tmp_path: Path
) -> None:
    faw = world.world.org["FAW-VW"]
    identity = peers.tls(tmp_path)
    receiver = Receiver(free_port(), tls=(identity.cert_file, identity.key_file),
                        answer=b'{"taken": true}')
    await receiver.start()
    mill_station, faw_station = peers.station("BAOSTEEL"), peers.station("FAWVW")
    config = peers.config(verify=identity.trust, station=mill_station)
    (tmp_path / "sftp" / "invoices").mkdir(parents=True)
    try:
        async with peers.sftp_peer(tmp_path / "sftp") as sftp, peers.as2_peer(peers.As2Peer(
                faw_station, {"BAOSTEEL": Partner.of("BAOSTEEL", peers.pem_cert(
                    mill_station.certificate).decode())})) as as2:
            await register(local, faw, "DISPATCH_ADVICE", "FAW-VW.DESADV", "HTTPS", "EDIFACT",
                           f"https://127.0.0.1:{receiver.port}/hook",
                           {"secret": SECRET}, {"sender": "BAOSTEEL", "recipient": "FAWVW"})
            await register(local, faw, "INVOICE", "FAW-VW.INVOIC", "SFTP", "EDIFACT",
                           sftp.url("/invoices"), sftp.credentials(),
                           {"sender": "BAOSTEEL", "recipient": "FAWVW"})
            await register(local, faw, "CERTIFICATE", "FAW-VW.CERT", "AS2", "JSON", as2.url,
                           {"certificate": peers.pem_cert(faw_station.certificate).decode()},
                           {"as2_id": "FAWVW"})

            # A departure, an issued invoice and a certificate.
            await depart(db, world)
            finance = Actor("finance.wang", world.world.org["BAOSTEEL"], frozenset({"finance"}),
                            False)
            draft = await db.fetchval("SELECT id FROM settlement WHERE customer_org_id = $1",
                                      faw)
            await settling.move_invoice(db, finance, settling.InvoiceInput(draft, "issue"))
            coil = await db.fetchval(
                "SELECT c.id FROM coil c WHERE c.customer_org_id = $1 AND NOT EXISTS ("
                " SELECT 1 FROM quality_certificate q WHERE q.coil_id = c.id)"
                " ORDER BY c.id LIMIT 1", faw)
            quality = Actor("qa.li", world.world.org["BAOSTEEL"], frozenset({"quality"}), False)
            await quality_writes.issue_certificate(db, quality_writes.CertificateInput(
                coil, Decimal("185.0"), Decimal("310.0"), Decimal("40.5")), actor=quality)

            assert await outbound.generate(db) == 3
            assert await outbound.generate(db) == 0  # read once: nothing made twice
            assert await send_due(db, config=config) == 3

            # The dispatch advice, signed, with every FAW-VW coil aboard as a package.
            [(headers, body)] = receiver.received
            assert headers["content-type"] == "application/EDIFACT" and "webhook-signature" \
                in headers
            segments = list(Interchange.from_str(body.decode("latin-1")).segments)
            packages = [s.elements[1] for s in segments
                        if s.tag == "GIN" and s.elements[0] == "BJ"]
            coils = await db.fetch(
                "SELECT c.id, c.coil_no, c.weight_kg, h.heat_no FROM coil c JOIN heat h ON"
                " h.id = c.heat_id WHERE c.id = ANY($1::bigint[]) AND c.customer_org_id = $2"
                " ORDER BY c.coil_no", world.coils, faw)
            assert len(packages) == len(coils) == 2
            assert all(validate(p if isinstance(p, str) else p[0]) for p in packages)
            text = body.decode("latin-1")
            for c in coils:
                assert c["coil_no"] in text and c["heat_no"] in text
                assert f"{c['weight_kg']:f}".rstrip("0").rstrip(".") in text

            # The invoice, on the SFTP server, complete, with its amounts.
            [invoice] = list((tmp_path / "sftp" / "invoices").iterdir())
            inv = await db.fetchrow("SELECT number, total_amount, goods_amount FROM settlement"
                                    " WHERE id = $1", draft)
            edi = invoice.read_text(encoding="latin-1")
            assert inv["number"] in edi
            moa = {s.elements[0][0]: s.elements[0][1] for s in
                   Interchange.from_str(edi).segments if s.tag == "MOA"}
            assert Decimal(moa["86"]) == inv["total_amount"]
            assert Decimal(moa["79"]) == inv["goods_amount"]

            # The certificate, over AS2, EN 10168 JSON with the measured values.
            [received] = as2.received
            cert = json.loads(received.body)
            measured = {Decimal(v["value"]) for v in cert["C"].values()
                        if isinstance(v, dict) and "value" in v}
            assert {Decimal("185.0"), Decimal("310.0"), Decimal("40.5")} <= measured
            assert cert["A"]["A03"] == "QC-FAW-VW-1"

            listed = await local.data(DOCUMENTS, as_=token("FAW-VW"))
            states = {n["node"]["documentType"]: n["node"]
                      for n in listed["exchangeDocuments"]["edges"]}
            assert {k: v["status"] for k, v in states.items()} == {
                "DISPATCH_ADVICE": "ACKNOWLEDGED", "INVOICE": "SENT",
                "CERTIFICATE": "ACKNOWLEDGED"}
            assert states["CERTIFICATE"]["receipt"]["mdn"]["micVerified"] is True
            assert states["DISPATCH_ADVICE"]["content"] == body.decode("latin-1")
            assert (await local.data(DOCUMENTS, as_=token("GALANZ")))[
                "exchangeDocuments"]["edges"] == []
    finally:
        await receiver.stop()


async def test_the_workers_job_sends_the_documents_it_has_just_made(
    db: Database, world: Track
) -> None:
    """The periodic job makes the documents its events call for, then sends those due:
    the ones just made among them, although they were made after its pass began."""
    await put_address(db, Actor.system("keylink:test"), AddressInput(
        world.world.org["FAW-VW"], "dispatch_advice", "FAW-VW.DESADV", "https", "edifact",
        f"https://127.0.0.1:{free_port()}/hook", {"secret": SECRET}),
        policy=peers.LOCAL)
    await depart(db, world)
    began = datetime.now(UTC)  # the worker's pass begins
    await exchange(db, began)
    # Nobody listens there: the attempt failed, but it was made in this very pass.
    [doc] = await db.fetch("SELECT status, attempts FROM exchange_document"
                           " WHERE document_type = 'dispatch_advice'")
    assert (doc["status"], doc["attempts"]) in (("failed", 1), ("dead", 1)), dict(doc)
    assert await db.fetchval("SELECT count(*) FROM exchange_attempt") == 1


async def depart(db: Database, t: Track) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    async with db.transaction() as tx:
        await tx.execute("UPDATE shipment_leg SET status = 'departed', actual_departure = $2"
                         " WHERE id = $1", t.leg, at)
        assert await record_shipment_event(tx, t.shipment.id, t.leg, t.truck, "departed", at,
                                           {}, f"departed:{t.leg}")
