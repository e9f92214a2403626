"""FAW-VW's systems answer the documents the mill sent them: a CONTRL accepting the
dispatch advice marks it acknowledged; an APERAK rejecting the invoice, sent to its
delivery schedule address, marks it dead with FAW-VW's reasons and tells both parties;
GALANZ cannot acknowledge FAW-VW's documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.actor import Actor
from domain.db import Database
from domain.exchange import edifact, outbound
from domain.settlements import writes as settling
from push.exchange import send_due
from tests.exchange.test_documents_out import depart, register
from tests.exchange_transports import peers
from tests.support.api import Api, token
from tests.tracking.support import Track, build_track

DOCUMENTS = """{ exchangeDocuments { edges { node { documentType direction status name
    lastError receipt } } } }"""



async def one(db: Database, sql: str, *args: Any) -> Any:
    row = await db.fetchrow(sql, *args)
    assert row is not None
    return row


@pytest.fixture
async def world(db: Database) -> Track:
    return await build_track(db)



async def send(api: Api, code: str, body: bytes, bearer: str) -> tuple[int, dict[str, Any]]:
    r = await api.client.post(f"/exchange/inbox/{code}", content=body, headers={
        "authorization": f"Bearer {bearer}", "content-type": "application/EDIFACT",
        "keylink-document-name": "ack.edi"})
    return r.status_code, r.json()


def references(body: bytes) -> tuple[str, str]:
    """The interchange control reference (UNB 0020) and message reference (UNH 0062) of
    an interchange as it reached the partner."""
    segments = {s.tag: s for s in edifact.segments_of(body)}
    return str(segments["UNB"].elements[4]), str(segments["UNH"].elements[0])


def contrl(interchange: str, action: str, *, sender: str = "FAWVW", rest: str = "") -> bytes:
    return (f"UNA:+.? 'UNB+UNOC:3+{sender}:ZZZ+BAOSTEEL:ZZZ+261128:1045+FV0001++CONTRL'"
            "UNH+1+CONTRL:2:2:UN'"
            f"UCI+{interchange}+BAOSTEEL:ZZZ+{sender}:ZZZ+{action}'{rest}"
            f"UNT+{3 + rest.count(chr(39))}+1'UNZ+1+FV0001'").encode("latin-1")


def aperak(message: str, invoice: str) -> bytes:
    body = ("UNH+AP1+APERAK:D:96A:UN'BGM+313+AP-20261128-1+27'DTM+137:202611281100:203'"
            f"DOC+380+{invoice}'RFF+ACW:{message}'ERC+45'"
            "FTX+AAO+++Unit price differs from the order?: 5480.00 agreed'ERC+12'"
            "FTX+AAO+++Contract not known to the buyer'")
    count = body.count("'") + 1
    return ("UNA:+.? 'UNB+UNOC:3+FAWVW:ZZZ+BAOSTEEL:ZZZ+261128:1100+FV0002++APERAK'"
            f"{body}UNT+{count}+AP1'UNZ+1+FV0002'").encode("latin-1")


async def send_documents(local: Api, db: Database, world: Track, sftp: peers.SftpPeer,
                         tmp_path: Path, *, invoice: bool = False) -> None:
    faw = world.world.org["FAW-VW"]
    for folder in ("desadv", "invoices"):
        (tmp_path / "sftp" / folder).mkdir(parents=True, exist_ok=True)
    await register(local, faw, "DISPATCH_ADVICE", "FAW-VW.DESADV", "SFTP", "EDIFACT",
                   sftp.url("/desadv"), sftp.credentials(),
                   {"sender": "BAOSTEEL", "recipient": "FAWVW"})
    if invoice:
        await register(local, faw, "INVOICE", "FAW-VW.INVOIC", "SFTP", "EDIFACT",
                       sftp.url("/invoices"), sftp.credentials(),
                       {"sender": "BAOSTEEL", "recipient": "FAWVW"})
        finance = Actor("finance.wang", world.world.org["BAOSTEEL"], frozenset({"finance"}),
                        False)
        draft = await db.fetchval("SELECT id FROM settlement WHERE customer_org_id = $1", faw)
        await settling.move_invoice(db, finance, settling.InvoiceInput(draft, "issue"))
    await depart(db, world)
    made = await outbound.generate(db)
    assert made == (2 if invoice else 1)
    assert await send_due(db, config=peers.config()) == made


async def test_a_contrl_accepting_the_dispatch_advice_marks_it_acknowledged(
    local: Api, db: Database, world: Track, tmp_path: Path
) -> None:
    async with peers.sftp_peer(tmp_path / "sftp") as sftp:
        await send_documents(local, db, world, sftp, tmp_path)
    await register(local, world.world.org["FAW-VW"], "ACKNOWLEDGEMENT", "FAW-VW.ACK", "HTTPS",
                   "EDIFACT", "https://127.0.0.1:9443/contrl", {},
                   {"recipient": "BAOSTEEL"})
    [desadv] = list((tmp_path / "sftp" / "desadv").iterdir())
    interchange, message = references(desadv.read_bytes())
    assert await db.fetchval("SELECT status FROM exchange_document WHERE document_type ="
                             " 'dispatch_advice'") == "sent"

    status, answer = await send(local, "FAW-VW.ACK", contrl(interchange, "7"),
                                token("FAW-VW"))

    assert status == 200 and answer["accepted"] is True, answer
    assert answer["acknowledgement"] is None  # a CONTRL is never answered
    [done] = answer["receipt"]["acknowledged"]
    assert (done["documentType"], done["status"]) == ("dispatch_advice", "acknowledged")
    listed = await local.data(DOCUMENTS, as_=token("FAW-VW"))
    nodes = {(n["node"]["documentType"], n["node"]["direction"]): n["node"]
             for n in listed["exchangeDocuments"]["edges"]}
    sent = nodes[("DISPATCH_ADVICE", "OUT")]
    assert sent["status"] == "ACKNOWLEDGED"
    # The transport's receipt is kept beside the partner's acknowledgement.
    assert sent["receipt"]["remotePath"].endswith(desadv.name)
    assert sent["receipt"]["acknowledgement"]["message"] == "CONTRL"
    assert sent["receipt"]["acknowledgement"]["interchange"] == interchange == message
    assert nodes[("ACKNOWLEDGEMENT", "IN")]["status"] == "ACCEPTED"
    attempts = await db.fetch("SELECT a.outcome FROM exchange_attempt a JOIN"
                              " exchange_document d ON d.id = a.document_id WHERE"
                              " d.document_type = 'dispatch_advice' ORDER BY a.id")
    assert [a["outcome"] for a in attempts] == ["sent", "acknowledged"]
    # A CONTRL naming an interchange the platform never sent is refused, changing nothing.
    status, answer = await send(local, "FAW-VW.ACK", contrl("99999999", "4"),
                                token("FAW-VW"))
    assert status == 422, answer
    assert answer["problems"] == ["CONTRL FV0001 answers interchange '99999999': the "
                                  "platform sent you no interchange with that control "
                                  "reference"]
    assert await db.fetchval("SELECT status FROM exchange_document WHERE document_type ="
                             " 'dispatch_advice'") == "acknowledged"


async def test_an_aperak_rejecting_the_invoice_kills_it_with_the_partners_reasons(
    local: Api, db: Database, world: Track, tmp_path: Path
) -> None:
    async with peers.sftp_peer(tmp_path / "sftp") as sftp:
        await send_documents(local, db, world, sftp, tmp_path, invoice=True)
    # FAW-VW sends its acknowledgements where it sends its delivery schedules.
    await register(local, world.world.org["FAW-VW"], "DELIVERY_SCHEDULE", "FAW-VW.DELFOR",
                   "HTTPS", "EDIFACT", "https://127.0.0.1:9443/contrl", {},
                   {"recipient": "BAOSTEEL"})
    [sent] = list((tmp_path / "sftp" / "invoices").iterdir())
    _, message = references(sent.read_bytes())
    number = await db.fetchval("SELECT number FROM settlement WHERE customer_org_id = $1",
                               world.world.org["FAW-VW"])

    status, answer = await send(local, "FAW-VW.DELFOR", aperak(message, number),
                                token("FAW-VW"))

    assert status == 200 and answer["accepted"] is True, answer
    assert answer["acknowledgement"] is None
    invoice = await one(db, "SELECT id, status, last_error, receipt FROM exchange_document"
                                " WHERE document_type = 'invoice'")
    assert invoice["status"] == "dead"
    assert "error 45: Unit price differs from the order: 5480.00 agreed" in \
        invoice["last_error"]
    assert "error 12: Contract not known to the buyer" in invoice["last_error"]
    assert invoice["receipt"]["acknowledgement"]["documentNumber"] == number
    assert invoice["receipt"]["remotePath"].endswith(sent.name)
    # Both parties are told, as when a sending fails for good.
    [event] = await db.fetch("SELECT org_id, payload FROM domain_event WHERE event_type ="
                             " 'exchange.document_failed'")
    assert event["org_id"] == world.world.org["FAW-VW"]
    assert event["payload"]["refusedBy"] == "APERAK"
    assert "Unit price differs" in event["payload"]["reason"]
    assert len(event["payload"]["reasons"]) == 2
    # It is not tried again; the dispatch advice is untouched; the APERAK is kept.
    assert await send_due(db, config=peers.config()) == 0
    assert await db.fetchval("SELECT status FROM exchange_document WHERE document_type ="
                             " 'dispatch_advice'") == "sent"
    received = await one(db, "SELECT document_type, status FROM exchange_document"
                                 " WHERE direction = 'in'")
    assert dict(received) == {"document_type": "acknowledgement", "status": "accepted"}
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 0


async def test_a_partner_cannot_acknowledge_another_partners_document(
    local: Api, db: Database, world: Track, tmp_path: Path
) -> None:
    async with peers.sftp_peer(tmp_path / "sftp") as sftp:
        await send_documents(local, db, world, sftp, tmp_path)
    [desadv] = list((tmp_path / "sftp" / "desadv").iterdir())
    interchange, _ = references(desadv.read_bytes())
    await register(local, world.world.org["GALANZ"], "ACKNOWLEDGEMENT", "GALANZ.ACK",
                   "HTTPS", "EDIFACT", "https://127.0.0.1:9443/contrl", {}, {})

    status, answer = await send(local, "GALANZ.ACK", contrl(interchange, "4",
                                                            sender="GALANZ"),
                                token("GALANZ"))

    assert status == 422 and answer["accepted"] is False
    assert answer["problems"] == [f"CONTRL FV0001 answers interchange {interchange!r}: the "
                                  "platform sent you no interchange with that control "
                                  "reference"]
    stored = await one(db, "SELECT org_id, document_type, status, receipt FROM"
                               " exchange_document WHERE direction = 'in'")
    assert (stored["org_id"], stored["document_type"], stored["status"]) == (
        world.world.org["GALANZ"], "acknowledgement", "refused")
    assert stored["receipt"]["problems"] == answer["problems"]
    assert await db.fetchval("SELECT status FROM exchange_document WHERE document_type ="
                             " 'dispatch_advice'") == "sent"
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                             " 'exchange.document_failed'") == 0
    # Nor through FAW-VW's address: it is FAW-VW's, not GALANZ's.
    status, _ = await send(local, "FAW-VW.DESADV", contrl(interchange, "7"), token("GALANZ"))
    assert status == 404
