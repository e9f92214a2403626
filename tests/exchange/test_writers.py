"""ORDRSP, DESADV and INVOIC as written, parsed back segment by segment with pydifact's
own Interchange: the envelope, every coil's SSCC, weight and heat, every amount."""

from __future__ import annotations

import warnings
from datetime import timedelta
from decimal import Decimal

import pytest
from pydifact.exceptions import MissingImplementationWarning
from pydifact.segmentcollection import Interchange, Message
from pydifact.segments import Segment

from domain.errors import Invalid
from domain.exchange import messages as m
from domain.exchange.edifact import write_desadv, write_invoic, write_ordrsp
from tests.exchange.documents import (
    SSCCS,
    credit_note,
    dispatch_advice,
    envelope,
    invoice,
    order_response,
)
from tests.support.factory import TODAY


def parsed(data: bytes) -> tuple[Interchange, Message]:
    """The interchange as stock pydifact reads it (its directory files are not
    installed, which it only warns about), and its one message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImplementationWarning)
        interchange = Interchange.from_str(data.decode("iso8859-1"))
    (message,) = interchange.get_messages()
    return interchange, message


def tags(message: Message) -> list[str]:
    return [s.tag for s in message.segments]


def only(message: Message, tag: str, qualifier: str) -> Segment:
    found = [s for s in message.segments if s.tag == tag and _first(s) == qualifier]
    assert len(found) == 1, (tag, qualifier, found)
    return found[0]


def _first(segment: Segment) -> str:
    head = segment.elements[0]
    return head[0] if isinstance(head, list) else head


def groups(message: Message, tag: str) -> list[list[Segment]]:
    return [list(g.segments) for g in message.split_by(tag)]


def test_the_envelope_carries_the_callers_references() -> None:
    data = write_desadv(dispatch_advice(), envelope(test=True))
    assert data.startswith(b"UNA:+.? 'UNB+UNOC:3+6901234000009:14+FAWVW:ZZZ+261125:0945"
                           b"+BS000000042++DESADV++++1'UNH+DA0001+DESADV:D:96A:UN'")
    interchange, message = parsed(data)
    assert interchange.sender == ["6901234000009", "14"]
    assert interchange.recipient == ["FAWVW", "ZZZ"]
    assert interchange.control_reference == "BS000000042"
    assert message.reference_number == "DA0001" and message.identifier == [
        "DESADV", "D", "96A", "UN"]
    text = data.decode("iso8859-1")
    count = text.count("'") - 3  # UNA's escape, UNB, UNZ
    assert f"UNT+{count}+DA0001'UNZ+1+BS000000042'" in text


def test_desadv_names_every_coil_with_its_sscc_weight_and_heat() -> None:
    advice = dispatch_advice()
    _, message = parsed(write_desadv(advice, envelope()))
    assert tags(message)[:4] == ["BGM", "DTM", "DTM", "DTM"]
    assert message.segments[0].elements == ["351", "DA-2026-0001", "9"]
    assert only(message, "DTM", "11").elements == [["11", "202611250930", "203"]]
    assert only(message, "DTM", "132").elements == [["132", "202611280800", "203"]]
    assert only(message, "RFF", "SRN").elements == [["SRN", "SH-2026-0042", "2"]]
    assert only(message, "NAD", "ST").elements == ["ST", ["6901234000023", "", "9"]]
    assert only(message, "LOC", "7").elements == ["7", ["FAW-VW-CC-WH1", "", "91"]]
    assert only(message, "NAD", "SF").elements == ["SF", ["BAOSHAN-DOCK-3", "", "91"]]
    assert only(message, "NAD", "CA").elements == ["CA", ["SINOTRANS-SH", "", "91"]]
    assert only(message, "TDT", "20").elements == [
        "20", "2", "3", "", ["SINOTRANS-SH", "", "91"], "", "", ["A-D12345", "PLATE", "ZZZ"]]
    packages = groups(message, "CPS")[1:]
    assert len(packages) == len(advice.packages) == 3
    for n, (group, package) in enumerate(zip(packages, advice.packages, strict=True), 1):
        by_tag: dict[str, list[Segment]] = {}
        for segment in group:
            by_tag.setdefault(segment.tag, []).append(segment)
        assert by_tag["CPS"][0].elements == [str(n + 1), "1"]
        assert by_tag["PAC"][0].elements == ["1", "", "CL"]
        assert by_tag["PCI"][0].elements == ["33E"]
        assert by_tag["MEA"][0].elements == ["PD", "AAA", ["KGM", str(package.net_weight_kg)]]
        gins = {s.elements[0]: s.elements[1] for s in by_tag["GIN"]}
        assert gins == {"BJ": package.sscc, "BN": package.coil_no, "BX": package.heat_no}
        (qty,) = by_tag["QTY"]
        assert qty.elements[0][:2] == ["12", str(package.net_weight_t)]
        assert Decimal(qty.elements[0][1]) * 1000 == package.net_weight_kg
        assert by_tag["LIN"][0].elements == [str(n), "", [package.spec_code, "SA"]]
        assert by_tag["RFF"][0].elements == [["CT", "BS-2026-0117", str(package.line_no)]]
    assert [g[4].elements[1] for g in packages] == list(SSCCS)
    assert only(message, "CNT", "2").elements == [["2", "3"]]


def test_desadv_of_a_ship_names_it_by_its_imo_number() -> None:
    advice = dispatch_advice(mode="water", vehicle=m.Vehicle("imo", "9412345"),
                             carrier_code=None)
    _, message = parsed(write_desadv(advice, envelope()))
    assert only(message, "TDT", "20").elements == [
        "20", "2", "1", "", "", "", "", ["9412345", "146", "11"]]
    assert "CA" not in [_first(s) for s in message.segments if s.tag == "NAD"]


def test_invoic_carries_every_amount() -> None:
    doc = invoice()
    _, message = parsed(write_invoic(doc, envelope(message_reference="IV1")))
    assert message.segments[0].elements == ["380", "INV-2026-000317", "9"]
    assert only(message, "DTM", "137").elements == [["137", f"{TODAY:%Y%m%d}", "102"]]
    due = TODAY + timedelta(days=30)
    assert only(message, "DTM", "13").elements == [["13", f"{due:%Y%m%d}", "102"]]
    assert only(message, "RFF", "CT").elements == [["CT", "BS-2026-0117"]]
    assert only(message, "CUX", "2").elements == [["2", "CNY", "4"]]
    assert only(message, "NAD", "SE").elements == ["SE", ["BAOSTEEL", "", "91"]]
    assert only(message, "NAD", "BY").elements == ["BY", ["FAW-VW", "", "91"]]
    charges = {s.elements[4][0]: (s.elements[0], message.segments[i + 1].elements[0])
               for i, s in enumerate(message.segments) if s.tag == "ALC"}
    assert charges == {"SUR": ("C", ["23", "1512.30"]), "FRT": ("C", ["23", "8650.00"]),
                       "CLM": ("A", ["204", "3200.00"])}
    lines = groups(message, "LIN")
    assert len(lines) == 2
    for group, line in zip(lines, doc.lines, strict=True):
        assert group[0].elements[2] == [line.spec_code, "SA"]
        assert group[1].elements == [["47", str(line.quantity_t), "TNE"]]
        assert group[2].elements == [["203", str(line.amount)]]
        assert group[3].elements == [["AAA", str(line.unit_price), "CT", "", "1", "TNE"]]
    totals = {s.elements[0][0]: Decimal(s.elements[0][1]) for s in message.segments
              if s.tag == "MOA" and s.elements[0][0] in ("79", "125", "77", "86")}
    assert totals == {"79": Decimal("430163.64"), "125": Decimal("437125.94"),
                      "77": Decimal("437125.94"), "86": Decimal("437125.94")}
    assert tags(message)[-6:] == ["UNS", "CNT", "MOA", "MOA", "MOA", "MOA"]


def test_a_credit_note_refers_to_the_invoice_it_credits() -> None:
    _, message = parsed(write_invoic(credit_note(), envelope()))
    assert message.segments[0].elements == ["381", "CN-2026-000021", "9"]
    assert only(message, "RFF", "IV").elements == [["IV", "INV-2026-000317"]]
    assert "ALC" not in tags(message)
    assert only(message, "MOA", "86").elements == [["86", "6850.00"]]


def test_ordrsp_confirms_each_line() -> None:
    doc = order_response()
    _, message = parsed(write_ordrsp(doc, envelope()))
    assert message.identifier[0] == "ORDRSP"
    assert message.segments[0].elements == ["231", "BS-2026-0117", "9"]
    assert only(message, "DTM", "137").elements == [["137", "202610091405", "203"]]
    assert only(message, "RFF", "ON").elements == [["ON", "4500123456"]]
    assert only(message, "CUX", "2").elements == [["2", "CNY", "9"]]
    first, second = groups(message, "LIN")
    line = doc.lines[0]
    assert [s.tag for s in first] == ["LIN", "PIA", "QTY", "DTM", "PRI", "LOC"]
    assert first[1].elements == ["1", ["5G0-809-605", "IN"]]
    assert first[2].elements == [["113", "1200.000", "TNE"]]
    assert first[3].elements == [["2", f"{line.delivery_from:%Y%m%d}-"
                                  f"{line.delivery_to:%Y%m%d}", "718"]]
    assert first[4].elements == [["AAA", "5480.00", "CT", "", "1", "TNE"]]
    assert first[5].elements == ["7", ["FAW-VW-CC-WH1", "", "91"]]
    # The spec code's '+' travels escaped and reads back whole.
    assert second[0].elements == ["2", "", ["DX54D+Z100-0.7x1500", "SA"]]
    assert [s.tag for s in second] == ["LIN", "QTY", "DTM", "PRI", "UNS", "CNT"]


def test_service_characters_in_a_value_are_escaped() -> None:
    doc = order_response()
    odd = m.OrderResponse(**{**{f: getattr(doc, f) for f in doc.__dataclass_fields__},
                             "customer_order_ref": "PO:17+'A'?"})
    data = write_ordrsp(odd, envelope())
    assert b"RFF+ON:PO?:17?+?'A?'??'" in data
    _, message = parsed(data)
    assert only(message, "RFF", "ON").elements == [["ON", "PO:17+'A'?"]]


def test_text_outside_the_unoc_character_set_is_refused() -> None:
    doc = order_response()
    line = m.OrderResponseLine(1, "DC04-0.8x1250", "车身侧板", Decimal(1), Decimal(1),
                               TODAY, TODAY)
    chinese = m.OrderResponse(**{**{f: getattr(doc, f) for f in doc.__dataclass_fields__},
                                 "lines": (line,)})
    with pytest.raises(Invalid, match="UNOC"):
        write_ordrsp(chinese, envelope())


@pytest.mark.parametrize(("changes", "field"), [
    ({"control_reference": "REF 1"}, "control_reference"),
    ({"message_reference": "X" * 15}, "message_reference"),
    ({"sender_qualifier": "14:1"}, "sender_qualifier"),
    ({"recipient": ""}, "recipient"),
])
def test_an_envelope_out_of_bounds_is_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        envelope(**changes)
    assert caught.value.field == field


@pytest.mark.parametrize(("changes", "field"), [
    ({"vehicle": m.Vehicle("wagon", "6012345")}, "vehicle.kind"),
    ({"to_gln": "6901234000024"}, "toGln"),
    ({"packages": ()}, "packages"),
])
def test_a_dispatch_advice_checks_itself(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        dispatch_advice(**changes)
    assert caught.value.field == field


def test_an_invoice_whose_totals_do_not_add_up_is_refused() -> None:
    doc = invoice()
    with pytest.raises(Invalid) as caught:
        m.Invoice(**{**{f: getattr(doc, f) for f in doc.__dataclass_fields__},
                     "total_amount": doc.total_amount + Decimal("0.01")})
    assert caught.value.field == "totalAmount"
