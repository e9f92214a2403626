"""Keylink's JSON of each document, round trip, strict on the way in; and the EN 10168
JSON of a certificate's real content."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.errors import Invalid
from domain.exchange import edifact as e
from domain.exchange import messages as m
from domain.exchange.jsonfmt import (
    certificate_from_json,
    certificate_to_json,
    from_json,
    to_json,
)
from domain.quality.certificates import certificate_content
from domain.quality.limits import Range, SpecLimits
from tests.exchange.documents import credit_note, dispatch_advice, invoice, order_response

DATA = Path(__file__).resolve().parents[1] / "data" / "exchange"
CST = timezone(timedelta(hours=8))


def _documents() -> list[Any]:
    delfor = e.read_delfor((DATA / "delfor-fawvw.edi").read_bytes()).documents[0]
    recadv = e.read_recadv((DATA / "recadv-fawvw.edi").read_bytes()).documents[0]
    return [order_response(), dispatch_advice(), invoice(), credit_note(), delfor, recadv]


@pytest.mark.parametrize("document", _documents(), ids=lambda d: type(d).__name__)
def test_every_document_round_trips(document: Any) -> None:
    data = to_json(document)
    assert from_json(data, type(document)) == document
    assert to_json(from_json(data, type(document))) == data


def test_decimals_are_strings_with_their_digits_and_keys_camel_case() -> None:
    obj = json.loads(to_json(dispatch_advice()))
    assert obj["message"] == "DESADV"
    assert obj["departedAt"] == "2026-11-25T09:30:00+08:00"
    assert obj["vehicle"] == {"kind": "plate", "id": "A-D12345"}
    assert obj["packages"][1] == {
        "sscc": "369012340000000024", "coilNo": "BX25C0012346", "netWeightKg": "24960.5",
        "heatNo": "25H11872", "specCode": "DC04-0.8x1250",
        "customerPartNumber": "5G0-809-605", "contractNumber": "BS-2026-0117", "lineNo": 1}
    delfor = json.loads(to_json(_documents()[4]))
    assert delfor["lines"][0]["entries"][0]["quantity"] == {"value": "120.000", "unit": "TNE"}
    assert json.loads(to_json(invoice()))["totalAmount"] == "437125.94"


@pytest.mark.parametrize(("change", "field"), [
    (lambda o: o["packages"][0].update(netWeightKg=25480.0), "packages[0].netWeightKg"),
    (lambda o: o.update(departedAt="2026-11-25T09:30:00"), "departedAt"),
    (lambda o: o.update(colour="red"), "colour"),
    (lambda o: o.pop("buyerCode"), "buyerCode"),
    (lambda o: o.update(mode="air"), "mode"),
    (lambda o: o["packages"][2].update(sscc="369012340000000032"), "packages[2].sscc"),
    (lambda o: o.update(message="INVOIC"), "message"),
    (lambda o: o["packages"][0].update(lineNo=True), "packages[0].lineNo"),
])
def test_a_bad_document_is_refused_naming_the_field(change: Any, field: str) -> None:
    obj = json.loads(to_json(dispatch_advice()))
    change(obj)
    with pytest.raises(Invalid) as caught:
        from_json(json.dumps(obj).encode(), m.DispatchAdvice)
    assert caught.value.field == field


def test_not_json_or_too_large_is_refused() -> None:
    with pytest.raises(Invalid):
        from_json(b"{", m.Invoice)
    with pytest.raises(Invalid):
        from_json(b"[]", m.Invoice)


# -- EN 10168 ---------------------------------------------------------------------------------


LIMITS = SpecLimits(
    chemistry={"C": Range(max=Decimal("0.02")), "Mn": Range(max=Decimal("0.25")),
               "Ti": Range(max=Decimal("0.12")), "Nb": Range(max=Decimal("0.09"))},
    yield_strength_mpa=Range(min=Decimal("120"), max=Decimal("180")),
    tensile_strength_mpa=Range(min=Decimal("260"), max=Decimal("350")),
    elongation_min_pct=Decimal("39"),
    coating_mass_min_g_m2=Decimal("100"),
)


def _content() -> dict[str, Any]:
    return certificate_content(
        cert_no="QC-BX26C0012345", certificate_type="3.1", heat_no="26H12345",
        coil_no="BX26C0012345", grade="DX54D+Z", standard="EN 10346",
        chemistry={"Ti": Decimal("0.065"), "Mn": Decimal("0.15"), "C": Decimal("0.0020"),
                   "Nb": Decimal("0.004"), "Zn": Decimal("0.001")},
        yield_strength_mpa=Decimal("165"), tensile_strength_mpa=Decimal("301.0"),
        elongation_pct=Decimal("41.5"), coating_designation="Z100",
        coating_mass_g_m2=Decimal("112"), issued_at=datetime(2026, 3, 5, 17, 30, tzinfo=CST),
        issued_by="qa.wang", limits=LIMITS.document(), limits_revision=3)


def test_the_en_10168_document_of_a_certificate() -> None:
    doc = m.certificate_document(_content(), purchaser="FAW-VW", order_number="4500123456",
                                 contract_number="BS-2026-0117", product="hot-dip galvanized "
                                 "cold rolled coil")
    obj = json.loads(certificate_to_json(doc))
    assert obj["standard"] == "EN 10168:2004"
    assert obj["A"] == {"A01": "BAOSTEEL", "A02": "EN 10204:2004 3.1",
                        "A03": "QC-BX26C0012345", "A06": "FAW-VW", "A07": "4500123456",
                        "A08": "BS-2026-0117"}
    assert obj["B"] == {"B01": "hot-dip galvanized cold rolled coil",
                        "B02": {"steelGrade": "DX54D+Z", "standard": "EN 10346"},
                        "B07": {"heatNumber": "26H12345", "coilNumber": "BX26C0012345"}}
    c = obj["C"]
    assert c["C11"] == {"property": "yield strength", "value": "165", "unit": "MPa",
                        "minimum": "120", "maximum": "180"}
    assert c["C12"] == {"property": "tensile strength", "value": "301", "unit": "MPa",
                        "minimum": "260", "maximum": "350"}
    assert c["C13"] == {"property": "elongation after fracture", "value": "41.5", "unit": "%",
                        "minimum": "39", "maximum": None}
    # Carbon first, manganese, then the micro-alloys in the usual order, others after.
    assert [(k, c[k]["symbol"], c[k]["value"], c[k]["maximum"])
            for k in sorted(c) if k >= "C71"] == [
        ("C71", "C", "0.002", "0.02"), ("C72", "Mn", "0.15", "0.25"),
        ("C73", "Nb", "0.004", "0.09"), ("C74", "Ti", "0.065", "0.12"),
        ("C75", "Zn", "0.001", None)]
    assert obj["D"] == {"D01": "Z100", "D02": {"property": "coating mass", "value": "112",
                                               "unit": "g/m2", "minimum": "100",
                                               "maximum": None}}
    assert obj["Z"] == {"Z01": _content()["declaration"], "Z02": "2026-03-05T09:30:00+00:00",
                        "Z03": "qa.wang"}
    assert obj["limitsRevision"] == "3"
    assert certificate_from_json(certificate_to_json(doc)) == doc


def test_a_heat_certificate_checked_against_no_limits() -> None:
    content = certificate_content(
        cert_no="QC-26H12345", certificate_type="2.2", heat_no="26H12345", grade="SPCC",
        standard="JIS G 3141", chemistry={"C": Decimal("0.05")},
        yield_strength_mpa=Decimal("210"), tensile_strength_mpa=Decimal("330"),
        elongation_pct=Decimal("38"), coating_designation=None, coating_mass_g_m2=None,
        issued_at=datetime(2026, 3, 5, 9, 0, tzinfo=CST), issued_by="qa.li")
    doc = m.certificate_document(content)
    obj = json.loads(certificate_to_json(doc))
    assert obj["B"]["B07"] == {"heatNumber": "26H12345", "coilNumber": None}
    assert obj["C"]["C11"]["minimum"] is None and obj["D"] == {"D01": None, "D02": None}
    assert obj["limitsRevision"] is None and obj["A"]["A06"] is None
    assert certificate_from_json(certificate_to_json(doc)) == doc


def test_not_a_certificate_is_refused() -> None:
    with pytest.raises(Invalid):
        m.certificate_document({"document": {}})
    with pytest.raises(Invalid):
        certificate_from_json(b'{"standard": "EN 10168:2004", "A": {}}')
