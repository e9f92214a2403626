"""Documents of the mill's kind, shared by the exchange tests: FAW-VW's contract for
body-side blanks, the road leg that takes three of its coils to Changchun, the invoice
for them and its credit note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from domain.exchange import messages as m
from domain.exchange.edifact import Envelope
from domain.exchange.sscc import make_sscc
from tests.support.factory import TODAY

CST = timezone(timedelta(hours=8))
SSCCS = tuple(make_sscc(3, "6901234", n) for n in (1, 2, 3))


def envelope(**changes: object) -> Envelope:
    args: dict[str, object] = {
        "sender": "6901234000009", "sender_qualifier": "14", "recipient": "FAWVW",
        "control_reference": "BS000000042", "message_reference": "DA0001",
        "prepared_at": datetime(2026, 11, 25, 1, 45, tzinfo=UTC),
    }
    args.update(changes)
    return Envelope(**args)  # type: ignore[arg-type]


def order_response() -> m.OrderResponse:
    return m.OrderResponse(
        contract_number="BS-2026-0117", customer_order_ref="4500123456",
        confirmed_at=datetime(2026, 10, 9, 14, 5, tzinfo=CST), currency="CNY",
        buyer_code="FAW-VW", seller_code="BAOSTEEL",
        lines=(
            m.OrderResponseLine(1, "DC04-0.8x1250", "5G0-809-605", Decimal("1200.000"),
                                Decimal("5480.00"), TODAY + timedelta(days=20),
                                TODAY + timedelta(days=50), "FAW-VW-CC-WH1"),
            m.OrderResponseLine(2, "DX54D+Z100-0.7x1500", None, Decimal("360.500"),
                                Decimal("6120.50"), TODAY + timedelta(days=30),
                                TODAY + timedelta(days=30)),
        ))


def dispatch_advice(**changes: object) -> m.DispatchAdvice:
    args: dict[str, object] = {
        "document_number": "DA-2026-0001", "shipment_number": "SH-2026-0042", "leg_seq": 2,
        "departed_at": datetime(2026, 11, 25, 9, 30, tzinfo=CST), "mode": "road",
        "carrier_code": "SINOTRANS-SH", "vehicle": m.Vehicle("plate", "A-D12345"),
        "buyer_code": "FAW-VW", "supplier_code": "BAOSTEEL",
        "from_site_code": "BAOSHAN-DOCK-3", "to_site_code": "FAW-VW-CC-WH1",
        "from_gln": None, "to_gln": "6901234000023",
        "planned_arrival": datetime(2026, 11, 28, 8, 0, tzinfo=CST),
        "packages": (
            m.DispatchPackage(SSCCS[0], "BX25C0012345", Decimal("25480.0"), "25H11872",
                              "DC04-0.8x1250", "5G0-809-605", "BS-2026-0117", 1),
            m.DispatchPackage(SSCCS[1], "BX25C0012346", Decimal("24960.5"), "25H11872",
                              "DC04-0.8x1250", "5G0-809-605", "BS-2026-0117", 1),
            m.DispatchPackage(SSCCS[2], "BX25C0012347", Decimal("25120.0"), "25H11905",
                              "DX54D+Z100-0.7x1500", None, "BS-2026-0117", 2),
        ),
    }
    args.update(changes)
    return m.DispatchAdvice(**args)  # type: ignore[arg-type]


def invoice() -> m.Invoice:
    lines = (m.InvoiceLine("DC04-0.8x1250", Decimal("50.441"), Decimal("5480.00"),
                           Decimal("276416.68")),
             m.InvoiceLine("DX54D+Z100-0.7x1500", Decimal("25.120"), Decimal("6120.50"),
                           Decimal("153746.96")))
    goods = Decimal("430163.64")
    return m.Invoice(
        kind="invoice", number="INV-2026-000317", issued_on=TODAY,
        due_on=TODAY + timedelta(days=30), currency="CNY", buyer_code="FAW-VW",
        seller_code="BAOSTEEL", contract_number="BS-2026-0117", lines=lines,
        surcharges=Decimal("1512.30"), freight=Decimal("8650.00"),
        claim_deductions=Decimal("3200.00"), goods_amount=goods,
        total_amount=goods + Decimal("1512.30") + Decimal("8650.00") - Decimal("3200.00"))


def credit_note() -> m.Invoice:
    line = m.InvoiceLine("DC04-0.8x1250", Decimal("1.250"), Decimal("5480.00"),
                         Decimal("6850.00"))
    return m.Invoice(
        kind="credit_note", number="CN-2026-000021", issued_on=TODAY,
        due_on=TODAY + timedelta(days=30), currency="CNY", buyer_code="FAW-VW",
        seller_code="BAOSTEEL", contract_number="BS-2026-0117", lines=(line,),
        surcharges=Decimal(0), freight=Decimal(0), claim_deductions=Decimal(0),
        goods_amount=Decimal("6850.00"), total_amount=Decimal("6850.00"),
        credited_invoice_number="INV-2026-000317")
