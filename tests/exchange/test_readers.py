"""DELFOR and RECADV from customers' systems (tests/data/exchange) read into documents;
malformed interchanges refused whole, every problem named by segment and element; and
the CONTRL that answers each."""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydifact.exceptions import MissingImplementationWarning
from pydifact.segmentcollection import Interchange

from domain.exchange import edifact as e
from domain.exchange import messages as m
from tests.exchange.documents import envelope

DATA = Path(__file__).resolve().parents[1] / "data" / "exchange"
CST = timezone(timedelta(hours=8))


def sample(name: str) -> str:
    return (DATA / name).read_text(encoding="iso8859-1")


def position(text: str, segment: str) -> int:
    """Where ``segment`` stands in its message, UNH counted as 1."""
    segments = [s.strip() for s in text.split("'\n")]
    at = segments.index(segment)
    unh = max(i for i, s in enumerate(segments[:at + 1]) if s.startswith("UNH+"))
    return at - unh + 1


def refused(read: object, text: str) -> e.EdifactError:
    with pytest.raises(e.EdifactError) as caught:
        read(text.encode("iso8859-1"))  # type: ignore[operator]
    return caught.value


def named(error: e.EdifactError) -> set[tuple[str, int | None, int | None, int | None, str]]:
    return {(p.tag, p.position, p.element, p.component, p.code) for p in error.problems}


# -- DELFOR --------------------------------------------------------------------------------


def test_faw_vw_delivery_schedule() -> None:
    received = e.read_delfor(sample("delfor-fawvw.edi").encode("iso8859-1"))
    assert received.header.sender == "FAWVW" and received.header.recipient == "BAOSTEEL"
    assert received.header.control_reference == "FV2611240042"
    assert received.header.prepared_at == datetime(2026, 11, 24, 22, 15, tzinfo=CST)
    (schedule,) = received.documents
    assert schedule.document_number == "DF-20261124-0042"
    assert schedule.function == "replace"
    assert schedule.issued_at == datetime(2026, 11, 24, 22, 15, tzinfo=CST)
    assert (schedule.buyer_code, schedule.supplier_code) == ("FAW-VW", "BAOSTEEL")
    assert (schedule.ship_to_site_code, schedule.ship_to_gln) == ("FAW-VW-CC-WH1", None)
    side, rear = schedule.lines
    assert (side.line_no, side.customer_part_number, side.spec_code) == (
        1, "5G0-809-605", "DC04-0.8x1250")
    # The cumulative quantity received (QTY+70) is read past: four requirements remain.
    assert [(x.quantity, x.firmness, x.delivery_from, x.delivery_to, x.delivery_at)
            for x in side.entries] == [
        (m.Quantity(Decimal("120.000"), "TNE"), "firm", date(2026, 12, 1), date(2026, 12, 1),
         None),
        (m.Quantity(Decimal("96.5"), "TNE"), "firm", date(2026, 12, 8), date(2026, 12, 8),
         datetime(2026, 12, 8, 8, 0, tzinfo=CST)),
        (m.Quantity(Decimal("240"), "TNE"), "commitment_production", date(2026, 12, 14),
         date(2026, 12, 20), None),
        (m.Quantity(Decimal("480"), "TNE"), "forecast", date(2027, 1, 1), date(2027, 1, 31),
         None),
    ]
    assert (rear.customer_part_number, rear.spec_code) == ("5G0-809-606", None)
    assert [(x.quantity.value, x.quantity.unit, x.quantity_t, x.firmness)
            for x in rear.entries] == [
        (Decimal("60500"), "KGM", Decimal("60.500"), "firm"),
        (Decimal("150000"), "KGM", Decimal("150.000"), "commitment_material"),
    ]


def test_galanz_schedules_two_sites_in_one_interchange() -> None:
    received = e.read_delfor(sample("delfor-galanz.edi").encode("iso8859-1"),
                             recipient="BAOSTEEL")
    assert (received.header.sender, received.header.sender_qualifier) == (
        "6901234000016", "14")
    assert [h.reference for h in received.header.messages] == ["GZ0001", "GZ0002"]
    shunde, zhongshan = received.documents
    assert (shunde.ship_to_site_code, shunde.ship_to_gln) == (None, "6901234000023")
    assert shunde.issued_at == datetime(2026, 11, 26, tzinfo=CST)
    week = shunde.lines[0].entries[1]
    assert (week.delivery_from, week.delivery_to, week.firmness) == (
        date(2026, 12, 7), date(2026, 12, 13), "forecast")
    assert week.quantity_t == Decimal("52.000")
    assert zhongshan.ship_to_site_code == "GALANZ-ZS-WH2"
    (line,) = zhongshan.lines
    assert (line.customer_part_number, line.spec_code) == (None, "SPCC-1.0x1000")
    assert line.entries[0].delivery_at == datetime(2026, 12, 1, 6, 0, tzinfo=CST)


FAWVW = sample("delfor-fawvw.edi")
MALFORMED = {
    "missing mandatory segment": ("BGM+241+DF-20261124-0042+5", None),
    "bad qualifier": ("QTY+1:120.000:TNE", "QTY+999:120.000:TNE"),
    "non-numeric quantity": ("QTY+1:96,5:TNE", "QTY+1:96,5O:TNE"),
    "unknown unit": ("QTY+1:240:TNE", "QTY+1:240:PCE"),
    "date in the wrong format": ("DTM+2:20261203:102", "DTM+2:03-12-2026:102"),
    "UNT segment count wrong": ("UNT+37+1", "UNT+38+1"),
}


def malformed(*cases: str) -> str:
    text = FAWVW
    for case in cases:
        old, new = MALFORMED[case]
        text = text.replace(old + "'\n", "" if new is None else new + "'\n")
    return text


def expected(case: str) -> tuple[str, int | None, int | None, int | None, str]:
    old = MALFORMED[case][0]
    unt = position(FAWVW, "UNT+37+1")
    return {
        "missing mandatory segment": ("BGM", 2, None, None, "13"),
        "bad qualifier": ("QTY", position(FAWVW, old), 1, 1, "14"),
        "non-numeric quantity": ("QTY", position(FAWVW, old), 1, 2, "37"),
        "unknown unit": ("QTY", position(FAWVW, old), 1, 3, "14"),
        "date in the wrong format": ("DTM", position(FAWVW, old), 1, 2, "12"),
        "UNT segment count wrong": ("UNT", unt, 1, None, "29"),
    }[case]


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_schedule_is_refused_naming_segment_and_element(case: str) -> None:
    error = refused(e.read_delfor, malformed(case))
    problem = expected(case)
    assert problem in named(error)
    if case != "missing mandatory segment":  # which also leaves UNT counting one too many
        assert named(error) == {problem}
    assert all(p.message_ref == "1" for p in error.problems)


def test_every_problem_of_a_schedule_is_named_at_once() -> None:
    error = refused(e.read_delfor, malformed(*[c for c in MALFORMED if c.startswith(
        ("bad", "non", "unknown", "date", "UNT"))]))
    assert named(error) == {expected(c) for c in MALFORMED if c != "missing mandatory segment"}
    unit = next(p for p in error.problems if p.code == "14" and p.component == 3)
    assert str(unit) == (f"`QTY+1:240:PCE` at segment {unit.position} of message 1, element "
                         "1.3: unit 'PCE' is not one Keylink reads: TNE (tonnes) or KGM "
                         "(kilograms)")
    assert [p.position for p in error.problems] == sorted(p.position or 0
                                                          for p in error.problems)
    assert error.header is not None and error.header.control_reference == "FV2611240042"


def test_a_schedule_without_bgm_also_fails_its_count() -> None:
    error = refused(e.read_delfor, malformed("missing mandatory segment"))
    unt = position(FAWVW, "UNT+37+1") - 1
    assert named(error) == {("BGM", 2, None, None, "13"), ("UNT", unt, 1, None, "29")}
    assert str(error.problems[0]) == ("BGM at segment 2 of message 1: mandatory segment BGM "
                                      "(beginning of message) is missing")


def test_missing_firmness_and_date_and_parts() -> None:
    text = FAWVW.replace("SCC+3'\n", "").replace("DTM+2:202651:616'\n", "").replace(
        "LIN+2++5G0-809-606:IN", "LIN+2++5G0-809-606:XX").replace("UNT+37+1", "UNT+35+1")
    error = refused(e.read_delfor, text)
    qty_material = position(FAWVW, "QTY+1:150000:KGM") - 1
    qty_week = position(FAWVW, "QTY+1:240:TNE")
    lin = position(FAWVW, "LIN+2++5G0-809-606:IN") - 1
    assert named(error) == {
        ("SCC", qty_material, None, None, "13"),
        ("DTM", qty_week, None, None, "13"),
        ("LIN", lin, 3, 2, "14"),
        ("LIN", lin, 3, 1, "13"),
    }


# -- the envelope ------------------------------------------------------------------------------


def test_envelope_problems_are_named_in_unb_and_unz() -> None:
    text = FAWVW.replace("UNZ+1+FV2611240042", "UNZ+2+FV2611240043").replace(
        "261124:2215", "261324:2215")
    error = refused(lambda data: e.read_delfor(data, recipient="BAOSTEEL-CN"), text)
    unz = len([s for s in text.split("'\n") if s.strip()]) - 1  # UNA not counted
    assert named(error) == {
        ("UNB", 1, 3, 1, "7"), ("UNB", 1, 4, None, "12"),
        ("UNZ", unz, 1, None, "29"), ("UNZ", unz, 2, None, "28"),
    }
    assert [p.tag for p in error.problems] == ["UNB", "UNB", "UNZ", "UNZ"]
    assert all(p.message_ref is None for p in error.problems)


def test_the_wrong_message_type_is_refused() -> None:
    error = refused(e.read_recadv, FAWVW)
    assert ("UNH", 1, 2, 1, "12") in named(error)


def test_unt_reference_and_missing_unt() -> None:
    error = refused(e.read_delfor, FAWVW.replace("UNT+37+1", "UNT+37+2"))
    assert named(error) == {("UNT", 37, 2, None, "28")}
    error = refused(e.read_delfor, FAWVW.replace("UNT+37+1'\n", ""))
    assert ("UNT", 37, None, None, "13") in named(error)


@pytest.mark.parametrize(("data", "code"), [
    (b"", "13"),
    (FAWVW.encode("iso8859-1")[:-3], "18"),  # cut inside UNZ: no segment terminator
    (FAWVW.replace("UNOC", "UNOA").replace("BODY SIDE", "BÖDY SIDE").encode("iso8859-1"),
     "21"),
    (FAWVW.replace("UNOC", "UNOX").encode(), "2"),
    (b"UNA:+.? 'UNH+1+DELFOR:D:96A:UN'UNT+2+1'", "13"),
])
def test_an_unreadable_interchange_is_refused_with_one_problem(data: bytes, code: str) -> None:
    with pytest.raises(e.EdifactError) as caught:
        e.read_delfor(data)
    assert [p.code for p in caught.value.problems] == [code]


def test_an_oversized_interchange_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(e.EdifactError, match="bytes, more than"):
        e.read_delfor(b"UNA" + b" " * e.MAX_INTERCHANGE_BYTES)


# -- RECADV --------------------------------------------------------------------------------


RECADV = sample("recadv-fawvw.edi")


def test_faw_vw_receiving_advice() -> None:
    (advice,) = e.read_recadv(RECADV.encode("iso8859-1")).documents
    assert advice.document_number == "GR-CC-20261128-0007"
    assert advice.received_at == datetime(2026, 11, 28, 9, 12, tzinfo=CST)
    assert (advice.despatch_advice_number, advice.shipment_number, advice.leg_seq) == (
        "DA-2026-0001", "SH-2026-0042", 1)
    assert [(p.sscc, p.coil_no, p.received.tonnes, p.discrepancy, p.variance)
            for p in advice.packages] == [
        ("369012340000000017", None, Decimal("25.480"), None, None),
        ("369012340000000024", None, Decimal("24.960"), "damaged", Decimal(0)),
        (None, "BX25C0012347", Decimal(0), "missing", Decimal("-25.12")),
    ]
    assert advice.packages[1].received == m.Quantity(Decimal("24960"), "KGM")


def test_a_malformed_receiving_advice_names_every_problem() -> None:
    text = (RECADV.replace("GIN+BJ+369012340000000024", "GIN+BJ+369012340000000025")
            .replace("QVR+-25.12:12+BP", "QVR+-25.12:12+ZZ")
            .replace("DTM+50:202611280912:203", "DTM+50:2026112809:203")
            .replace("QTY+48:25.480:TNE", "QTY+48:25.480"))
    error = refused(e.read_recadv, text)
    assert named(error) == {
        ("DTM", position(RECADV, "DTM+50:202611280912:203"), 1, 2, "12"),
        ("QTY", position(RECADV, "QTY+48:25.480:TNE"), 1, 3, "13"),
        ("GIN", position(RECADV, "GIN+BJ+369012340000000024"), 2, 1, "12"),
        ("QVR", position(RECADV, "QVR+-25.12:12+BP"), 2, None, "14"),
    }


def test_a_receiving_advice_without_its_receipt_time_or_reference() -> None:
    text = (RECADV.replace("DTM+50:202611280912:203'\n", "")
            .replace("RFF+AAK:DA-2026-0001'\n", "").replace("RFF+SRN:SH-2026-0042:1'\n", "")
            .replace("UNT+30+RA1", "UNT+27+RA1"))
    error = refused(e.read_recadv, text)
    assert {(p.tag, p.code) for p in error.problems} == {("DTM", "13"), ("RFF", "13")}


# -- CONTRL --------------------------------------------------------------------------------


def contrl_segments(data: bytes) -> list[tuple[str, list[object]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImplementationWarning)
        interchange = Interchange.from_str(data.decode("iso8859-1"))
    (message,) = interchange.get_messages()
    assert message.identifier == ["CONTRL", "2", "2", "UN"]
    return [(s.tag, s.elements) for s in message.segments]


def test_contrl_rejects_a_malformed_schedule_with_each_problem() -> None:
    error = refused(e.read_delfor, malformed(*MALFORMED))
    assert error.header is not None
    data = e.write_contrl(error.header, error.problems,
                          envelope(sender="BAOSTEEL", recipient="FAWVW",
                                   control_reference="CT0001", message_reference="1"))
    segments = contrl_segments(data)
    assert segments[0] == ("UCI", ["FV2611240042", ["FAWVW", "ZZZ"], ["BAOSTEEL", "ZZZ"], "4"])
    unt = position(FAWVW, "UNT+37+1") - 1
    assert segments[1] == ("UCM", ["1", ["DELFOR", "D", "96A", "UN"], "4", "29", "UNT", "1"])
    body = segments[2:]
    qty = position(FAWVW, "QTY+1:120.000:TNE") - 1
    assert ("UCS", ["2", "13"]) in body  # BGM missing
    assert body[body.index(("UCS", [str(qty)])) + 1] == ("UCD", ["14", ["1", "1"]])
    for case, ucd in (("non-numeric quantity", ["37", ["1", "2"]]),
                      ("unknown unit", ["14", ["1", "3"]]),
                      ("date in the wrong format", ["12", ["1", "2"]])):
        at = position(FAWVW, MALFORMED[case][0]) - 1
        assert body[body.index(("UCS", [str(at)])) + 1] == ("UCD", ucd)
    assert unt > qty
    assert [t for t, _ in body].count("UCS") == 5


def test_contrl_accepts_a_good_interchange() -> None:
    received = e.read_recadv(RECADV.encode("iso8859-1"))
    data = e.write_contrl(received.header, [], envelope(control_reference="CT0002"))
    assert contrl_segments(data) == [
        ("UCI", ["FV2611280007", ["FAWVW", "ZZZ"], ["BAOSTEEL", "ZZZ"], "7"])]


def test_contrl_names_an_envelope_problem_on_the_uci() -> None:
    error = refused(e.read_delfor, FAWVW.replace("UNZ+1+FV2611240042", "UNZ+3+FV2611240042"))
    assert error.header is not None
    segments = contrl_segments(e.write_contrl(error.header, error.problems, envelope()))
    assert segments == [("UCI", ["FV2611240042", ["FAWVW", "ZZZ"], ["BAOSTEEL", "ZZZ"], "4",
                                 "29", "UNZ", "1"])]


# -- hostile bytes -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, len(FAWVW)), to=st.integers(0, len(FAWVW)),
       noise=st.text(alphabet="+:'?UNABHTZQY0123456789-., \n\x00é", max_size=16))
def test_spliced_bytes_are_refused_not_crashed_on(cut: int, to: int, noise: str) -> None:
    data = (FAWVW[:cut] + noise + FAWVW[to:]).encode("iso8859-1")
    try:
        e.read_delfor(data)
    except e.EdifactError as error:
        assert error.problems and all(str(p) for p in error.problems)
        if error.header is not None:
            assert e.write_contrl(error.header, error.problems, envelope()).startswith(b"UNA")


def test_a_partners_contrl_rejecting_a_message_gives_each_error_in_words() -> None:
    text = ("UNA:+.? 'UNB+UNOC:3+FAWVW:ZZZ+BAOSTEEL:ZZZ+261128:1045+FV0009++CONTRL'"
            "UNH+1+CONTRL:D:3:UN'UCI+4711+BAOSTEEL:ZZZ+FAWVW:ZZZ+7'"
            "UCM+4711+DESADV:D:96A:UN+4'UCS+5+13'UCS+20'UCD+12+1:2'UNT+7+1'UNZ+1+FV0009'")
    [ack] = e.read_contrl(text.encode(), recipient="BAOSTEEL").documents
    assert (ack.kind, ack.number, ack.interchange_ref, ack.message_refs, ack.accepted) == (
        "CONTRL", "FV0009", "4711", ("4711",), False)
    assert ack.reasons == ("message 4711 rejected", "message 4711, segment 5: missing (13)",
                           "message 4711, segment 20, element 1.2: invalid value (12)")
    accepting = text.replace("+4'UCS+5+13'UCS+20'UCD+12+1:2'", "+7'").replace(
        "UNT+7+1", "UNT+4+1")
    [ok] = e.read_contrl(accepting.encode()).documents
    assert ok.accepted and ok.reasons == ()


def test_a_contrl_with_an_unknown_action_or_no_uci_is_refused() -> None:
    error = refused(e.read_contrl, "UNA:+.? 'UNB+UNOC:3+FAWVW:ZZZ+BAOSTEEL:ZZZ+261128:1045+"
                    "FV0010++CONTRL'UNH+1+CONTRL:2:2:UN'UCM+1+DESADV:D:96A:UN+9'UNT+3+1'"
                    "UNZ+1+FV0010'")
    assert {(p.tag, p.code) for p in error.problems} == {("UCM", e.NOT_SUPPORTED_HERE),
                                                         ("UCI", e.MISSING)}


def test_an_aperak_names_the_message_and_every_error_with_its_text() -> None:
    text = ("UNA:+.? 'UNB+UNOC:3+FAWVW:ZZZ+BAOSTEEL:ZZZ+261128:1100+FV0011++APERAK'"
            "UNH+AP1+APERAK:D:96A:UN'BGM+313+AP-1+29'DOC+380+INV-2026-000317'"
            "RFF+ACW:4712'ERC+45'FTX+AAO+++Unit price differs'UNT+7+AP1'UNZ+1+FV0011'")
    assert e.message_type(text.encode()) == "APERAK"
    [ack] = e.read_aperak(text.encode()).documents
    assert (ack.message_refs, ack.document_number, ack.accepted, ack.reasons) == (
        ("4712",), "INV-2026-000317", False, ("error 45: Unit price differs",))
    fine = text.replace("ERC+45'FTX+AAO+++Unit price differs'", "").replace("UNT+7", "UNT+5")
    assert e.read_aperak(fine.encode()).documents[0].accepted
