"""Documents made from what happens in the platform, one per partner address.

The exchange follows the outbox from its own cursor. Each event that concerns a
partner's document is turned into the business document (read from the database as the
event left it), rendered in the format the partner's address names, and kept as a
pending document; the business key (``leg:42:departed``) makes it go to one address
once, however often the event is read.

| event | document | to |
|---|---|---|
| `contract.confirmed` | order response | the customer |
| `shipment.departed` | dispatch advice (each of the customer's coils a package) | the customer |
| `settlement.issued` | invoice | the customer |
| `claim.credited` | credit note (INVOIC 381) crediting the contract's invoice | the customer |
| `quality.certificate_issued` | the certificate, EN 10168 JSON | the customer |
| `contract.created` on the platform (not fed by the ERP) | the contract | the mill's ERP |
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from domain.db import Database, Executor
from domain.errors import DomainError
from domain.events import DomainEvent
from domain.exchange import edifact, jsonfmt, mapping
from domain.exchange import messages as m
from domain.exchange.addresses import Address, resolve
from domain.exchange.documents import create_outbound, record_unwritable
from domain.exchange.sscc import make_sscc

__all__ = ["GS1_COMPANY_PREFIX", "TRIGGERS", "Rendered", "generate", "render"]

log = logging.getLogger(__name__)

# The mill's GS1 company prefix, under which each coil's SSCC is numbered by its id.
GS1_COMPANY_PREFIX = "6901234"
_BATCH = 200
# The mill's calendar: a credit note is dated on the mill's day it was credited.
MILL_ZONE = ZoneInfo("Asia/Shanghai")
_VEHICLE_KIND: dict[str, m.VehicleKind] = {"truck": "plate", "rail_wagon": "wagon",
                                           "ship": "mmsi"}


@dataclass(frozen=True, slots=True)
class Rendered:
    name: str
    content_type: str
    body: bytes
    # EDIFACT: the interchange control and message references it was written with.
    interchange_ref: str | None = None
    message_ref: str | None = None


Built = tuple[str, str, Any]  # business key, file stem, the document
Builder = Callable[[Executor, DomainEvent], Awaitable[Built | None]]


async def _codes(tx: Executor) -> str:
    mill: str = await tx.fetchval("SELECT code FROM organization WHERE kind = 'mill'"
                                  " ORDER BY id LIMIT 1")
    return mill


async def order_response(tx: Executor, e: DomainEvent) -> Built | None:
    c = await tx.fetchrow(
        "SELECT c.id, c.number, c.currency, c.confirmed_at, o.code AS buyer FROM contract c"
        " JOIN organization o ON o.id = c.customer_org_id WHERE c.id = $1", e.aggregate_id)
    if c is None:
        return None
    lines = await tx.fetch(
        "SELECT l.line_no, s.code AS spec, s.customer_part_number, l.quantity_t, l.unit_price,"
        " l.delivery_from, l.delivery_to, st.code AS site FROM contract_line l"
        " JOIN steel_spec s ON s.id = l.spec_id LEFT JOIN site st ON st.id = l.delivery_site_id"
        " WHERE l.contract_id = $1 ORDER BY l.line_no", c["id"])
    doc = m.OrderResponse(
        contract_number=c["number"], customer_order_ref=None,
        confirmed_at=c["confirmed_at"] or e.occurred_at, currency=c["currency"].strip(),
        buyer_code=c["buyer"], seller_code=await _codes(tx),
        lines=tuple(m.OrderResponseLine(
            line_no=ln["line_no"], spec_code=ln["spec"],
            customer_part_number=ln["customer_part_number"], quantity_t=ln["quantity_t"],
            unit_price=ln["unit_price"], delivery_from=ln["delivery_from"],
            delivery_to=ln["delivery_to"], delivery_site_code=ln["site"]) for ln in lines))
    return f"contract:{c['id']}:confirmed", f"ORDRSP-{c['number']}", doc


async def dispatch_advice(tx: Executor, e: DomainEvent) -> Built | None:
    leg_id = e.payload.get("leg_id")
    if leg_id is None or e.org_id is None:
        return None
    leg = await tx.fetchrow(
        "SELECT l.seq, l.mode, l.actual_departure, l.planned_arrival, s.number,"
        " carrier.code AS carrier, v.kind AS vehicle_kind, v.plate, v.code AS vehicle_code,"
        " v.mmsi, o.code AS origin, d.code AS destination, buyer.code AS buyer"
        " FROM shipment_leg l JOIN shipment s ON s.id = l.shipment_id"
        " LEFT JOIN organization carrier ON carrier.id = s.carrier_org_id"
        " LEFT JOIN vehicle v ON v.id = l.vehicle_id JOIN site o ON o.id = l.origin_site_id"
        " JOIN site d ON d.id = l.destination_site_id, organization buyer"
        " WHERE l.id = $1 AND buyer.id = $2", leg_id, e.org_id)
    if leg is None:
        return None
    coils = await tx.fetch(
        "SELECT c.id, c.coil_no, c.weight_kg, h.heat_no, s.code AS spec,"
        " s.customer_part_number, k.number AS contract, cl.line_no FROM leg_coil lc"
        " JOIN coil c ON c.id = lc.coil_id JOIN heat h ON h.id = c.heat_id"
        " LEFT JOIN steel_spec s ON s.id = c.spec_id"
        " JOIN contract_line cl ON cl.id = c.line_id JOIN contract k ON k.id = cl.contract_id"
        " WHERE lc.leg_id = $1 AND c.customer_org_id = $2 ORDER BY c.coil_no",
        leg_id, e.org_id)
    if not coils:
        return None
    vehicle = None
    if leg["vehicle_kind"] is not None:
        kind = _VEHICLE_KIND[leg["vehicle_kind"]]
        ident = str(leg["mmsi"]) if kind == "mmsi" else _latin(leg["plate"]) or \
            leg["vehicle_code"]
        vehicle = m.Vehicle(kind=kind, id=ident)
    doc = m.DispatchAdvice(
        document_number=f"{leg['number']}-{leg['seq']}", shipment_number=leg["number"],
        leg_seq=leg["seq"], departed_at=leg["actual_departure"] or e.occurred_at,
        mode=leg["mode"], carrier_code=leg["carrier"], vehicle=vehicle,
        buyer_code=leg["buyer"], supplier_code=await _codes(tx),
        from_site_code=leg["origin"], to_site_code=leg["destination"],
        planned_arrival=leg["planned_arrival"],
        packages=tuple(m.DispatchPackage(
            sscc=make_sscc(0, GS1_COMPANY_PREFIX, c["id"]), coil_no=c["coil_no"],
            net_weight_kg=c["weight_kg"], heat_no=c["heat_no"], spec_code=c["spec"] or "",
            customer_part_number=c["customer_part_number"], contract_number=c["contract"],
            line_no=c["line_no"]) for c in coils))
    return (f"leg:{leg_id}:departed", f"DESADV-{leg['number']}-{leg['seq']}", doc)


async def invoice(tx: Executor, e: DomainEvent) -> Built | None:
    s = await tx.fetchrow(
        "SELECT s.id, s.number, s.currency, s.issued_on, s.due_on, s.actual_weight_t,"
        " s.unit_price, s.goods_amount, s.surcharges, s.freight, s.claim_deductions,"
        " s.total_amount, c.number AS contract, o.code AS buyer,"
        " (SELECT sp.code FROM contract_line l JOIN steel_spec sp ON sp.id = l.spec_id"
        "   WHERE l.contract_id = c.id ORDER BY l.line_no LIMIT 1) AS spec"
        " FROM settlement s JOIN contract c ON c.id = s.contract_id"
        " JOIN organization o ON o.id = s.customer_org_id WHERE s.id = $1", e.aggregate_id)
    if s is None or s["issued_on"] is None:
        return None
    doc = m.Invoice(
        kind="invoice", number=s["number"], issued_on=s["issued_on"], due_on=s["due_on"],
        currency=s["currency"].strip(), buyer_code=s["buyer"], seller_code=await _codes(tx),
        contract_number=s["contract"],
        lines=(m.InvoiceLine(spec_code=s["spec"] or "", quantity_t=s["actual_weight_t"],
                             unit_price=s["unit_price"], amount=s["goods_amount"]),),
        surcharges=s["surcharges"], freight=s["freight"],
        claim_deductions=s["claim_deductions"], goods_amount=s["goods_amount"],
        total_amount=s["total_amount"])
    return f"settlement:{s['id']}:issued", f"INVOIC-{s['number']}", doc


async def credit_note(tx: Executor, e: DomainEvent) -> Built | None:
    """A claim credited: the credit note finance named, crediting the contract's invoice
    (the settlement the claim was deducted on, else the contract's latest issued one),
    for the agreed amount over the disputed coils' tonnes. Without an invoice to credit
    there is no credit note to send."""
    c = await tx.fetchrow(
        "SELECT q.id, q.credit_note, q.agreed_amount, q.currency, q.updated_at, k.number AS"
        " contract, o.code AS buyer, coalesce(st.number, (SELECT s2.number FROM settlement"
        "   s2 WHERE s2.contract_id = q.contract_id AND s2.invoice_status IN ('issued',"
        "   'paid', 'overdue') ORDER BY s2.issued_on DESC, s2.id DESC LIMIT 1)) AS invoice,"
        " (SELECT sum(cl.weight_kg) FROM dispute_coil dc JOIN coil cl ON cl.id = dc.coil_id"
        "   WHERE dc.dispute_id = q.dispute_id) AS weight_kg,"
        " (SELECT sp.code FROM dispute_coil dc JOIN coil cl ON cl.id = dc.coil_id"
        "   JOIN steel_spec sp ON sp.id = cl.spec_id WHERE dc.dispute_id = q.dispute_id"
        "   ORDER BY cl.id LIMIT 1) AS spec"
        " FROM quality_claim q JOIN contract k ON k.id = q.contract_id"
        " JOIN organization o ON o.id = q.customer_org_id"
        " LEFT JOIN settlement st ON st.id = q.settlement_id WHERE q.id = $1", e.aggregate_id)
    if c is None or c["invoice"] is None or not c["credit_note"] or not c["weight_kg"]:
        return None
    tonnes = (c["weight_kg"] / 1000).quantize(Decimal("0.001"))
    amount = c["agreed_amount"]
    on = c["updated_at"].astimezone(MILL_ZONE).date()
    doc = m.Invoice(
        kind="credit_note", number=c["credit_note"].strip(), issued_on=on, due_on=on,
        currency=c["currency"].strip(), buyer_code=c["buyer"], seller_code=await _codes(tx),
        contract_number=c["contract"], lines=(m.InvoiceLine(
            spec_code=c["spec"] or "CLAIM", quantity_t=tonnes,
            unit_price=(amount / tonnes).quantize(Decimal("0.01")), amount=amount),),
        surcharges=Decimal(0), freight=Decimal(0), claim_deductions=Decimal(0),
        goods_amount=amount, total_amount=amount, credited_invoice_number=c["invoice"])
    return f"claim:{c['id']}:credited", f"INVOIC-{c['credit_note'].strip()}", doc


async def certificate(tx: Executor, e: DomainEvent) -> Built | None:
    c = await tx.fetchrow(
        "SELECT q.cert_no, q.content, q.content_hash, o.code AS purchaser, k.number AS contract"
        " FROM quality_certificate q JOIN coil cl ON cl.id = q.coil_id"
        " LEFT JOIN organization o ON o.id = q.customer_org_id"
        " LEFT JOIN contract_line l ON l.id = cl.line_id"
        " LEFT JOIN contract k ON k.id = l.contract_id WHERE q.coil_id = $1", e.aggregate_id)
    if c is None:
        return None
    doc = m.certificate_document(c["content"], purchaser=c["purchaser"],
                                 contract_number=c["contract"])
    # A certificate issued again with other content is a new document.
    return (f"certificate:{c['cert_no']}:{c['content_hash'][:16]}", c["cert_no"], doc)


async def contract_for_erp(tx: Executor, e: DomainEvent) -> Built | None:
    if "version" in e.payload:
        return None  # fed by the ERP itself: nothing to send back
    c = await tx.fetchrow(
        "SELECT c.id, c.number, c.currency, c.incoterm, c.signed_on, c.status, c.sales_owner,"
        " c.created_at, o.code AS customer FROM contract c"
        " JOIN organization o ON o.id = c.customer_org_id WHERE c.id = $1", e.aggregate_id)
    if c is None:
        return None
    lines = await tx.fetch(
        "SELECT l.line_no, s.code AS spec, l.quantity_t, l.unit_price, l.delivery_from,"
        " l.delivery_to, st.code AS site, l.transport_mode, l.transit_days, l.firmness"
        " FROM contract_line l JOIN steel_spec s ON s.id = l.spec_id"
        " LEFT JOIN site st ON st.id = l.delivery_site_id WHERE l.contract_id = $1"
        " ORDER BY l.line_no", c["id"])
    doc = ContractDocument({
        "kind": "contract", "key": c["number"], "version": c["created_at"].isoformat(),
        "data": {"customer": c["customer"], "currency": c["currency"].strip(),
                 "incoterm": c["incoterm"], "signedOn": _day(c["signed_on"]),
                 "salesOwner": c["sales_owner"],
                 "status": c["status"] if c["status"] in ("draft", "cancelled") else "confirmed",
                 "lines": [{"lineNo": ln["line_no"], "spec": ln["spec"],
                            "quantityT": str(ln["quantity_t"]),
                            "unitPrice": str(ln["unit_price"]),
                            "deliveryFrom": _day(ln["delivery_from"]),
                            "deliveryTo": _day(ln["delivery_to"]),
                            "deliverySite": ln["site"], "transportMode": ln["transport_mode"],
                            "transitDays": ln["transit_days"], "firmness": ln["firmness"]}
                           for ln in lines]}})
    return f"contract:{c['id']}:created", f"CONTRACT-{c['number']}", doc


@dataclass(frozen=True, slots=True)
class ContractDocument:
    """A contract made on the platform, for the mill's ERP: the record the ERP itself
    would feed (see the feeds' contract kind), so it reads back the same shape."""

    record: dict[str, Any]


def _latin(text: str | None) -> str | None:
    """``text`` when every format can carry it (EDIFACT's UNOC is Latin-1); a plate in
    Chinese characters travels as the vehicle's code instead."""
    if text is None:
        return None
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return text


def _day(value: Any) -> str | None:
    return None if value is None else str(value)


# event type -> (document type, whom it goes to: the event's customer or the mill, builder)
TRIGGERS: dict[str, tuple[str, str, Builder]] = {
    "contract.confirmed": ("order_response", "customer", order_response),
    "shipment.departed": ("dispatch_advice", "customer", dispatch_advice),
    "settlement.issued": ("invoice", "customer", invoice),
    "claim.credited": ("invoice", "customer", credit_note),
    "quality.certificate_issued": ("certificate", "customer", certificate),
    "contract.created": ("contract", "mill", contract_for_erp),
}


def render(address: Address, doc: Any, *, stem: str, reference: int,
           now: datetime) -> Rendered:
    """The document in the address's format (its options name the interchange ids or
    the mapping)."""
    options = address.options
    if address.format == "json":
        if isinstance(doc, ContractDocument):
            body = orjson.dumps(doc.record)
        elif isinstance(doc, m.CertificateDocument):
            body = jsonfmt.certificate_to_json(doc)
        else:
            body = jsonfmt.to_json(doc)
        return Rendered(f"{stem}.json", "application/json", body)
    if address.format == "edifact":
        envelope = edifact.Envelope(
            sender=str(options.get("sender") or "KEYLINK"),
            recipient=str(options.get("recipient") or address.code),
            control_reference=str(reference)[-14:], message_reference=str(reference)[-14:],
            prepared_at=now)
        writers: dict[type, Callable[[Any, edifact.Envelope], bytes]] = {
            m.OrderResponse: edifact.write_ordrsp, m.DispatchAdvice: edifact.write_desadv,
            m.Invoice: edifact.write_invoic}
        return Rendered(f"{stem}.edi", "application/EDIFACT", writers[type(doc)](doc, envelope),
                        envelope.control_reference, envelope.message_reference)
    table = mapping.Mapping.from_json(options["mapping"])
    body = mapping.write_file(table, _rows(doc), address.format)
    kind = ("text/csv" if address.format == "csv" else
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Rendered(f"{stem}.{address.format}", kind, body)


def _rows(doc: Any) -> list[dict[str, Any]]:
    """A document as the rows of a partner's spreadsheet: a dispatch advice a row per
    package, an invoice a row per line."""
    if isinstance(doc, m.DispatchAdvice):
        return [{"shipment": doc.shipment_number, "leg": doc.leg_seq,
                 "departed_at": doc.departed_at.date(), "sscc": p.sscc, "coil": p.coil_no,
                 "weight_kg": p.net_weight_kg, "heat": p.heat_no, "spec": p.spec_code,
                 "part_number": p.customer_part_number, "contract": p.contract_number,
                 "line": p.line_no} for p in doc.packages]
    if isinstance(doc, m.Invoice):
        return [{"invoice": doc.number, "issued_on": doc.issued_on, "due_on": doc.due_on,
                 "contract": doc.contract_number, "spec": ln.spec_code,
                 "quantity_t": ln.quantity_t, "unit_price": ln.unit_price,
                 "amount": ln.amount, "total": doc.total_amount, "currency": doc.currency}
                for ln in doc.lines]
    raise DomainError("this document has no spreadsheet form")


async def generate(db: Database, now: datetime | None = None, *, batch: int = _BATCH,
                   batches: int = 50) -> int:
    """Reads the outbox forward from the exchange's cursor and makes the documents its
    events call for; returns how many documents were made. One worker at a time moves
    the cursor (the others skip it), a batch per transaction."""
    now = now or datetime.now(UTC)
    made = 0
    for _ in range(batches):
        async with db.transaction() as tx:
            after = await tx.fetchval("SELECT seq FROM push_cursor WHERE name = 'exchange'"
                                      " FOR UPDATE SKIP LOCKED")
            if after is None:
                return made  # another worker is at it
            rows = await tx.fetch(
                "SELECT seq, event_type, org_id, aggregate_type, aggregate_id, payload, actor,"
                " occurred_at FROM domain_event WHERE seq > $1 ORDER BY seq LIMIT $2",
                after, batch)
            for row in rows:
                if row["event_type"] in TRIGGERS:
                    made += await _one(tx, DomainEvent(**dict(row)), now)
            if rows:
                await tx.execute("UPDATE push_cursor SET seq = $1 WHERE name = 'exchange'",
                                 rows[-1]["seq"])
        if len(rows) < batch:
            break
    return made


async def _one(tx: Executor, e: DomainEvent, now: datetime) -> int:
    document_type, to, build = TRIGGERS[e.event_type]
    org_id = e.org_id if to == "customer" else await tx.fetchval(
        "SELECT id FROM organization WHERE kind = 'mill' ORDER BY id LIMIT 1")
    if org_id is None:
        return 0
    found = await resolve(tx, org_id, document_type)
    if found is None:
        return 0
    built = await build(tx, e)
    if built is None:
        return 0
    key, stem, doc = built
    try:
        rendered = render(found.address, doc, stem=stem, reference=e.seq, now=now)
    except (DomainError, ValueError) as exc:
        log.warning("exchange: %s for %s could not be written: %s", document_type,
                    found.address.code, exc)
        await record_unwritable(tx, found.address, business_key=key, name=f"{stem}.error",
                                error=f"could not be written: {exc}", event_seq=e.seq)
        return 0
    made = await create_outbound(tx, found.address, business_key=key, name=rendered.name,
                                 content_type=rendered.content_type, body=rendered.body,
                                 event_seq=e.seq, interchange_ref=rendered.interchange_ref,
                                 message_ref=rendered.message_ref)
    return 0 if made is None else 1
