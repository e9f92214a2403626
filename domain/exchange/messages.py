"""The business documents Keylink exchanges with its partners, free of any format.

Each document is a frozen dataclass that checks itself when built: a document that
exists is one that can be written (EDIFACT, Keylink's JSON) without a further check, and
one read from a partner is refused whole when a value is out of bounds. Weights, prices
and amounts are exact ``Decimal``; times carry their UTC offset; days are ``date``.
Texts are bounded by what the EDIFACT data elements that carry them hold (an..35 for
numbers, codes and references), so a document never has to be cut to be sent.

Going out (the mill to its customers): :class:`OrderResponse` (ORDRSP, a customer's order
confirmed as a contract), :class:`DispatchAdvice` (DESADV, a shipment leg leaving with
its coils), :class:`Invoice` (INVOIC, an invoice or credit note) and
:class:`CertificateDocument` (a coil's inspection certificate in the EN 10168 structure).
Coming in (customers to the mill): :class:`DeliverySchedule` (DELFOR) and
:class:`ReceivingAdvice` (RECADV), and :class:`Acknowledgement` (a partner's CONTRL or
APERAK answering a document the mill sent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from domain.errors import Invalid
from domain.exchange.sscc import check_digit
from domain.exchange.sscc import validate as validate_sscc

# an..35: document numbers, references, party and item identifiers in EDIFACT.
MAX_ID: Final = 35
# More lines, entries or packages than any one document of the mill's carries (a ship
# leg takes a few hundred coils); a bound, not a business rule.
MAX_LINES: Final = 9999
MAX_ENTRIES: Final = 999
# n..15: the most digits an EDIFACT number holds.
MAX_DIGITS: Final = 15
# Printable ASCII, no blank at either end: a code any partner's system can store.
_CODE = re.compile(r"[!-~]([ -~]*[!-~])?")
_CURRENCY = re.compile(r"[A-Z]{3}")

Firmness = Literal["firm", "commitment_production", "commitment_material", "forecast"]
# The EDIFACT delivery plan status indicator (4017, SCC segment) onto Keylink's firmness,
# the names contract lines keep.
FIRMNESS_BY_SCC: Final[Mapping[str, Firmness]] = {
    "1": "firm",
    "2": "commitment_production",
    "3": "commitment_material",
    "4": "forecast",
}
SCC_BY_FIRMNESS: Final[Mapping[Firmness, str]] = {v: k for k, v in FIRMNESS_BY_SCC.items()}

Unit = Literal["TNE", "KGM"]  # UN/ECE Recommendation 20: tonne, kilogram
Mode = Literal["road", "rail", "water"]
VehicleKind = Literal["plate", "wagon", "mmsi", "imo"]
_VEHICLE_MODES: Final[Mapping[VehicleKind, Mode]] = {
    "plate": "road", "wagon": "rail", "mmsi": "water", "imo": "water"}
InvoiceKind = Literal["invoice", "credit_note"]
# UN/EDIFACT 1001 document name codes.
INVOICE_CODES: Final[Mapping[InvoiceKind, str]] = {"invoice": "380", "credit_note": "381"}
ScheduleFunction = Literal["original", "replace"]
Discrepancy = Literal["damaged", "missing", "extra", "not_advised", "late"]
AcknowledgementKind = Literal["CONTRL", "APERAK"]


# -- checks ------------------------------------------------------------------------------


def text(value: str, field: str, *, limit: int = MAX_ID) -> str:
    """A non-empty text of at most ``limit`` characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("must not be empty", field=field)
    if len(value) > limit:
        raise Invalid(f"must be at most {limit} characters", field=field)
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise Invalid("must not hold control characters", field=field)
    return value


def optional_text(value: str | None, field: str, *, limit: int = MAX_ID) -> str | None:
    return None if value is None else text(value, field, limit=limit)


def code(value: str, field: str) -> str:
    """A code (a number, a spec, a party or site): printable ASCII, no blank at either
    end. EDIFACT's service characters in it travel escaped."""
    text(value, field)
    if not _CODE.fullmatch(value):
        raise Invalid("must be printable ASCII with no blank at either end", field=field)
    return value


def currency(value: str, field: str = "currency") -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise Invalid("must be an ISO 4217 code such as CNY", field=field)
    return value


def number(value: Decimal, field: str, *, minimum: Decimal | None = Decimal(0),
           positive: bool = False) -> Decimal:
    """A finite decimal of at most 15 digits, at least ``minimum`` (above 0 when
    ``positive``)."""
    if not isinstance(value, Decimal):
        raise Invalid("must be a Decimal", field=field)
    if not value.is_finite():
        raise Invalid("must be a finite number", field=field)
    if positive and value <= 0:
        raise Invalid("must be above 0", field=field)
    if minimum is not None and value < minimum:
        raise Invalid(f"must be at least {minimum}", field=field)
    if len(value.as_tuple().digits) > MAX_DIGITS and value != 0:
        raise Invalid(f"must have at most {MAX_DIGITS} digits", field=field)
    return value


def aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime):
        raise Invalid("must be a datetime", field=field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid("must carry a UTC offset", field=field)
    return moment


def day(value: date, field: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise Invalid("must be a date", field=field)
    return value


def positive_int(value: int, field: str, *, below: int = 1_000_000) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < below:
        raise Invalid(f"must be a whole number from 1 to {below - 1}", field=field)
    return value


def items(values: Sequence[Any], field: str, *, limit: int, kind: type,
          empty: bool = False) -> None:
    if not isinstance(values, tuple):
        raise Invalid("must be a tuple", field=field)
    if not values and not empty:
        raise Invalid("must not be empty", field=field)
    if len(values) > limit:
        raise Invalid(f"must hold at most {limit}", field=field)
    for i, v in enumerate(values):
        if not isinstance(v, kind):
            raise Invalid(f"must be a {kind.__name__}", field=f"{field}[{i}]")


def one_of(value: str, field: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise Invalid(f"must be one of {', '.join(allowed)}", field=field)
    return value


def gln(value: str | None, field: str) -> str | None:
    """A GS1 global location number: 13 digits with their check digit."""
    if value is None:
        return None
    if not (isinstance(value, str) and len(value) == 13 and value.isascii()
            and value.isdigit()) or check_digit(value[:-1]) != int(value[-1]):
        raise Invalid("must be a GLN: 13 digits with their check digit", field=field)
    return value


# -- quantities ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quantity:
    """A quantity as a partner stated it, in tonnes (TNE) or kilograms (KGM). The unit is
    kept, so a document reads back as it came; :attr:`tonnes` converts, exactly."""

    value: Decimal
    unit: Unit

    def __post_init__(self) -> None:
        number(self.value, "value")
        one_of(self.unit, "unit", ("TNE", "KGM"))

    @property
    def tonnes(self) -> Decimal:
        """The quantity in tonnes: kilograms moved three places, every digit kept."""
        return self.value if self.unit == "TNE" else self.value.scaleb(-3)


def kg_to_t(kg: Decimal) -> Decimal:
    """Kilograms as tonnes, exactly (25480.0 kg -> 25.4800 t)."""
    return kg.scaleb(-3)


# -- ORDRSP --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderResponseLine:
    """A confirmed contract line: the spec (and the customer's part number for it), the
    tonnes, the price per tonne and the delivery window (inclusive days) and site."""

    line_no: int
    spec_code: str
    customer_part_number: str | None
    quantity_t: Decimal
    unit_price: Decimal
    delivery_from: date
    delivery_to: date
    delivery_site_code: str | None = None

    def __post_init__(self) -> None:
        positive_int(self.line_no, "lineNo")
        code(self.spec_code, "specCode")
        optional_text(self.customer_part_number, "customerPartNumber")
        number(self.quantity_t, "quantityT", positive=True)
        number(self.unit_price, "unitPrice")
        day(self.delivery_from, "deliveryFrom")
        day(self.delivery_to, "deliveryTo")
        if self.delivery_to < self.delivery_from:
            raise Invalid("must not be before deliveryFrom", field="deliveryTo")
        if self.delivery_site_code is not None:
            code(self.delivery_site_code, "deliverySiteCode")


@dataclass(frozen=True, slots=True)
class OrderResponse:
    """The mill's confirmation of a customer's order: the contract as confirmed."""

    contract_number: str
    customer_order_ref: str | None
    confirmed_at: datetime
    currency: str
    buyer_code: str
    seller_code: str
    lines: tuple[OrderResponseLine, ...]

    def __post_init__(self) -> None:
        code(self.contract_number, "contractNumber")
        optional_text(self.customer_order_ref, "customerOrderRef")
        aware(self.confirmed_at, "confirmedAt")
        currency(self.currency)
        code(self.buyer_code, "buyerCode")
        code(self.seller_code, "sellerCode")
        items(self.lines, "lines", limit=MAX_LINES, kind=OrderResponseLine)
        _unique([line.line_no for line in self.lines], "lines", "line number")


# -- DESADV --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vehicle:
    """What carries the leg: a truck's plate, a rail wagon's number, or a ship by MMSI (9
    digits) or IMO number (7 digits)."""

    kind: VehicleKind
    id: str

    def __post_init__(self) -> None:
        one_of(self.kind, "vehicle.kind", tuple(_VEHICLE_MODES))
        text(self.id, "vehicle.id")
        digits = {"mmsi": 9, "imo": 7}.get(self.kind)
        if digits is not None and not (len(self.id) == digits and self.id.isascii()
                                       and self.id.isdigit()):
            raise Invalid(f"an {self.kind.upper()} is {digits} digits", field="vehicle.id")

    @property
    def mode(self) -> Mode:
        return _VEHICLE_MODES[self.kind]


@dataclass(frozen=True, slots=True)
class DispatchPackage:
    """One coil as a package: its SSCC, coil and heat numbers, net weight, spec (and the
    customer's part number) and the contract line it is delivered against."""

    sscc: str
    coil_no: str
    net_weight_kg: Decimal
    heat_no: str
    spec_code: str
    customer_part_number: str | None
    contract_number: str
    line_no: int

    def __post_init__(self) -> None:
        validate_sscc(self.sscc)
        code(self.coil_no, "coilNo")
        number(self.net_weight_kg, "netWeightKg", positive=True)
        code(self.heat_no, "heatNo")
        code(self.spec_code, "specCode")
        optional_text(self.customer_part_number, "customerPartNumber")
        code(self.contract_number, "contractNumber")
        positive_int(self.line_no, "lineNo")

    @property
    def net_weight_t(self) -> Decimal:
        return kg_to_t(self.net_weight_kg)


@dataclass(frozen=True, slots=True)
class DispatchAdvice:
    """A shipment leg departing: where from and to (Keylink's site codes, and the sites'
    GLNs when known), when, on what, by whom, and the coils it carries."""

    document_number: str
    shipment_number: str
    leg_seq: int
    departed_at: datetime
    mode: Mode
    carrier_code: str | None
    vehicle: Vehicle | None
    buyer_code: str
    supplier_code: str
    from_site_code: str
    to_site_code: str
    planned_arrival: datetime
    packages: tuple[DispatchPackage, ...]
    from_gln: str | None = None
    to_gln: str | None = None

    def __post_init__(self) -> None:
        code(self.document_number, "documentNumber")
        code(self.shipment_number, "shipmentNumber")
        positive_int(self.leg_seq, "legSeq", below=1000)
        aware(self.departed_at, "departedAt")
        one_of(self.mode, "mode", ("road", "rail", "water"))
        if self.carrier_code is not None:
            code(self.carrier_code, "carrierCode")
        if self.vehicle is not None:
            if not isinstance(self.vehicle, Vehicle):
                raise Invalid("must be a Vehicle", field="vehicle")
            if self.vehicle.mode != self.mode:
                raise Invalid(f"a {self.vehicle.kind} does not travel by {self.mode}",
                              field="vehicle.kind")
        code(self.buyer_code, "buyerCode")
        code(self.supplier_code, "supplierCode")
        code(self.from_site_code, "fromSiteCode")
        code(self.to_site_code, "toSiteCode")
        aware(self.planned_arrival, "plannedArrival")
        if self.planned_arrival < self.departed_at:
            raise Invalid("must not be before departedAt", field="plannedArrival")
        items(self.packages, "packages", limit=MAX_LINES, kind=DispatchPackage)
        _unique([p.sscc for p in self.packages], "packages", "SSCC")
        _unique([p.coil_no for p in self.packages], "packages", "coil number")
        gln(self.from_gln, "fromGln")
        gln(self.to_gln, "toGln")

    @property
    def net_weight_kg(self) -> Decimal:
        return sum((p.net_weight_kg for p in self.packages), Decimal(0))


# -- INVOIC --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    spec_code: str
    quantity_t: Decimal
    unit_price: Decimal
    amount: Decimal

    def __post_init__(self) -> None:
        code(self.spec_code, "specCode")
        number(self.quantity_t, "quantityT", positive=True)
        number(self.unit_price, "unitPrice")
        number(self.amount, "amount")


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice (380) or a credit note (381, naming the invoice it credits) for a
    contract: its lines, the surcharges and freight added, the agreed claims deducted,
    and the totals, which must add up: the goods amount is the sum of the line amounts,
    the total is goods + surcharges + freight - claim deductions (as a settlement's)."""

    kind: InvoiceKind
    number: str
    issued_on: date
    due_on: date
    currency: str
    buyer_code: str
    seller_code: str
    contract_number: str
    lines: tuple[InvoiceLine, ...]
    surcharges: Decimal
    freight: Decimal
    claim_deductions: Decimal
    goods_amount: Decimal
    total_amount: Decimal
    credited_invoice_number: str | None = None

    def __post_init__(self) -> None:
        one_of(self.kind, "kind", tuple(INVOICE_CODES))
        code(self.number, "number")
        day(self.issued_on, "issuedOn")
        day(self.due_on, "dueOn")
        if self.due_on < self.issued_on:
            raise Invalid("must not be before issuedOn", field="dueOn")
        currency(self.currency)
        code(self.buyer_code, "buyerCode")
        code(self.seller_code, "sellerCode")
        code(self.contract_number, "contractNumber")
        items(self.lines, "lines", limit=MAX_LINES, kind=InvoiceLine)
        for name in ("surcharges", "freight", "claim_deductions", "goods_amount",
                     "total_amount"):
            number(getattr(self, name), _camel(name), minimum=None)
        number(self.claim_deductions, "claimDeductions")
        if sum((line.amount for line in self.lines), Decimal(0)) != self.goods_amount:
            raise Invalid("must be the sum of the lines' amounts", field="goodsAmount")
        if (self.goods_amount + self.surcharges + self.freight - self.claim_deductions
                != self.total_amount):
            raise Invalid("must be goods + surcharges + freight - claim deductions",
                          field="totalAmount")
        if (self.kind == "credit_note") != (self.credited_invoice_number is not None):
            raise Invalid("a credit note, and only a credit note, names the invoice it "
                          "credits", field="creditedInvoiceNumber")
        if self.credited_invoice_number is not None:
            code(self.credited_invoice_number, "creditedInvoiceNumber")

    @property
    def document_code(self) -> str:
        """UN/EDIFACT 1001: 380 commercial invoice, 381 credit note."""
        return INVOICE_CODES[self.kind]


# -- DELFOR --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One requirement of a part: a quantity to deliver on a day (``delivery_from`` ==
    ``delivery_to``), at a time (``delivery_at``, when the customer gave one) or within a
    period (a week, a range of days), with how firm the customer holds it."""

    quantity: Quantity
    firmness: Firmness
    delivery_from: date
    delivery_to: date
    delivery_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, Quantity):
            raise Invalid("must be a Quantity", field="quantity")
        one_of(self.firmness, "firmness", tuple(SCC_BY_FIRMNESS))
        day(self.delivery_from, "deliveryFrom")
        day(self.delivery_to, "deliveryTo")
        if self.delivery_to < self.delivery_from:
            raise Invalid("must not be before deliveryFrom", field="deliveryTo")
        if self.delivery_at is not None:
            aware(self.delivery_at, "deliveryAt")

    @property
    def quantity_t(self) -> Decimal:
        return self.quantity.tonnes


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """The requirements for one part, named by the customer's part number, the mill's
    spec code, or both."""

    line_no: int | None
    customer_part_number: str | None
    spec_code: str | None
    entries: tuple[ScheduleEntry, ...]

    def __post_init__(self) -> None:
        if self.line_no is not None:
            positive_int(self.line_no, "lineNo")
        optional_text(self.customer_part_number, "customerPartNumber")
        optional_text(self.spec_code, "specCode")
        if self.customer_part_number is None and self.spec_code is None:
            raise Invalid("a line names a customer part number or a spec code",
                          field="customerPartNumber")
        items(self.entries, "entries", limit=MAX_ENTRIES, kind=ScheduleEntry, empty=True)


@dataclass(frozen=True, slots=True)
class DeliverySchedule:
    """A customer's delivery schedule (DELFOR) for one ship-to site, named by Keylink's
    site code or by its GLN."""

    document_number: str
    function: ScheduleFunction
    issued_at: datetime
    buyer_code: str
    supplier_code: str | None
    ship_to_site_code: str | None
    ship_to_gln: str | None
    lines: tuple[ScheduleLine, ...]

    def __post_init__(self) -> None:
        text(self.document_number, "documentNumber")
        one_of(self.function, "function", ("original", "replace"))
        aware(self.issued_at, "issuedAt")
        text(self.buyer_code, "buyerCode")
        optional_text(self.supplier_code, "supplierCode")
        optional_text(self.ship_to_site_code, "shipToSiteCode")
        gln(self.ship_to_gln, "shipToGln")
        if self.ship_to_site_code is None and self.ship_to_gln is None:
            raise Invalid("a schedule names its ship-to site", field="shipToSiteCode")
        items(self.lines, "lines", limit=MAX_LINES, kind=ScheduleLine)


# -- RECADV --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedPackage:
    """One package as the customer's store received it: named by SSCC, coil number or
    both; the quantity received; and what was wrong, if anything (``variance`` is the
    difference the customer stated, in the quantity's unit)."""

    sscc: str | None
    coil_no: str | None
    received: Quantity
    discrepancy: Discrepancy | None = None
    variance: Decimal | None = None

    def __post_init__(self) -> None:
        if self.sscc is not None:
            validate_sscc(self.sscc)
        optional_text(self.coil_no, "coilNo")
        if self.sscc is None and self.coil_no is None:
            raise Invalid("a package is named by its SSCC or its coil number", field="sscc")
        if not isinstance(self.received, Quantity):
            raise Invalid("must be a Quantity", field="received")
        if self.discrepancy is not None:
            one_of(self.discrepancy, "discrepancy",
                   ("damaged", "missing", "extra", "not_advised", "late"))
        if self.variance is not None:
            number(self.variance, "variance", minimum=None)


@dataclass(frozen=True, slots=True)
class ReceivingAdvice:
    """What arrived at a customer's store, against the despatch advice (its document
    number) and, when the customer names it, the shipment and leg."""

    document_number: str
    received_at: datetime
    despatch_advice_number: str | None
    shipment_number: str | None
    leg_seq: int | None
    packages: tuple[ReceivedPackage, ...]

    def __post_init__(self) -> None:
        text(self.document_number, "documentNumber")
        aware(self.received_at, "receivedAt")
        optional_text(self.despatch_advice_number, "despatchAdviceNumber")
        optional_text(self.shipment_number, "shipmentNumber")
        if self.despatch_advice_number is None and self.shipment_number is None:
            raise Invalid("a receiving advice names the despatch advice or the shipment "
                          "it answers", field="despatchAdviceNumber")
        if self.leg_seq is not None:
            positive_int(self.leg_seq, "legSeq", below=1000)
        items(self.packages, "packages", limit=MAX_LINES, kind=ReceivedPackage)


# -- CONTRL, APERAK --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A partner's answer to an interchange the mill sent: a CONTRL (syntax) naming the
    interchange by its control reference (UCI 0020) and, when it answers messages one by
    one, their references (UCM 0062); or an APERAK (application) naming the message by
    its reference (RFF+ACW) and the document (DOC). ``accepted`` says whether the partner
    took it; ``reasons`` are the partner's, when it did not."""

    kind: AcknowledgementKind
    # The acknowledgement's own number (an APERAK's BGM) or its interchange's reference.
    number: str
    interchange_ref: str | None
    message_refs: tuple[str, ...]
    accepted: bool
    reasons: tuple[str, ...] = ()
    document_number: str | None = None

    def __post_init__(self) -> None:
        one_of(self.kind, "kind", ("CONTRL", "APERAK"))
        text(self.number, "number")
        optional_text(self.interchange_ref, "interchangeRef")
        for ref in self.message_refs:
            text(ref, "messageRefs")
        if self.interchange_ref is None and not self.message_refs:
            raise Invalid("an acknowledgement names the interchange or the message it "
                          "answers", field="interchangeRef")
        optional_text(self.document_number, "documentNumber")


# -- the certificate, EN 10168 ------------------------------------------------------------------

EN_10168: Final = "EN 10168:2004"
# C71-C92 hold the chemical composition, one element a field; EN 10168 leaves the order
# open, and this is the usual one of mill certificates (carbon first, then the elements
# every analysis states, then the micro-alloys and residuals). Elements past C92 go on
# in C93-C99, the fields for supplementary information on the composition.
_ELEMENT_ORDER: Final = ("C", "Si", "Mn", "P", "S", "Al", "Cr", "Ni", "Mo", "Cu", "V", "Nb",
                         "Ti", "B", "N", "Ca", "Sn", "As", "Co", "Zr", "W", "Pb")
CHEMISTRY_FIELDS: Final = tuple(f"C{n}" for n in range(71, 100))


@dataclass(frozen=True, slots=True)
class Measured:
    """A measured value with its unit and the limits it was checked against (None on a
    side the spec does not bound, or when the certificate was checked against none)."""

    value: Decimal
    unit: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChemicalElement:
    """One field of C71-C99: the element's symbol and its mass percent in the cast
    analysis, with the spec's limits."""

    field: str
    symbol: str
    value_pct: Decimal
    minimum_pct: Decimal | None = None
    maximum_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CertificateDocument:
    """A coil's (or a heat's) inspection certificate in the EN 10168 groups.

    A, commercial transaction and parties: A01 the manufacturer, A02 the type of
    inspection document (EN 10204 and its type), A03 the document number, A06 the
    purchaser, A07 the purchaser's order number, A08 the manufacturer's order (contract)
    number. B, product: B01 the product, B02 the steel designation and its standard,
    B07 the identification (heat and coil numbers). C, inspections and tests: C10 the
    tensile test's description, C11 yield strength, C12 tensile strength, C13 elongation
    after fracture; C71-C99 the cast analysis, one element a field. D, other tests: D01
    the coating designation, D02 the coating mass. Z, validation: Z01 the statement of
    compliance, Z02 the date of issue, Z03 who validated it. ``limits_revision`` names
    the revision of the spec's limits the values were checked against (None: none).
    """

    a01_manufacturer: str
    a02_document_type: str
    a03_document_number: str
    a06_purchaser: str | None
    a07_order_number: str | None
    a08_contract_number: str | None
    b01_product: str | None
    b02_steel_grade: str
    b02_standard: str
    b07_heat_no: str
    b07_coil_no: str | None
    c10_tensile_test: str
    c11_yield_strength: Measured
    c12_tensile_strength: Measured
    c13_elongation: Measured
    chemistry: tuple[ChemicalElement, ...]
    d01_coating_designation: str | None
    d02_coating_mass: Measured | None
    z01_statement: str
    z02_issued_at: datetime
    z03_validated_by: str
    limits_revision: int | None

    def __post_init__(self) -> None:
        aware(self.z02_issued_at, "z02IssuedAt")
        fields = [e.field for e in self.chemistry]
        if fields != list(CHEMISTRY_FIELDS[: len(fields)]):
            raise Invalid("chemistry fills C71 onwards in order", field="chemistry")


def certificate_document(
    content: Mapping[str, Any],
    *,
    purchaser: str | None = None,
    order_number: str | None = None,
    contract_number: str | None = None,
    product: str | None = None,
) -> CertificateDocument:
    """The EN 10168 document of a certificate's canonical content
    (``domain.quality.certificates.certificate_content``), with the parties and orders
    the content does not hold. Values keep the content's digits; the limits are the ones
    the content names (its ``limits`` section), else none."""
    try:
        doc = content["document"]
        prod = content["product"]
        mech = content["mechanical"]
        chemistry: Mapping[str, Any] = content["chemistry_pct"]
        limits: Mapping[str, Any] = content.get("limits") or {}
        coating: Mapping[str, Any] | None = content.get("coating")
        issued_at = datetime.fromisoformat(str(doc["issued_at"]).replace("Z", "+00:00"))
        chem_limits: Mapping[str, Any] = limits.get("chemistry_pct") or {}
        symbols = sorted(chemistry, key=_element_rank)
        if len(symbols) > len(CHEMISTRY_FIELDS):
            raise Invalid(f"EN 10168 has {len(CHEMISTRY_FIELDS)} fields for the chemical "
                          "composition", field="chemistry")
        elements = tuple(
            ChemicalElement(
                field=CHEMISTRY_FIELDS[i], symbol=symbol, value_pct=_dec(chemistry[symbol]),
                minimum_pct=_bound(chem_limits.get(symbol), "min"),
                maximum_pct=_bound(chem_limits.get(symbol), "max"))
            for i, symbol in enumerate(symbols))
        coating_mass = None
        if coating is not None and coating.get("mass_g_m2") is not None:
            coating_mass = Measured(_dec(coating["mass_g_m2"]), "g/m2",
                                    minimum=_opt_dec(limits.get("coating_mass_min_g_m2")))
        revision = limits.get("revision")
        return CertificateDocument(
            a01_manufacturer=str(doc["manufacturer"]),
            a02_document_type=f"{doc['standard']} {doc['type']}",
            a03_document_number=str(doc["cert_no"]),
            a06_purchaser=purchaser,
            a07_order_number=order_number,
            a08_contract_number=contract_number,
            b01_product=product,
            b02_steel_grade=str(prod["grade"]),
            b02_standard=str(prod["standard"]),
            b07_heat_no=str(prod["heat_no"]),
            b07_coil_no=None if prod.get("coil_no") is None else str(prod["coil_no"]),
            c10_tensile_test="tensile test at room temperature",
            c11_yield_strength=Measured(
                _dec(mech["yield_strength_mpa"]), "MPa",
                minimum=_bound(limits.get("yield_strength_mpa"), "min"),
                maximum=_bound(limits.get("yield_strength_mpa"), "max")),
            c12_tensile_strength=Measured(
                _dec(mech["tensile_strength_mpa"]), "MPa",
                minimum=_bound(limits.get("tensile_strength_mpa"), "min"),
                maximum=_bound(limits.get("tensile_strength_mpa"), "max")),
            c13_elongation=Measured(_dec(mech["elongation_pct"]), "%",
                                    minimum=_opt_dec(limits.get("elongation_min_pct"))),
            chemistry=elements,
            d01_coating_designation=None if coating is None else coating.get("designation"),
            d02_coating_mass=coating_mass,
            z01_statement=str(content["declaration"]),
            z02_issued_at=issued_at,
            z03_validated_by=str(doc["issued_by"]),
            limits_revision=None if revision is None else int(revision),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as e:
        if isinstance(e, Invalid):
            raise
        raise Invalid(f"not a certificate's content: {e}", field="content") from e


def _element_rank(symbol: str) -> tuple[int, str]:
    try:
        return (_ELEMENT_ORDER.index(symbol), symbol)
    except ValueError:
        return (len(_ELEMENT_ORDER), symbol)


def _dec(value: Any) -> Decimal:
    result = value if isinstance(value, Decimal) else Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return result


def _opt_dec(value: Any) -> Decimal | None:
    return None if value is None else _dec(value)


def _bound(limit: Any, side: str) -> Decimal | None:
    return None if not limit else _opt_dec(limit.get(side))


def _unique(values: Sequence[object], field: str, what: str) -> None:
    seen: set[object] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise Invalid(f"{what} {v} is given twice", field=f"{field}[{i}]")
        seen.add(v)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
