"""Documents partners send: read in the format their address names, checked against what
the platform knows, applied, and kept as received.

A document that does not parse, names codes the platform does not know, or contradicts
it, is refused as a whole with every reason (segment and element for EDIFACT, row and
column for CSV and XLSX) and changes nothing; an EDIFACT one is answered with a CONTRL
rejecting it, an accepted one with a CONTRL accepting it. A document received twice (the
same bytes from the same address) is applied once.

- delivery schedule (DELFOR, or CSV/XLSX through the partner's mapping): a new version
  of the customer's delivery schedule, with each period's firmness
- receiving advice (RECADV, or CSV/XLSX through the partner's mapping): what arrived at
  the customer's store, against the shipment's manifest; each discrepancy is a
  ``shipment.receipt_discrepancy`` event
- acknowledgement (CONTRL, APERAK) of a document the platform sent the partner: taken at
  the partner's acknowledgement address or at any of its EDIFACT addresses (the UNH
  says which message it is), kept as an ``acknowledgement`` and never answered with a
  CONTRL (:mod:`domain.exchange.acknowledgements`)
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain import events
from domain.db import Database, Executor
from domain.errors import DomainError, Invalid
from domain.exchange import acknowledgements, edifact, jsonfmt, mapping, sheets
from domain.exchange import messages as m
from domain.exchange.addresses import Resolved
from domain.exchange.documents import Document, documents_by_ids, record_inbound
from domain.planning.schedules import UnknownCodes, store_schedule
from domain.tenancy import Scope

__all__ = ["ACKNOWLEDGEMENTS", "Answer", "receive"]

ACTOR = "keylink:exchange"
# The messages that acknowledge what the platform sent, whichever address they come to.
ACKNOWLEDGEMENTS = ("CONTRL", "APERAK")


@dataclass(frozen=True, slots=True)
class Answer:
    """What came of a document: kept as received, and the acknowledgement to send back
    (a CONTRL for EDIFACT), if its format has one."""

    document: Document
    accepted: bool
    problems: list[str]
    acknowledgement: bytes | None


async def receive(db: Database, to: Resolved, *, name: str, body: bytes) -> Answer:
    """Applies a document ``to``'s partner sent, or refuses it whole."""
    address = to.address
    if address.direction != "in":
        raise Invalid(f"{address.code} is an address for documents the platform sends",
                      field="address")
    key = "sha256:" + hashlib.sha256(body).hexdigest()
    async with db.transaction() as tx:
        before = await tx.fetchrow(
            "SELECT id FROM exchange_document WHERE address_id = $1 AND direction = 'in'"
            " AND business_key = $2", address.id, key)
        if before is not None:
            found = await _document(tx, before["id"])
            return Answer(found, found.status == "accepted", [], None)
        kind = address.document_type
        if address.format == "edifact" and edifact.message_type(body) in ACKNOWLEDGEMENTS:
            kind = "acknowledgement"
        header: edifact.InterchangeHeader | None = None
        problems: list[str] = []
        detail: list[edifact.Problem] = []
        receipt: dict[str, Any] = {}
        try:
            docs, header = await _read(tx, to, kind, name, body)
            async with tx.connection.transaction():  # a savepoint: refused, nothing stays
                receipt = await _apply(tx, address.org_id, kind, docs, name)
        except edifact.EdifactError as exc:
            header, detail = exc.header, list(exc.problems)
            problems = [str(p) for p in exc.problems]
        except mapping.Refused as exc:
            problems = [_row_problem(p) for p in exc.problems]
        except (UnknownCodes, acknowledgements.Unmatched) as exc:
            problems = list(exc.problems)
        except DomainError as exc:
            problems = [exc.message]
        accepted = not problems
        if not accepted:
            receipt = {"problems": problems[:500], "count": len(problems)}
        stored = await record_inbound(tx, address, business_key=key, name=name,
                                      content_type=_content_type(address.format), body=body,
                                      accepted=accepted, receipt=receipt, document_type=kind)
    ack = None
    # A CONTRL answers an interchange, never an acknowledgement (ISO 9735).
    if address.format == "edifact" and header is not None and kind != "acknowledgement":
        ack = edifact.write_contrl(header, detail, edifact.Envelope(
            sender=header.recipient, recipient=header.sender,
            control_reference=str(stored.id)[-14:], message_reference=str(stored.id)[-14:],
            prepared_at=datetime.now(UTC)))
    return Answer(stored, accepted, problems, ack)


async def _read(tx: Executor, to: Resolved, kind: str, name: str, body: bytes
                ) -> tuple[list[Any], edifact.InterchangeHeader | None]:
    """The documents of ``body``, a ``kind`` of document in the address's format."""
    address = to.address
    fmt, options = address.format, address.options
    kinds: dict[str, type] = {"delivery_schedule": m.DeliverySchedule,
                              "receiving_advice": m.ReceivingAdvice}
    if fmt == "edifact":
        recipient = options.get("recipient")
        readers: dict[str, Any] = {
            "delivery_schedule": edifact.read_delfor, "receiving_advice": edifact.read_recadv,
            "acknowledgement": edifact.read_aperak
            if edifact.message_type(body) == "APERAK" else edifact.read_contrl}
        received = readers[kind](body, recipient=str(recipient) if recipient else None)
        return list(received.documents), received.header
    if kind == "acknowledgement":
        raise Invalid("an acknowledgement is a CONTRL or APERAK in EDIFACT")
    if fmt == "json":
        try:
            return [jsonfmt.from_json(body, kinds[kind])], None
        except (ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"not a {kind} in the platform's JSON: {exc}") from None
    if fmt in ("csv", "xlsx"):
        table = await mapping.mapping_of(tx, address.org_id, kind)
        if table is None:
            raise Invalid(f"no mapping of {kind} is registered for this partner: register "
                          f"the address again with its mapping in options.mapping")
        mapping.check_targets(table, sheets.TARGETS[kind])
        now = datetime.now(UTC)
        if kind == "delivery_schedule":
            buyer = await tx.fetchval("SELECT code FROM organization WHERE id = $1",
                                      address.org_id)
            return await asyncio.to_thread(sheets.schedules, table, name, body, kind=fmt,
                                           buyer_code=str(buyer), received_at=now), None
        return await asyncio.to_thread(sheets.receiving_advices, table, name, body,
                                       kind=fmt, received_at=now), None
    raise Invalid(f"a {kind} is read from EDIFACT, the platform's JSON, CSV or XLSX")


async def _apply(tx: Executor, org_id: int, document_type: str, docs: list[Any],
                 name: str) -> dict[str, Any]:
    if document_type == "acknowledgement":
        return await acknowledgements.apply(tx, org_id, docs)
    if document_type == "delivery_schedule":
        stored = [await store_schedule(tx, org_id, d, source=f"exchange:{name}", actor=ACTOR)
                  for d in docs]
        return {"schedules": [{"version": s.version, "lines": s.lines,
                               "firmT": str(s.firm_t), "totalT": str(s.total_t)}
                              for s in stored]}
    found = [await _receipt(tx, org_id, d) for d in docs]
    return {"receipts": found}


def _row_problem(p: mapping.Problem) -> str:
    """A problem of a CSV or XLSX file, as a person finds it in the file."""
    where = f"row {p.row}" + (f", column {p.column}" if p.column else "")
    found = "" if p.value is None or p.value == "" else f" (found {p.value!r})"
    return f"{where}: {p.reason}{found}"


async def _receipt(tx: Executor, org_id: int, advice: m.ReceivingAdvice) -> dict[str, Any]:
    """A receiving advice against the manifest of the shipment it answers: each package
    it reports damaged, missing, extra or not advised, and each coil of the manifest it
    does not mention, is a discrepancy event for the mill and the customer."""
    shipment = await tx.fetchrow(
        "SELECT s.id, s.number FROM shipment s JOIN shipment_customer sc ON sc.shipment_id ="
        " s.id AND sc.org_id = $2 WHERE s.number = $1", advice.shipment_number or
        advice.despatch_advice_number or "", org_id)
    if shipment is None:
        raise Invalid(f"no shipment {advice.shipment_number or advice.despatch_advice_number!r}"
                      " of this customer")
    manifest = {r["coil_no"]: r["id"] for r in await tx.fetch(
        "SELECT DISTINCT c.coil_no, c.id FROM shipment_leg l JOIN leg_coil lc ON lc.leg_id ="
        " l.id JOIN coil c ON c.id = lc.coil_id WHERE l.shipment_id = $1"
        " AND c.customer_org_id = $2", shipment["id"], org_id)}
    discrepancies = []
    seen = set()
    for p in advice.packages:
        coil = p.coil_no or _coil_of_sscc(p.sscc, manifest)
        seen.add(coil)
        if coil not in manifest:
            discrepancies.append({"coil": coil or p.sscc, "discrepancy": "not_advised"})
        elif p.discrepancy is not None:
            discrepancies.append({"coil": coil, "discrepancy": p.discrepancy})
    discrepancies += [{"coil": c, "discrepancy": "missing"} for c in sorted(manifest)
                      if c not in seen]
    for d in discrepancies:
        await events.append(
            tx, "shipment.receipt_discrepancy", org_id=org_id, aggregate_type="shipment",
            aggregate_id=shipment["id"], actor=ACTOR,
            payload={"shipment": shipment["number"], "number": shipment["number"],
                     "advice": advice.document_number, **d})
    return {"shipment": shipment["number"], "packages": len(advice.packages),
            "discrepancies": discrepancies}


def _coil_of_sscc(sscc: str | None, manifest: dict[str, int]) -> str | None:
    """The manifest's coil an SSCC names: SSCCs the exchange printed number coils by id."""
    if sscc is None:
        return None
    serial = int(sscc[8:-1]) if len(sscc) == 18 and sscc.isdigit() else None
    return next((c for c, i in manifest.items() if i == serial), None)


def _content_type(fmt: str) -> str:
    return {"edifact": "application/EDIFACT", "json": "application/json",
            "csv": "text/csv",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}.get(
        fmt, "application/octet-stream")


async def _document(tx: Executor, document_id: int) -> Document:
    [found] = await documents_by_ids(tx, Scope.everything(), [document_id])
    return found
