"""UN/EDIFACT D.96A interchanges of Keylink's documents, written and read with pydifact.

Writers (:func:`write_ordrsp`, :func:`write_desadv`, :func:`write_invoic`) turn a document
into one interchange (UNA, UNB, UNH..UNT, UNZ) in syntax UNOC version 3 (ISO 8859-1), with
the sender, recipient and control references the caller gives in an :class:`Envelope`.
Readers (:func:`read_delfor`, :func:`read_recadv`) take the bytes a partner sent and
return its documents, or refuse the interchange as a whole with :class:`EdifactError`,
which lists every problem found: each names the segment (its position and tag, and the
segment as received), the data element and component, an ISO 9735 syntax error code and
what is wrong. :func:`write_contrl` answers an interchange with a CONTRL message:
accepted, or rejected with those problems.

Why D.96A: it is the directory the automotive customers' systems already speak (Odette
and the carmakers' DELFOR, DESADV and INVOIC guides are D.96A subsets) and the one
EANCOM 1997 is built on, so the appliance makers' retail-grade translators know it too;
every segment and code used here (GIN+BJ, PCI+33E, SCC 1-4, QVR) exists in it.

Positions: inside a message a segment's position counts from its UNH as 1 (as CONTRL's
UCS counts them); UNB and UNZ count in the interchange, UNB as 1 (UNA is not counted).
Elements count from 1 after the tag, components from 1 inside a composite:
``QTY+113:12:KGM`` has the quantity at element 1.2. A segment that is missing is named
by its tag at the position where it was expected.

Times are written in China time (UTC+8, the mill's and its customers' zone) as
CCYYMMDDHHMM (format 203); readers take local times in the zone they are given, China
time by default. Numbers are written with a full stop as decimal mark (the UNA says so);
readers take a full stop or a comma, as ISO 9735 asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Final, Generic, TypeVar

from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError
from pydifact.parser import Parser
from pydifact.segmentcollection import Interchange, Message
from pydifact.segments import Segment, SegmentFactory
from pydifact.serializer import Serializer

from domain.calendar import MILL_TZ
from domain.errors import Invalid
from domain.exchange import messages as m
from domain.exchange.sscc import validate as validate_sscc

DIRECTORY: Final = ("D", "96A", "UN")
SYNTAX: Final = ("UNOC", 3)
CONTRL_VERSION: Final = ("2", "2", "UN")  # CONTRL for syntax version 3
# A partner's interchange: bounded before anything is decoded.
MAX_INTERCHANGE_BYTES: Final = 8 * 1024 * 1024
MAX_SEGMENTS: Final = 200_000
# A refusal lists this many problems at most, the last one saying that more were found.
MAX_PROBLEMS: Final = 200
# UNA:+.? ' : the service characters, with a full stop as decimal mark.
_CHARACTERS: Final = Characters.from_str(":+.? '")
# Syntax identifiers a partner may send, and the character set each one names.
_ENCODINGS: Final[Mapping[str, str]] = {
    "UNOA": "ascii", "UNOB": "ascii", "UNOC": "iso8859-1", "UNOD": "iso8859-2",
    "UNOE": "iso8859-5", "UNOF": "iso8859-7", "UNOW": "utf-8", "UNOY": "utf-8",
}
_NUMBER = re.compile(r"-?(\d+([.,]\d*)?|[.,]\d+)")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]{0,13}")

# ISO 9735 syntax error codes (data element 0085), as CONTRL reports them.
SYNTAX_LEVEL: Final = "2"
NOT_RECIPIENT: Final = "7"
INVALID_VALUE: Final = "12"
MISSING: Final = "13"
VALUE_NOT_SUPPORTED: Final = "14"
NOT_SUPPORTED_HERE: Final = "15"
UNSPECIFIED: Final = "18"
INVALID_CHARACTER: Final = "21"
REFERENCES_DIFFER: Final = "28"
COUNT_DIFFERS: Final = "29"
TOO_MANY_REPEATS: Final = "35"
INVALID_CHARACTER_TYPE: Final = "37"
TOO_LONG: Final = "39"

# Units a quantity may be in (UN/ECE Recommendation 20).
UNITS: Final[Mapping[str, m.Unit]] = {"TNE": "TNE", "KGM": "KGM"}
# RECADV: the nature of a discrepancy (4221) onto Keylink's names.
DISCREPANCY_BY_CODE: Final[Mapping[str, m.Discrepancy]] = {
    "AF": "damaged",  # goods delivered damaged
    "BP": "missing",  # shipment partial, back order to follow
    "CP": "missing",  # shipment partial, considered complete
    "AC": "extra",  # over-shipped
    "AE": "not_advised",  # delivered but not advised
    "AG": "late",  # delivered too late
}
_VEHICLE_IDS: Final[Mapping[m.VehicleKind, tuple[str, str]]] = {
    # 1131 code list and 3055 agency of C222's identification: IMO numbers are Lloyd's
    # register numbers (146, agency 11); Keylink names the others (ZZZ, mutually defined).
    "imo": ("146", "11"), "mmsi": ("MMSI", "ZZZ"), "plate": ("PLATE", "ZZZ"),
    "wagon": ("WAGON", "ZZZ"),
}
_MODE_CODES: Final[Mapping[m.Mode, str]] = {"water": "1", "rail": "2", "road": "3"}
# Party identifications: Keylink's codes are assigned by the mill, the seller (91);
# GLNs by GS1 (9).
KEYLINK_AGENCY: Final = "91"
GS1_AGENCY: Final = "9"


# -- what a refusal says ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a received interchange (see the module docstring for how
    segments and elements are counted). ``code`` is the ISO 9735 syntax error code a
    CONTRL reports it with; ``segment`` the segment as received, when there is one."""

    code: str
    text: str
    tag: str
    position: int | None
    message_ref: str | None = None
    element: int | None = None
    component: int | None = None
    segment: str | None = None

    def __str__(self) -> str:
        where = f"`{self.segment}`" if self.segment else self.tag
        if self.position is not None:
            where += f" at segment {self.position}"
        if self.message_ref is not None:
            where += f" of message {self.message_ref}"
        if self.element is not None:
            where += f", element {self.element}"
            if self.component is not None:
                where += f".{self.component}"
        return f"{where}: {self.text}"


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """A received message's UNH: its reference and identifier."""

    reference: str
    type: str
    version: str
    release: str
    agency: str


@dataclass(frozen=True, slots=True)
class InterchangeHeader:
    """A received interchange's UNB, and the messages it holds: what a CONTRL answering
    it names."""

    syntax: str
    syntax_version: str
    sender: str
    sender_qualifier: str | None
    recipient: str
    recipient_qualifier: str | None
    prepared_at: datetime | None
    control_reference: str
    test: bool = False
    messages: tuple[MessageHeader, ...] = ()


class EdifactError(Exception):
    """A received interchange refused as a whole, with every problem found. ``header``
    is its UNB when that could be read (a CONTRL can answer it), else None."""

    def __init__(self, problems: list[Problem], header: InterchangeHeader | None = None
                 ) -> None:
        self.problems = problems
        self.header = header
        lines = "\n".join(f"- {p}" for p in problems)
        super().__init__(f"interchange refused, {len(problems)} problem(s):\n{lines}")


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Received(Generic[T]):
    """A received interchange that was read: its header and its documents, one per
    message, in order."""

    header: InterchangeHeader
    documents: tuple[T, ...]


# -- the envelope the caller gives -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends to whom, and the references: UNB's sender and recipient identification
    (with their code qualifiers, 0007: 14 for a GLN, ZZZ mutually defined), the
    interchange control reference (UNB/UNZ 0020) and the message reference (UNH/UNT
    0062), both unique per sender, and when the interchange is prepared. ``test`` marks a
    test interchange (UNB 0035 = 1)."""

    sender: str
    recipient: str
    control_reference: str
    message_reference: str
    prepared_at: datetime
    sender_qualifier: str = "ZZZ"
    recipient_qualifier: str = "ZZZ"
    test: bool = False

    def __post_init__(self) -> None:
        m.text(self.sender, "sender")
        m.text(self.recipient, "recipient")
        for name in ("sender_qualifier", "recipient_qualifier"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value.isascii() and value.isalnum()
                    and len(value) <= 4):
                raise Invalid("must be a partner identification code qualifier (an..4)",
                              field=name)
        for name in ("control_reference", "message_reference"):
            if not _REF.fullmatch(getattr(self, name)):
                raise Invalid("must be 1-14 letters, digits, '-', '_' or '.'", field=name)
        m.aware(self.prepared_at, "preparedAt")


# -- writing -----------------------------------------------------------------------------------


def write_ordrsp(response: m.OrderResponse, envelope: Envelope) -> bytes:
    """ORDRSP D.96A: the contract as confirmed, answering the customer's order."""
    body: list[Segment] = [
        Segment("BGM", "231", response.contract_number, "9"),
        _dtm("137", response.confirmed_at),
    ]
    if response.customer_order_ref is not None:
        body.append(Segment("RFF", ["ON", response.customer_order_ref]))
    body += [
        Segment("RFF", ["CT", response.contract_number]),
        _nad("BY", response.buyer_code),
        _nad("SE", response.seller_code),
        Segment("CUX", ["2", response.currency, "9"]),
    ]
    for line in response.lines:
        body += [Segment("LIN", str(line.line_no), "", [line.spec_code, "SA"])]
        if line.customer_part_number is not None:
            body.append(Segment("PIA", "1", [line.customer_part_number, "IN"]))
        body += [
            Segment("QTY", ["113", _num(line.quantity_t), "TNE"]),
            _dtm_period("2", line.delivery_from, line.delivery_to),
            Segment("PRI", ["AAA", _num(line.unit_price), "CT", "", "1", "TNE"]),
        ]
        if line.delivery_site_code is not None:
            body.append(Segment("LOC", "7", [line.delivery_site_code, "", KEYLINK_AGENCY]))
    body += [Segment("UNS", "S"), Segment("CNT", ["2", str(len(response.lines))])]
    return _interchange("ORDRSP", body, envelope)


def write_desadv(advice: m.DispatchAdvice, envelope: Envelope) -> bytes:
    """DESADV D.96A: a shipment leg departing, every coil a package with its SSCC."""
    body: list[Segment] = [
        Segment("BGM", "351", advice.document_number, "9"),
        _dtm("137", envelope.prepared_at),
        _dtm("11", advice.departed_at),
        _dtm("132", advice.planned_arrival),
        Segment("RFF", ["SRN", advice.shipment_number, str(advice.leg_seq)]),
        _nad("SU", advice.supplier_code),
        _nad("BY", advice.buyer_code),
        *_site("SF", "5", advice.from_site_code, advice.from_gln),
        *_site("ST", "7", advice.to_site_code, advice.to_gln),
    ]
    if advice.carrier_code is not None:
        body.append(_nad("CA", advice.carrier_code))
    carrier = [advice.carrier_code, "", KEYLINK_AGENCY] if advice.carrier_code else ""
    vehicle: str | list[str] = ""
    if advice.vehicle is not None:
        listing, agency = _VEHICLE_IDS[advice.vehicle.kind]
        vehicle = [advice.vehicle.id, listing, agency]
    body.append(Segment("TDT", "20", str(advice.leg_seq), _MODE_CODES[advice.mode], "",
                        carrier, "", "", vehicle))
    body.append(Segment("CPS", "1"))
    for n, package in enumerate(advice.packages, start=2):
        body += [
            Segment("CPS", str(n), "1"),
            Segment("PAC", "1", "", "CL"),
            Segment("MEA", "PD", "AAA", ["KGM", _num(package.net_weight_kg)]),
            Segment("PCI", "33E"),
            Segment("GIN", "BJ", package.sscc),
            Segment("LIN", str(n - 1), "", [package.spec_code, "SA"]),
        ]
        if package.customer_part_number is not None:
            body.append(Segment("PIA", "1", [package.customer_part_number, "IN"]))
        body += [
            Segment("QTY", ["12", _num(package.net_weight_t), "TNE"]),
            Segment("GIN", "BN", package.coil_no),
            Segment("GIN", "BX", package.heat_no),
            Segment("RFF", ["CT", package.contract_number, str(package.line_no)]),
        ]
    body.append(Segment("CNT", ["2", str(len(advice.packages))]))
    return _interchange("DESADV", body, envelope)


def write_invoic(invoice: m.Invoice, envelope: Envelope) -> bytes:
    """INVOIC D.96A: an invoice (380) or credit note (381) with its totals."""
    body: list[Segment] = [
        Segment("BGM", invoice.document_code, invoice.number, "9"),
        _dtm_day("137", invoice.issued_on),
        Segment("RFF", ["CT", invoice.contract_number]),
    ]
    if invoice.credited_invoice_number is not None:
        body.append(Segment("RFF", ["IV", invoice.credited_invoice_number]))
    body += [
        _nad("SE", invoice.seller_code),
        _nad("BY", invoice.buyer_code),
        Segment("CUX", ["2", invoice.currency, "4"]),
        Segment("PAT", "1"),
        _dtm_day("13", invoice.due_on),
    ]
    for kind, key, amount, words in (
        ("C", "SUR", invoice.surcharges, "Surcharges"),
        ("C", "FRT", invoice.freight, "Freight"),
        ("A", "CLM", invoice.claim_deductions, "Claim deductions"),
    ):
        if amount:
            body += [Segment("ALC", kind, "", "", "", [key, "", "ZZZ", words]),
                     Segment("MOA", ["23" if kind == "C" else "204", _num(amount)])]
    for n, line in enumerate(invoice.lines, start=1):
        body += [
            Segment("LIN", str(n), "", [line.spec_code, "SA"]),
            Segment("QTY", ["47", _num(line.quantity_t), "TNE"]),
            Segment("MOA", ["203", _num(line.amount)]),
            Segment("PRI", ["AAA", _num(line.unit_price), "CT", "", "1", "TNE"]),
        ]
    body += [
        Segment("UNS", "S"),
        Segment("CNT", ["2", str(len(invoice.lines))]),
        Segment("MOA", ["79", _num(invoice.goods_amount)]),
        Segment("MOA", ["125", _num(invoice.total_amount)]),
        Segment("MOA", ["77", _num(invoice.total_amount)]),
        Segment("MOA", ["86", _num(invoice.total_amount)]),
    ]
    return _interchange("INVOIC", body, envelope)


def write_contrl(received: InterchangeHeader, problems: Sequence[Problem],
                 envelope: Envelope) -> bytes:
    """A CONTRL answering ``received``: accepted (UCI action 7) when there are no
    problems, else rejected whole (action 4), with the first interchange-level problem on
    the UCI, and per message with problems a UCM (action 4; a problem in its UNH or UNT
    on it) followed by a UCS per segment in error (its position, and the error when the
    segment itself is at fault) and a UCD per data element in error (the error, and the
    element and component positions)."""
    rejected = bool(problems)
    uci: list[str | list[str]] = [
        received.control_reference,
        _party(received.sender, received.sender_qualifier),
        _party(received.recipient, received.recipient_qualifier),
        "4" if rejected else "7",
    ]
    outer = [p for p in problems if p.message_ref is None]
    if outer:
        uci += _error_elements(outer[0])
    body: list[Segment] = [Segment("UCI", *uci)]
    headers = {h.reference: h for h in received.messages}
    by_message: dict[str, list[Problem]] = {}
    for p in problems:
        if p.message_ref is not None:
            by_message.setdefault(p.message_ref, []).append(p)
    for ref, found in by_message.items():
        head = headers.get(ref)
        ident = ([head.type, head.version, head.release, head.agency] if head
                 else ["", "", "", ""])
        service = [p for p in found if p.tag in ("UNH", "UNT")]
        ucm: list[str | list[str]] = [ref, ident, "4"]
        if service:
            ucm += _error_elements(service[0])
        body.append(Segment("UCM", *ucm))
        rest = [p for p in found if not service or p is not service[0]]
        positions: dict[int, list[Problem]] = {}
        for p in rest:
            positions.setdefault(p.position or 0, []).append(p)
        for position in sorted(positions)[:999]:
            at = positions[position]
            whole = [p for p in at if p.element is None]
            ucs: list[str | list[str]] = [str(position)]
            if whole:
                ucs.append(whole[0].code)
            body.append(Segment("UCS", *ucs))
            for p in [p for p in at if p.element is not None][:99]:
                s011 = [str(p.element)] + ([str(p.component)] if p.component else [])
                body.append(Segment("UCD", p.code, s011))
    return _interchange("CONTRL", body, envelope, identifier=("CONTRL", *CONTRL_VERSION))


def _error_elements(p: Problem) -> list[str | list[str]]:
    s011 = [] if p.element is None else [str(p.element)] + (
        [str(p.component)] if p.component else [])
    return [p.code, p.tag, s011] if s011 else [p.code, p.tag]


def _interchange(kind: str, body: list[Segment], envelope: Envelope,
                 identifier: tuple[str, ...] | None = None) -> bytes:
    message = Message(envelope.message_reference, list(identifier or (kind, *DIRECTORY)))
    message.add_segments(body)
    extra: list[str | list[str]] = ["", kind]
    if envelope.test:
        extra += ["", "", "", "1"]
    interchange = Interchange(
        sender=_party(envelope.sender, envelope.sender_qualifier),
        recipient=_party(envelope.recipient, envelope.recipient_qualifier),
        control_reference=envelope.control_reference,
        syntax_identifier=SYNTAX,
        timestamp=envelope.prepared_at.astimezone(MILL_TZ).replace(tzinfo=None),
        extra_header_elements=extra,
        characters=_CHARACTERS,
    )
    interchange.has_una_segment = True
    interchange.add_message(message)
    text = interchange.serialize()
    try:
        return text.encode("iso8859-1")
    except UnicodeEncodeError as e:
        raise Invalid(f"{text[e.start:e.end]!r} is not in the UNOC character set "
                      "(ISO 8859-1)", field="document") from e


def _party(ident: str, qualifier: str | None) -> list[str]:
    return [ident, qualifier] if qualifier else [ident]


def _nad(qualifier: str, party: str) -> Segment:
    return Segment("NAD", qualifier, [party, "", KEYLINK_AGENCY])


def _site(qualifier: str, place: str, site_code: str, gln: str | None) -> list[Segment]:
    """A site as a party (its GLN when known, else its Keylink code) and, in the same
    group, its place with Keylink's site code."""
    ident = [gln, "", GS1_AGENCY] if gln else [site_code, "", KEYLINK_AGENCY]
    return [Segment("NAD", qualifier, ident),
            Segment("LOC", place, [site_code, "", KEYLINK_AGENCY])]


def _num(value: Decimal) -> str:
    return format(value, "f")


def _dtm(qualifier: str, moment: datetime) -> Segment:
    return Segment("DTM", [qualifier, f"{moment.astimezone(MILL_TZ):%Y%m%d%H%M}", "203"])


def _dtm_day(qualifier: str, day: date) -> Segment:
    return Segment("DTM", [qualifier, f"{day:%Y%m%d}", "102"])


def _dtm_period(qualifier: str, first: date, last: date) -> Segment:
    return Segment("DTM", [qualifier, f"{first:%Y%m%d}-{last:%Y%m%d}", "718"])


# -- reading: segments with their places ----------------------------------------------------


class _Factory(SegmentFactory):
    """Segments without pydifact's directory validation (its directories are not
    installed, and Keylink checks each element itself, naming where), and with tags
    checked here so that a bad one is a syntax error, not a crash."""

    @staticmethod
    def create_segment(name: str, *elements: str | list[str], validate: bool = True,
                       version: str = "", directory: str = "") -> Segment:
        if not (isinstance(name, str) and len(name) == 3 and name.isascii()
                and name.isalnum() and name.isupper()):
            raise EDISyntaxError(f"{str(name)[:20]!r} is not a segment tag")
        # A segment with no element at all reads as one with an empty first element.
        return Segment(name, *(elements or ("",)))


@dataclass(slots=True)
class _Seg:
    segment: Segment
    position: int
    message_ref: str | None
    text: str

    @property
    def tag(self) -> str:
        return self.segment.tag

    def get(self, element: int, component: int = 1) -> str | None:
        """The value at ``element``.``component`` (1-based), None when empty or absent."""
        elements = self.segment.elements
        if element > len(elements):
            return None
        value = elements[element - 1]
        if isinstance(value, list):
            value = value[component - 1] if component <= len(value) else ""
        elif component != 1:
            return None
        return value or None


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.full = False

    def add(self, seg: _Seg | None, code: str, text: str, *, element: int | None = None,
            component: int | None = None, tag: str | None = None,
            position: int | None = None, message_ref: str | None = None) -> None:
        if self.full:
            return
        if len(self.items) >= MAX_PROBLEMS - 1:
            self.items.append(Problem(UNSPECIFIED, "more problems were found than are "
                                      "listed", tag or (seg.tag if seg else "UNB"), None))
            self.full = True
            return
        self.items.append(Problem(
            code=code, text=text, tag=tag or (seg.tag if seg else "UNB"),
            position=position if position is not None else (seg.position if seg else None),
            message_ref=message_ref if seg is None else seg.message_ref,
            element=element, component=component,
            segment=None if seg is None or tag not in (None, seg.tag) else seg.text))

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass(slots=True)
class _Msg:
    header: MessageHeader
    unh: _Seg
    body: list[_Seg] = field(default_factory=list)
    unt: _Seg | None = None

    def missing(self, problems: _Problems, tag: str, what: str,
                before: _Seg | None = None) -> None:
        """``tag`` is missing: named where it was expected (before ``before``, else at
        the end of the message)."""
        if before is not None:
            at = before.position
        elif self.unt is not None:
            at = self.unt.position
        else:
            at = (self.body[-1].position if self.body else 1) + 1
        problems.add(None, MISSING, f"mandatory segment {tag} ({what}) is missing", tag=tag,
                     position=at, message_ref=self.header.reference)


def _render(segment: Segment) -> str:
    text = Serializer(_CHARACTERS).serialize([segment], with_una_header=False)
    text = text[:-1] if text.endswith("'") else text
    return text if len(text) <= 80 else text[:77] + "..."


def _read(data: bytes, expect: str, recipient: str | None, zone: tzinfo,
          directories: Sequence[tuple[str, str, str]] = (DIRECTORY,)
          ) -> tuple[InterchangeHeader | None, list[_Msg], _Problems]:
    """The envelope of a received interchange, checked, and its messages of type
    ``expect`` in one of ``directories``; every problem found on the way."""
    problems = _Problems()
    if not isinstance(data, bytes | bytearray) or not data:
        problems.add(None, MISSING, "the interchange is empty", tag="UNB")
        return None, [], problems
    if len(data) > MAX_INTERCHANGE_BYTES:
        problems.add(None, UNSPECIFIED, f"the interchange is {len(data)} bytes, more than "
                     f"the {MAX_INTERCHANGE_BYTES} Keylink reads", tag="UNB")
        return None, [], problems
    head = bytes(data[:512]).decode("iso8859-1")
    found = re.search(r"UNB\+(UNO[A-Z])", head)
    syntax = found.group(1) if found else "UNOA"
    encoding = _ENCODINGS.get(syntax)
    if encoding is None:
        problems.add(None, SYNTAX_LEVEL, f"syntax identifier {syntax} is not one Keylink "
                     f"reads ({', '.join(_ENCODINGS)})", tag="UNB", position=1,
                     element=1, component=1)
        return None, [], problems
    try:
        text = bytes(data).decode(encoding)
    except UnicodeDecodeError as e:
        problems.add(None, INVALID_CHARACTER, f"byte {e.start} (0x{data[e.start]:02x}) is "
                     f"not a {syntax} character ({encoding})", tag="UNB")
        return None, [], problems
    segments: list[Segment] = []
    try:
        for segment in Parser(factory=_Factory()).parse(text):
            if segment.tag == "UNA":
                continue
            segments.append(segment)
            if len(segments) > MAX_SEGMENTS:
                problems.add(None, UNSPECIFIED, f"more than {MAX_SEGMENTS} segments",
                             tag="UNB")
                return None, [], problems
    except Exception as e:
        # Hostile bytes make pydifact raise more than its EDISyntaxError (a bad UNA is a
        # ValidationError, an empty segment an IndexError); either way it is no
        # interchange.
        problems.add(None, UNSPECIFIED, f"after segment {len(segments)}: "
                     f"{str(e).removeprefix('EDIFACT Syntax Error: ')}",
                     tag="UNB", position=len(segments) + 1)
        return None, [], problems
    if not segments or segments[0].tag != "UNB":
        problems.add(None, MISSING, "an interchange starts with UNB", tag="UNB", position=1)
        return None, [], problems
    outer = [_Seg(s, i, None, _render(s)) for i, s in enumerate(segments, start=1)]
    unb, unz = outer[0], outer[-1] if outer[-1].tag == "UNZ" else None
    header = _unb(unb, recipient, zone, problems)
    if unz is None:
        problems.add(None, MISSING, "mandatory segment UNZ (interchange trailer) is missing",
                     tag="UNZ", position=outer[-1].position + 1)
    msgs: list[_Msg] = []
    current: _Msg | None = None
    for seg in outer[1:] if unz is None else outer[1:-1]:
        if seg.tag == "UNH":
            if current is not None:
                current.missing(problems, "UNT", "message trailer", before=None)
                msgs.append(current)
            current = _unh(seg, expect, problems, directories)
        elif current is None:
            problems.add(seg, NOT_SUPPORTED_HERE, "segment outside a message (functional "
                         "groups are not read)" if seg.tag in ("UNG", "UNE")
                         else "segment outside a message")
        else:
            local = _Seg(seg.segment, len(current.body) + 2, current.header.reference,
                         seg.text)
            if seg.tag == "UNT":
                current.unt = local
                _unt(current, problems)
                msgs.append(current)
                current = None
            else:
                current.body.append(local)
    if current is not None:
        current.missing(problems, "UNT", "message trailer")
        msgs.append(current)
    if not msgs:
        problems.add(None, MISSING, f"the interchange holds no {expect} message", tag="UNH",
                     position=2)
    if unz is not None and header is not None:
        _unz(unz, header.control_reference, len(msgs), problems)
    if header is not None:
        header = replace(header, messages=tuple(msg.header for msg in msgs))
    return header, msgs, problems


def _unb(seg: _Seg, recipient: str | None, zone: tzinfo, problems: _Problems
         ) -> InterchangeHeader | None:
    syntax, version = seg.get(1, 1), seg.get(1, 2)
    if syntax not in _ENCODINGS:
        problems.add(seg, SYNTAX_LEVEL, f"syntax identifier {syntax!r} is not one Keylink "
                     "reads", element=1, component=1)
    if version not in ("3", "4"):
        problems.add(seg, SYNTAX_LEVEL, f"syntax version {version!r} is not 3 or 4",
                     element=1, component=2)
    sender, to = seg.get(2, 1), seg.get(3, 1)
    for value, element, what in ((sender, 2, "sender"), (to, 3, "recipient")):
        if value is None:
            problems.add(seg, MISSING, f"the interchange {what} is missing",
                         element=element, component=1)
        elif len(value) > 35:
            problems.add(seg, TOO_LONG, f"the {what} is longer than 35 characters",
                         element=element, component=1)
    if recipient is not None and to is not None and to != recipient:
        problems.add(seg, NOT_RECIPIENT, f"the interchange is for {to!r}, not {recipient!r}",
                     element=3, component=1)
    prepared = _unb_time(seg, version, zone, problems)
    control = seg.get(5)
    if control is None:
        problems.add(seg, MISSING, "the interchange control reference is missing",
                     element=5)
    elif len(control) > 14:
        problems.add(seg, TOO_LONG, "the interchange control reference is longer than 14 "
                     "characters", element=5)
    if sender is None or to is None or control is None or syntax is None:
        return None
    return InterchangeHeader(
        syntax=syntax, syntax_version=version or "", sender=sender,
        sender_qualifier=seg.get(2, 2), recipient=to, recipient_qualifier=seg.get(3, 2),
        prepared_at=prepared, control_reference=control, test=seg.get(11) == "1")


def _unb_time(seg: _Seg, version: str | None, zone: tzinfo, problems: _Problems
              ) -> datetime | None:
    day, hhmm = seg.get(4, 1), seg.get(4, 2)
    pattern = "%Y%m%d" if version == "4" else "%y%m%d"
    digits = 8 if version == "4" else 6
    if day is None or hhmm is None:
        problems.add(seg, MISSING, "the date and time of preparation are missing",
                     element=4, component=1 if day is None else 2)
        return None
    try:
        if len(day) != digits or len(hhmm) != 4 or not (day + hhmm).isdigit():
            raise ValueError
        return datetime.strptime(day + hhmm, pattern + "%H%M").replace(tzinfo=zone)
    except ValueError:
        problems.add(seg, INVALID_VALUE, f"{day}:{hhmm} is not a date "
                     f"({'CCYYMMDD' if version == '4' else 'YYMMDD'}) and time (HHMM)",
                     element=4)
        return None


def _unh(seg: _Seg, expect: str, problems: _Problems,
         directories: Sequence[tuple[str, str, str]] = (DIRECTORY,)) -> _Msg:
    ref = seg.get(1)
    local = _Seg(seg.segment, 1, ref or "?", seg.text)
    if ref is None:
        problems.add(local, MISSING, "the message reference is missing", element=1)
    elif len(ref) > 14:
        problems.add(local, TOO_LONG, "the message reference is longer than 14 characters",
                     element=1)
    kind, version, release, agency = (seg.get(2, i) for i in range(1, 5))
    if kind != expect:
        problems.add(local, INVALID_VALUE, f"the message is {kind!r}, not {expect}",
                     element=2, component=1)
    if (version, release, agency) not in directories:
        directory = directories[0]
        for value, want, component in zip((version, release, agency), directory, (2, 3, 4),
                                          strict=True):
            if value != want:
                known = ("/".join(DIRECTORY) + " (D.96A)" if directories == (DIRECTORY,)
                         else " or ".join(":".join(d) for d in directories))
                problems.add(local, VALUE_NOT_SUPPORTED, f"{value!r} is not {want}: Keylink "
                             f"reads {expect} {known} only", element=2, component=component)
    header = MessageHeader(ref or "?", kind or "", version or "", release or "",
                           agency or "")
    return _Msg(header=header, unh=local)


def _unt(msg: _Msg, problems: _Problems) -> None:
    unt = msg.unt
    assert unt is not None
    count, ref = unt.get(1), unt.get(2)
    actual = len(msg.body) + 2
    if count is None:
        problems.add(unt, MISSING, "the number of segments is missing", element=1)
    elif count != str(actual):
        problems.add(unt, COUNT_DIFFERS, f"says {count} segments, the message has {actual} "
                     "(UNH to UNT)", element=1)
    if ref != msg.header.reference:
        problems.add(unt, REFERENCES_DIFFER, f"message reference {ref!r} is not the UNH's "
                     f"{msg.header.reference!r}", element=2)


def _unz(unz: _Seg, control: str, count: int, problems: _Problems) -> None:
    if unz.get(1) != str(count):
        problems.add(unz, COUNT_DIFFERS, f"says {unz.get(1)} messages, the interchange has "
                     f"{count}", element=1)
    if unz.get(2) != control:
        problems.add(unz, REFERENCES_DIFFER, f"control reference {unz.get(2)!r} is not the "
                     f"UNB's {control!r}", element=2)


def _finish(header: InterchangeHeader | None, docs: list[T | None], problems: _Problems
            ) -> Received[T]:
    if problems or header is None:
        # In the order of the interchange: UNB, each message by position, UNZ.
        order = {h.reference: i for i, h in enumerate(header.messages if header else ())}

        def place(p: Problem) -> tuple[int, int]:
            if p.message_ref is not None:
                return (order.get(p.message_ref, len(order)), p.position or 0)
            return (len(order) + 1 if p.tag == "UNZ" else -1, p.position or 0)

        found = sorted(problems.items, key=place) or [
            Problem(UNSPECIFIED, "the interchange could not be read", "UNB", None)]
        raise EdifactError(found, header)
    return Received(header=header, documents=tuple(d for d in docs if d is not None))


# -- reading: values ---------------------------------------------------------------------------


def _value(seg: _Seg, problems: _Problems, element: int, component: int, what: str, *,
           required: bool = True, limit: int = m.MAX_ID) -> str | None:
    value = seg.get(element, component)
    if value is None:
        if required:
            problems.add(seg, MISSING, f"{what} is missing", element=element,
                         component=component)
        return None
    if len(value) > limit:
        problems.add(seg, TOO_LONG, f"{what} is longer than {limit} characters",
                     element=element, component=component)
        return None
    return value


def _decimal(seg: _Seg, problems: _Problems, element: int, component: int, what: str, *,
             negative: bool = False) -> Decimal | None:
    raw = _value(seg, problems, element, component, what, limit=18)
    if raw is None:
        return None
    if not _NUMBER.fullmatch(raw):
        problems.add(seg, INVALID_CHARACTER_TYPE, f"{what} {raw!r} is not a number",
                     element=element, component=component)
        return None
    if sum(c.isdigit() for c in raw) > m.MAX_DIGITS:
        problems.add(seg, TOO_LONG, f"{what} has more than {m.MAX_DIGITS} digits",
                     element=element, component=component)
        return None
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None
    if value < 0 and not negative:
        problems.add(seg, INVALID_VALUE, f"{what} {raw!r} is negative", element=element,
                     component=component)
        return None
    return value


def _quantity(seg: _Seg, problems: _Problems, what: str) -> m.Quantity | None:
    value = _decimal(seg, problems, 1, 2, what)
    unit = seg.get(1, 3)
    if unit is None:
        problems.add(seg, MISSING, f"the unit of the {what} is missing (TNE or KGM)",
                     element=1, component=3)
        return None
    known = UNITS.get(unit)
    if known is None:
        problems.add(seg, VALUE_NOT_SUPPORTED, f"unit {unit!r} is not one Keylink reads: "
                     "TNE (tonnes) or KGM (kilograms)", element=1, component=3)
        return None
    return None if value is None else m.Quantity(value, known)


_DATE_FORMATS: Final[Mapping[str, str]] = {
    "102": "CCYYMMDD", "203": "CCYYMMDDHHMM", "204": "CCYYMMDDHHMMSS",
    "718": "CCYYMMDD-CCYYMMDD", "616": "CCYYWW",
}


@dataclass(frozen=True, slots=True)
class _When:
    first: date
    last: date
    at: datetime | None


def _when(seg: _Seg, problems: _Problems, zone: tzinfo, formats: Sequence[str]) -> _When | None:
    """DTM's C507 value (1.2) read in its format (1.3)."""
    raw, fmt = seg.get(1, 2), seg.get(1, 3)
    if raw is None:
        problems.add(seg, MISSING, "the date is missing", element=1, component=2)
        return None
    if fmt is None:
        problems.add(seg, MISSING, "the date's format is missing "
                     f"({', '.join(formats)})", element=1, component=3)
        return None
    if fmt not in formats:
        problems.add(seg, VALUE_NOT_SUPPORTED, f"date format {fmt!r} is not one Keylink "
                     f"reads here: {', '.join(formats)}", element=1, component=3)
        return None
    try:
        return _parse_when(raw, fmt, zone)
    except ValueError:
        problems.add(seg, INVALID_VALUE, f"{raw!r} is not a date in format {fmt} "
                     f"({_DATE_FORMATS[fmt]})", element=1, component=2)
        return None


def _parse_when(raw: str, fmt: str, zone: tzinfo) -> _When:
    if not raw.replace("-", "").isdigit():
        raise ValueError(raw)
    if fmt == "102" and len(raw) == 8:
        d = datetime.strptime(raw, "%Y%m%d").date()
        return _When(d, d, None)
    if fmt in ("203", "204") and len(raw) == (12 if fmt == "203" else 14):
        at = datetime.strptime(raw, "%Y%m%d%H%M" if fmt == "203" else "%Y%m%d%H%M%S"
                               ).replace(tzinfo=zone)
        return _When(at.date(), at.date(), at)
    if fmt == "718" and len(raw) == 17 and raw[8] == "-":
        first = datetime.strptime(raw[:8], "%Y%m%d").date()
        last = datetime.strptime(raw[9:], "%Y%m%d").date()
        if last < first:
            raise ValueError(raw)
        return _When(first, last, None)
    if fmt == "616" and len(raw) == 6:
        monday = date.fromisocalendar(int(raw[:4]), int(raw[4:]), 1)
        return _When(monday, monday + timedelta(days=6), None)
    raise ValueError(raw)


def _build(problems: _Problems, msg: _Msg, make: Callable[[], T]) -> T | None:
    """The document, or None with a problem on its UNH when a value read is outside what
    the document allows (each segment's own checks come first and name the element)."""
    if problems.items and any(p.message_ref == msg.header.reference for p in problems.items):
        return None
    try:
        return make()
    except Invalid as e:
        problems.add(msg.unh, INVALID_VALUE, f"{e.field}: {e.message}")
        return None


# Segments of the D.96A message that Keylink reads past.
_DELFOR_OTHER: Final = frozenset({
    "FTX", "RFF", "LOC", "CTA", "COM", "TDT", "IMD", "MEA", "ALI", "GIR", "GIS", "CNT",
    "DOC", "PAC", "PCI", "GIN", "QVR", "CUX", "PRI", "TOD", "TAX", "MOA", "HAN"})
_RECADV_OTHER: Final = frozenset({
    "FTX", "NAD", "LOC", "CTA", "COM", "TDT", "IMD", "MEA", "ALI", "GIR", "CNT", "DOC",
    "PAC", "PCI", "PIA", "LIN", "EQD", "SEL", "CDI", "INP", "TOD", "HAN", "DLM", "RNG"})
_DELFOR_QTY_READ: Final = ("1", "113")
# Quantities a DELFOR line may carry besides its requirements: cumulative quantities,
# what was despatched and received; read past.
_DELFOR_QTY_PAST: Final = ("3", "12", "48", "70", "78", "79", "21", "194")
_ITEM_TYPES: Final = {"IN": "part", "BP": "part", "SA": "spec", "VP": "spec", "VN": "spec"}


# -- DELFOR ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    qty: _Seg
    quantity: m.Quantity | None
    firmness: m.Firmness | None = None
    when: _When | None = None
    scc_seen: bool = False
    dtm_seen: bool = False


@dataclass(slots=True)
class _Line:
    lin: _Seg
    line_no: int | None
    part: str | None = None
    spec: str | None = None
    entries: list[_Entry] = field(default_factory=list)


def read_delfor(data: bytes, *, recipient: str | None = None, zone: tzinfo = MILL_TZ
                ) -> Received[m.DeliverySchedule]:
    """The delivery schedules of a DELFOR D.96A interchange, or :class:`EdifactError`
    with every problem. ``recipient``, when given, is the identification the interchange
    must be addressed to; ``zone`` the zone of the times it states."""
    header, msgs, problems = _read(data, "DELFOR", recipient, zone)
    return _finish(header, [_delfor(msg, problems, zone) for msg in msgs], problems)


def _delfor(msg: _Msg, problems: _Problems, zone: tzinfo) -> m.DeliverySchedule | None:
    bgm: _Seg | None = None
    number: str | None = None
    function: m.ScheduleFunction = "original"
    issued: datetime | None = None
    dated = False
    buyer: str | None = None
    supplier: str | None = None
    ship_to: tuple[str | None, str | None] | None = None
    detail = False
    uns: _Seg | None = None
    lines: list[_Line] = []
    entry: _Entry | None = None
    for seg in msg.body:
        tag = seg.tag
        if tag == "BGM":
            if bgm is not None:
                problems.add(seg, TOO_MANY_REPEATS, "a message has one BGM")
                continue
            bgm = seg
            if seg.get(1) != "241":
                problems.add(seg, VALUE_NOT_SUPPORTED, f"document name {seg.get(1)!r} is "
                             "not 241 (delivery schedule)", element=1, component=1)
            number = _value(seg, problems, 2, 1, "the schedule's number")
            code = seg.get(3)
            if code in (None, "9"):
                function = "original"
            elif code == "5":
                function = "replace"
            else:
                problems.add(seg, VALUE_NOT_SUPPORTED, f"message function {code!r} is not 9 "
                             "(original) or 5 (replace)", element=3)
        elif tag == "DTM":
            qualifier = seg.get(1, 1)
            if entry is not None:
                if qualifier != "2":
                    problems.add(seg, VALUE_NOT_SUPPORTED, f"qualifier {qualifier!r} is not "
                                 "2 (delivery date requested)", element=1, component=1)
                    continue
                entry.dtm_seen = True
                entry.when = _when(seg, problems, zone, ("102", "203", "204", "718", "616"))
            elif not detail and qualifier == "137":
                dated = True
                when = _when(seg, problems, zone, ("102", "203", "204"))
                if when is not None:
                    issued = when.at or datetime.combine(when.first, datetime.min.time(),
                                                         zone)
            elif qualifier is None:
                problems.add(seg, MISSING, "the date's qualifier is missing", element=1,
                             component=1)
        elif tag == "NAD":
            qualifier = seg.get(1)
            if qualifier is None:
                problems.add(seg, MISSING, "the party's qualifier is missing", element=1)
                continue
            if qualifier in ("BY", "SU", "ST"):
                ident = _value(seg, problems, 2, 1, "the party's identification")
                if qualifier == "BY":
                    buyer = ident
                elif qualifier == "SU":
                    supplier = ident
                else:
                    entry = None
                    read = _ship_to(seg, ident, problems)
                    if ship_to is not None and read is not None and read != ship_to:
                        problems.add(seg, TOO_MANY_REPEATS, "Keylink reads one ship-to site "
                                     "per schedule; send one message per site")
                    elif read is not None:
                        ship_to = read
        elif tag == "UNS":
            section = seg.get(1)
            if section == "D":
                detail, uns = True, seg
            elif section == "S":
                entry = None
            else:
                problems.add(seg, INVALID_VALUE, f"section {section!r} is not D or S",
                             element=1)
        elif tag == "LIN":
            entry = None
            if not detail:
                problems.add(seg, NOT_SUPPORTED_HERE, "a line comes after UNS+D")
            line_no = None
            raw = seg.get(1)
            if raw is not None:
                if raw.isdigit() and 0 < int(raw) < 1_000_000:
                    line_no = int(raw)
                else:
                    problems.add(seg, INVALID_VALUE, f"line number {raw!r} is not a whole "
                                 "number", element=1)
            line = _Line(seg, line_no)
            _item(seg, line, problems, 3)
            lines.append(line)
        elif tag == "PIA":
            if not lines:
                problems.add(seg, NOT_SUPPORTED_HERE, "PIA comes after a LIN")
                continue
            for element in range(2, 7):
                _item(seg, lines[-1], problems, element)
        elif tag == "QTY":
            qualifier = seg.get(1, 1)
            if qualifier in _DELFOR_QTY_READ:
                if not lines:
                    problems.add(seg, NOT_SUPPORTED_HERE, "a quantity comes after a LIN")
                    continue
                entry = _Entry(seg, _quantity(seg, problems, "quantity"))
                lines[-1].entries.append(entry)
            elif qualifier in _DELFOR_QTY_PAST:
                entry = None
            else:
                # Its SCC and DTM belong to it: refused with it, not once more each.
                entry = _Entry(seg, None, scc_seen=True, dtm_seen=True)
                problems.add(seg, VALUE_NOT_SUPPORTED if qualifier else MISSING,
                             f"quantity qualifier {qualifier!r} is not one of DELFOR's: "
                             f"{', '.join(_DELFOR_QTY_READ + _DELFOR_QTY_PAST)}",
                             element=1, component=1)
        elif tag == "SCC":
            if entry is None:
                problems.add(seg, NOT_SUPPORTED_HERE, "SCC follows the QTY it qualifies")
                continue
            entry.scc_seen = True
            status = seg.get(1)
            firmness = m.FIRMNESS_BY_SCC.get(status or "")
            if firmness is None:
                problems.add(seg, VALUE_NOT_SUPPORTED if status else MISSING,
                             f"delivery plan status {status!r} is not 1 (firm), 2 "
                             "(commitment for production), 3 (commitment for material) or "
                             "4 (planning/forecast)", element=1)
            entry.firmness = firmness
        elif tag not in _DELFOR_OTHER:
            problems.add(seg, NOT_SUPPORTED_HERE, f"segment {tag} is not one of DELFOR "
                         "D.96A's")
    first = msg.body[0] if msg.body else None
    if bgm is None:
        msg.missing(problems, "BGM", "beginning of message", before=first)
    if not dated:
        msg.missing(problems, "DTM", "document date, qualifier 137",
                    before=msg.body[1] if len(msg.body) > 1 else None)
    if buyer is None:
        msg.missing(problems, "NAD", "buyer, qualifier BY", before=uns)
    if uns is None:
        msg.missing(problems, "UNS", "section control, D", before=lines[0].lin if lines
                    else None)
    if ship_to is None:
        msg.missing(problems, "NAD", "ship-to, qualifier ST",
                    before=lines[0].lin if lines else None)
    if not lines:
        msg.missing(problems, "LIN", "line item")
    for line in lines:
        if line.part is None and line.spec is None:
            problems.add(line.lin, MISSING, "the line names no part: a customer's part "
                         "number (IN, BP) or the mill's spec code (SA) in LIN or PIA",
                         element=3, component=1)
        for e in line.entries:
            if not e.scc_seen:
                problems.add(None, MISSING, "mandatory segment SCC (firmness) is missing "
                             "after this quantity", tag="SCC", position=e.qty.position,
                             message_ref=msg.header.reference)
            if not e.dtm_seen:
                problems.add(None, MISSING, "mandatory segment DTM (delivery date, "
                             "qualifier 2) is missing after this quantity", tag="DTM",
                             position=e.qty.position, message_ref=msg.header.reference)

    def make() -> m.DeliverySchedule:
        assert number is not None and issued is not None and buyer is not None
        assert ship_to is not None
        return m.DeliverySchedule(
            document_number=number, function=function, issued_at=issued, buyer_code=buyer,
            supplier_code=supplier, ship_to_site_code=ship_to[0], ship_to_gln=ship_to[1],
            lines=tuple(m.ScheduleLine(
                line_no=line.line_no, customer_part_number=line.part, spec_code=line.spec,
                entries=tuple(_schedule_entry(e) for e in line.entries))
                for line in lines))

    return _build(problems, msg, make)


def _schedule_entry(e: _Entry) -> m.ScheduleEntry:
    assert e.quantity is not None and e.firmness is not None and e.when is not None
    return m.ScheduleEntry(quantity=e.quantity, firmness=e.firmness,
                           delivery_from=e.when.first, delivery_to=e.when.last,
                           delivery_at=e.when.at)


def _ship_to(seg: _Seg, ident: str | None, problems: _Problems
             ) -> tuple[str | None, str | None] | None:
    if ident is None:
        return None
    if seg.get(2, 3) == GS1_AGENCY:
        try:
            return (None, m.gln(ident, "shipTo"))
        except Invalid:
            problems.add(seg, INVALID_VALUE, f"{ident!r} is not a GLN (13 digits with their "
                         "check digit), as agency 9 says", element=2, component=1)
            return None
    return (ident, None)


def _item(seg: _Seg, line: _Line, problems: _Problems, element: int) -> None:
    ident, kind = seg.get(element, 1), seg.get(element, 2)
    if ident is None:
        return
    if len(ident) > m.MAX_ID:
        problems.add(seg, TOO_LONG, f"item number is longer than {m.MAX_ID} characters",
                     element=element, component=1)
        return
    role = _ITEM_TYPES.get(kind or "")
    if role == "part" and line.part is None:
        line.part = ident
    elif role == "spec" and line.spec is None:
        line.spec = ident
    elif role is None and seg.tag == "LIN":
        problems.add(seg, VALUE_NOT_SUPPORTED if kind else MISSING,
                     f"item number type {kind!r} is not IN or BP (the customer's part) or SA "
                     "(the mill's spec)", element=element, component=2)


# -- RECADV ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Package:
    cps: _Seg
    sscc: str | None = None
    coil: str | None = None
    received: m.Quantity | None = None
    qty_seen: bool = False
    ident_refused: bool = False
    discrepancy: m.Discrepancy | None = None
    variance: Decimal | None = None


def read_recadv(data: bytes, *, recipient: str | None = None, zone: tzinfo = MILL_TZ
                ) -> Received[m.ReceivingAdvice]:
    """The receiving advices of a RECADV D.96A interchange, or :class:`EdifactError`
    with every problem (``recipient`` and ``zone`` as for :func:`read_delfor`)."""
    header, msgs, problems = _read(data, "RECADV", recipient, zone)
    return _finish(header, [_recadv(msg, problems, zone) for msg in msgs], problems)


def _recadv(msg: _Msg, problems: _Problems, zone: tzinfo) -> m.ReceivingAdvice | None:
    bgm: _Seg | None = None
    number: str | None = None
    received_at: datetime | None = None
    dated = False
    despatch: str | None = None
    shipment: str | None = None
    leg: int | None = None
    packages: list[_Package] = []
    for seg in msg.body:
        tag = seg.tag
        package = packages[-1] if packages else None
        if tag == "BGM":
            if bgm is not None:
                problems.add(seg, TOO_MANY_REPEATS, "a message has one BGM")
                continue
            bgm = seg
            if seg.get(1) != "632":
                problems.add(seg, VALUE_NOT_SUPPORTED, f"document name {seg.get(1)!r} is "
                             "not 632 (goods receipt)", element=1, component=1)
            number = _value(seg, problems, 2, 1, "the advice's number")
        elif tag == "DTM":
            qualifier = seg.get(1, 1)
            if qualifier == "50":
                dated = True
                when = _when(seg, problems, zone, ("102", "203", "204"))
                if when is not None:
                    received_at = when.at or datetime.combine(
                        when.first, datetime.min.time(), zone)
            elif qualifier is None:
                problems.add(seg, MISSING, "the date's qualifier is missing", element=1,
                             component=1)
        elif tag == "RFF":
            qualifier = seg.get(1, 1)
            if qualifier in ("AAK", "AAU"):
                despatch = _value(seg, problems, 1, 2, "the despatch advice's number")
            elif qualifier == "SRN":
                shipment = _value(seg, problems, 1, 2, "the shipment's number")
                raw = seg.get(1, 3)
                if raw is not None:
                    if raw.isdigit() and 0 < int(raw) < 1000:
                        leg = int(raw)
                    else:
                        problems.add(seg, INVALID_VALUE, f"leg {raw!r} is not a whole "
                                     "number from 1 to 999", element=1, component=3)
            elif qualifier is None:
                problems.add(seg, MISSING, "the reference's qualifier is missing",
                             element=1, component=1)
        elif tag == "CPS":
            packages.append(_Package(seg))
        elif tag == "GIN":
            if package is None:
                problems.add(seg, NOT_SUPPORTED_HERE, "GIN comes in a package (after CPS)")
                continue
            qualifier = seg.get(1)
            ident = _value(seg, problems, 2, 1, "the identity number", required=qualifier
                           in ("BJ", "BN"))
            if qualifier == "BJ" and ident is not None:
                try:
                    package.sscc = validate_sscc(ident)
                except Invalid as e:
                    package.ident_refused = True
                    problems.add(seg, INVALID_VALUE, e.message, element=2, component=1)
            elif qualifier == "BN" and ident is not None:
                package.coil = ident
            elif qualifier is None:
                problems.add(seg, MISSING, "the identity number's qualifier is missing "
                             "(BJ SSCC, BN coil number)", element=1)
        elif tag == "QTY":
            qualifier = seg.get(1, 1)
            if qualifier == "48":
                if package is None:
                    problems.add(seg, NOT_SUPPORTED_HERE, "QTY comes in a package (after "
                                 "CPS)")
                    continue
                package.qty_seen = True
                package.received = _quantity(seg, problems, "received quantity")
            elif qualifier not in ("12", "21", "46", "194"):
                problems.add(seg, VALUE_NOT_SUPPORTED if qualifier else MISSING,
                             f"quantity qualifier {qualifier!r} is not 48 (received)",
                             element=1, component=1)
        elif tag == "QVR":
            if package is None:
                problems.add(seg, NOT_SUPPORTED_HERE, "QVR comes in a package (after CPS)")
                continue
            if seg.get(1, 1) is not None:
                package.variance = _decimal(seg, problems, 1, 1, "the variance",
                                            negative=True)
            nature = seg.get(2)
            discrepancy = DISCREPANCY_BY_CODE.get(nature or "")
            if discrepancy is None:
                problems.add(seg, VALUE_NOT_SUPPORTED if nature else MISSING,
                             f"discrepancy {nature!r} is not one of "
                             f"{', '.join(DISCREPANCY_BY_CODE)}", element=2)
            package.discrepancy = discrepancy
        elif tag not in _RECADV_OTHER:
            problems.add(seg, NOT_SUPPORTED_HERE, f"segment {tag} is not one of RECADV "
                         "D.96A's")
    first = msg.body[0] if msg.body else None
    if bgm is None:
        msg.missing(problems, "BGM", "beginning of message", before=first)
    if not dated:
        msg.missing(problems, "DTM", "goods receipt date, qualifier 50",
                    before=msg.body[1] if len(msg.body) > 1 else None)
    if despatch is None and shipment is None:
        msg.missing(problems, "RFF", "the despatch advice answered, qualifier AAK",
                    before=packages[0].cps if packages else None)
    read = [p for p in packages
            if p.sscc or p.coil or p.qty_seen or p.discrepancy or p.ident_refused]
    if not read:
        msg.missing(problems, "CPS", "a package received")
    for p in read:
        if p.sscc is None and p.coil is None and not p.ident_refused:
            problems.add(None, MISSING, "the package is named by neither an SSCC (GIN+BJ) "
                         "nor a coil number (GIN+BN)", tag="GIN", position=p.cps.position,
                         message_ref=msg.header.reference)
        if not p.qty_seen:
            problems.add(None, MISSING, "mandatory segment QTY (received quantity, qualifier "
                         "48) is missing in this package", tag="QTY", position=p.cps.position,
                         message_ref=msg.header.reference)

    def make() -> m.ReceivingAdvice:
        assert number is not None and received_at is not None
        return m.ReceivingAdvice(
            document_number=number, received_at=received_at, despatch_advice_number=despatch,
            shipment_number=shipment, leg_seq=leg,
            packages=tuple(_received_package(p) for p in read))

    return _build(problems, msg, make)


def _received_package(p: _Package) -> m.ReceivedPackage:
    assert p.received is not None
    return m.ReceivedPackage(sscc=p.sscc, coil_no=p.coil, received=p.received,
                             discrepancy=p.discrepancy, variance=p.variance)


# -- CONTRL and APERAK: partners' answers to what Keylink sent ---------------------------------

# CONTRL versions a partner may answer with: syntax version 3's (2:2, or D:3 as older
# translators write it) and syntax version 4's (4:1).
CONTRL_VERSIONS: Final = (CONTRL_VERSION, ("D", "3", "UN"), ("4", "1", "UN"))
# Action codes (0083) of UCI and UCM.
REJECTED: Final = "4"
ACKNOWLEDGED: Final = "7"
RECEIVED: Final = "8"
# ISO 9735 syntax error codes (0085) in words, to tell a person what a partner's CONTRL
# reports.
SYNTAX_ERRORS: Final[Mapping[str, str]] = {
    "2": "syntax version or level not supported", "7": "interchange recipient not actual "
    "recipient", "12": "invalid value", "13": "missing", "14": "value not supported in "
    "this position", "15": "not supported in this position", "16": "too many "
    "constituents", "17": "no agreement", "18": "unspecified error", "19": "invalid "
    "decimal notation", "20": "character invalid as service character", "21": "invalid "
    "character(s)", "22": "invalid service character(s)", "23": "unknown interchange "
    "sender", "25": "test indicator not supported", "26": "duplicate detected", "28":
    "references do not match", "29": "control count does not match", "30": "functional "
    "groups and messages mixed", "32": "lower level empty", "33": "invalid occurrence "
    "outside message, package or group", "35": "too many segment repetitions", "36":
    "too many segment group repetitions", "37": "invalid type of character(s)", "38":
    "missing digit in front of decimal sign", "39": "data element too long", "40": "data "
    "element too short",
}
# APERAK: the message function (1225) that says the document was not accepted.
NOT_ACCEPTED: Final = "27"
_CONTRL_OTHER: Final = frozenset({"UCF"})
_APERAK_OTHER: Final = frozenset({"DTM", "NAD", "CTA", "COM", "CNT", "LOC"})


def message_type(data: bytes) -> str | None:
    """The type of the first message of an interchange (UNH 0065), read from its first
    bytes without checking anything else; None when none is found there."""
    head = bytes(data[:8192]).decode("iso8859-1")
    component, element, terminator = ":", "+", "'"
    if head.startswith("UNA") and len(head) >= 9:
        component, element, terminator = head[3], head[4], head[8]
    for raw in head.split(terminator):
        segment = raw.strip()
        if segment.startswith("UNH" + element):
            parts = segment.split(element)
            return parts[2].split(component)[0] if len(parts) > 2 else None
    return None


def read_contrl(data: bytes, *, recipient: str | None = None, zone: tzinfo = MILL_TZ
                ) -> Received[m.Acknowledgement]:
    """A partner's CONTRL answering an interchange Keylink sent: what it names (the
    interchange by UCI 0020, messages by UCM 0062), whether it was accepted (UCI action
    7 or 8, no UCM with action 4) and, when not, each error it reports, in words; or
    :class:`EdifactError` with every problem (``recipient`` and ``zone`` as for
    :func:`read_delfor`)."""
    header, msgs, problems = _read(data, "CONTRL", recipient, zone, CONTRL_VERSIONS)
    own = header.control_reference if header is not None else "?"
    return _finish(header, [_contrl(msg, problems, own) for msg in msgs], problems)


def _syntax_error(code: str | None) -> str:
    if code is None:
        return "no error code"
    return f"{SYNTAX_ERRORS.get(code, 'error')} ({code})"


def _where(tag: str | None, element: str | None, component: str | None) -> str:
    where = f" in {tag}" if tag else ""
    if element:
        where += f" element {element}" + (f".{component}" if component else "")
    return where


def _contrl(msg: _Msg, problems: _Problems, own: str) -> m.Acknowledgement | None:
    uci: _Seg | None = None
    reference: str | None = None
    action: str | None = None
    refs: list[str] = []
    rejected = False
    reasons: list[str] = []
    message = ""
    segment: str | None = None
    for seg in msg.body:
        tag = seg.tag
        if tag == "UCI":
            if uci is not None:
                problems.add(seg, TOO_MANY_REPEATS, "a CONTRL has one UCI")
                continue
            uci = seg
            reference = _value(seg, problems, 1, 1, "the interchange control reference",
                               limit=14)
            action = _action(seg, problems, 4)
            if seg.get(5) is not None:
                reasons.append(f"interchange {reference}: {_syntax_error(seg.get(5))}"
                               f"{_where(seg.get(6), seg.get(7, 1), seg.get(7, 2))}")
        elif tag == "UCM":
            if uci is None:
                problems.add(seg, NOT_SUPPORTED_HERE, "UCM comes after UCI")
                continue
            found = _value(seg, problems, 1, 1, "the message reference", limit=14)
            message, segment = f"message {found}", None
            if found is not None:
                refs.append(found)
            if _action(seg, problems, 3) == REJECTED:
                rejected = True
                error = seg.get(4)
                reasons.append(f"{message} rejected" + (
                    f": {_syntax_error(error)}{_where(seg.get(5), seg.get(6, 1), seg.get(6, 2))}"
                    if error is not None else ""))
        elif tag == "UCS":
            segment = _value(seg, problems, 1, 1, "the segment's position", limit=6)
            if seg.get(2) is not None:
                reasons.append(f"{message or 'interchange'}, segment {segment}: "
                               f"{_syntax_error(seg.get(2))}")
        elif tag == "UCD":
            if segment is None:
                problems.add(seg, NOT_SUPPORTED_HERE, "UCD comes after the UCS it details")
                continue
            reasons.append(f"{message or 'interchange'}, segment {segment}, element "
                           f"{seg.get(2, 1)}" + (f".{seg.get(2, 2)}" if seg.get(2, 2) else "")
                           + f": {_syntax_error(seg.get(1))}")
        elif tag not in _CONTRL_OTHER:
            problems.add(seg, NOT_SUPPORTED_HERE, f"segment {tag} is not one of CONTRL's")
    if uci is None:
        msg.missing(problems, "UCI", "the interchange answered",
                    before=msg.body[0] if msg.body else None)
    accepted = action in (ACKNOWLEDGED, RECEIVED) and not rejected
    if not accepted and not reasons:
        reasons.append(f"interchange {reference} rejected, no error named")

    def make() -> m.Acknowledgement:
        assert reference is not None
        return m.Acknowledgement(kind="CONTRL", number=own, interchange_ref=reference,
                                 message_refs=tuple(refs), accepted=accepted,
                                 reasons=tuple(reasons[:MAX_PROBLEMS]))

    return _build(problems, msg, make)


def _action(seg: _Seg, problems: _Problems, element: int) -> str | None:
    action = seg.get(element)
    if action not in (REJECTED, ACKNOWLEDGED, RECEIVED):
        problems.add(seg, VALUE_NOT_SUPPORTED if action else MISSING,
                     f"action {action!r} is not 4 (rejected), 7 (acknowledged) or 8 "
                     "(received)", element=element)
        return None
    return action


def read_aperak(data: bytes, *, recipient: str | None = None, zone: tzinfo = MILL_TZ
                ) -> Received[m.Acknowledgement]:
    """A partner's APERAK D.96A answering a message Keylink sent: the message it names
    (RFF+ACW, the UNH reference), the document (DOC), and whether it was accepted: not
    when its BGM says 27 (not accepted) or it reports an application error (ERC, with
    the FTX after it); or :class:`EdifactError` with every problem."""
    header, msgs, problems = _read(data, "APERAK", recipient, zone)
    return _finish(header, [_aperak(msg, problems) for msg in msgs], problems)


def _aperak(msg: _Msg, problems: _Problems) -> m.Acknowledgement | None:
    bgm: _Seg | None = None
    number: str | None = None
    function: str | None = None
    document: str | None = None
    refs: list[str] = []
    errors: list[str] = []
    after_error = False
    for seg in msg.body:
        tag = seg.tag
        if tag == "BGM":
            if bgm is not None:
                problems.add(seg, TOO_MANY_REPEATS, "a message has one BGM")
                continue
            bgm = seg
            number = _value(seg, problems, 2, 1, "the acknowledgement's number")
            function = seg.get(3)
        elif tag == "DOC":
            document = _value(seg, problems, 2, 1, "the document's number", required=False)
        elif tag == "RFF":
            after_error = False
            if seg.get(1, 1) == "ACW":
                ref = _value(seg, problems, 1, 2, "the message reference", limit=14)
                if ref is not None:
                    refs.append(ref)
        elif tag == "ERC":
            code = _value(seg, problems, 1, 1, "the application error code")
            errors.append(f"error {code}")
            after_error = True
        elif tag == "FTX":
            said = [seg.get(4, c) for c in range(1, 6)]
            if after_error and any(said):
                errors[-1] += ": " + " ".join(t for t in said if t)
        elif tag not in _APERAK_OTHER:
            problems.add(seg, NOT_SUPPORTED_HERE, f"segment {tag} is not one of APERAK "
                         "D.96A's")
    if bgm is None:
        msg.missing(problems, "BGM", "beginning of message",
                    before=msg.body[0] if msg.body else None)
    if not refs:
        msg.missing(problems, "RFF", "the message answered, qualifier ACW")
    accepted = function != NOT_ACCEPTED and not errors
    reasons = errors or ([] if accepted else ["not accepted (message function 27), no "
                                              "error named"])

    def make() -> m.Acknowledgement:
        assert number is not None
        return m.Acknowledgement(kind="APERAK", number=number, interchange_ref=None,
                                 message_refs=tuple(refs), accepted=accepted,
                                 reasons=tuple(reasons[:MAX_PROBLEMS]),
                                 document_number=document)

    return _build(problems, msg, make)


def segments_of(data: bytes) -> Iterator[Segment]:
    """The segments of an interchange as pydifact reads them (UNA left out), for
    callers and tests that look at what was written."""
    for segment in Parser(factory=_Factory()).parse(bytes(data).decode("iso8859-1")):
        if segment.tag != "UNA":
            yield segment
