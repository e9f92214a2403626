"""SSCC-18: check digits against GS1's own examples, numbers built from a prefix and a
serial, and the label's scan read back by the ingester's decoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from domain.errors import Invalid
from domain.exchange.sscc import check_digit, element_string, human_readable, make_sscc, validate
from tracking.decoders import decode
from tracking.model import Scan

AT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SCAN = "keylink/v1/devices/SCN-DOCK3-01/scan"


@pytest.mark.parametrize("sscc", [
    "376104250021234569",  # GS1 General Specifications, the check digit calculation
    "340123450000000000",  # GS1 Germany's example, as a dock scanner sends it
    "157035381410375177",  # GS1 Denmark's
    "106141411234567897",  # GS1 US's
])
def test_check_digit_of_known_gs1_examples(sscc: str) -> None:
    assert check_digit(sscc[:-1]) == int(sscc[-1])
    assert validate(sscc) == sscc


def test_built_from_extension_digit_company_prefix_and_serial() -> None:
    assert make_sscc(3, "7610425", 21234) == "376104250000212342"
    assert make_sscc(3, "6901234", 1) == "369012340000000017"
    # A longer prefix leaves fewer digits of serial, and the number stays 18 digits.
    assert make_sscc(0, "6901234567", 123456) == "069012345671234562"
    assert len(make_sscc(9, "690123", 999999999)) == 18


@pytest.mark.parametrize(("args", "field"), [
    ((10, "6901234", 1), "extensionDigit"),
    ((3, "69012", 1), "companyPrefix"),
    ((3, "69O1234", 1), "companyPrefix"),
    ((3, "6901234", 10**9), "serialReference"),
    ((3, "6901234", -1), "serialReference"),
])
def test_out_of_range_parts_are_refused(args: tuple[int, str, int], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        make_sscc(*args)
    assert caught.value.field == field


@pytest.mark.parametrize("value", ["376104250021234560", "37610425002123456", "3761042500212345X9",
                                   ""])
def test_a_wrong_check_digit_or_length_is_refused(value: str) -> None:
    with pytest.raises(Invalid):
        validate(value)


@pytest.mark.parametrize("printed", [element_string, human_readable])
def test_the_ingester_reads_back_the_sscc_printed(printed: object) -> None:
    sscc = make_sscc(3, "6901234", 42)
    code = printed(sscc)  # type: ignore[operator]
    body = json.dumps({"ts": "2026-11-25T16:00:00+08:00", "code": code, "step": "loading",
                       "site": "BAOSHAN-DOCK-3"}).encode()
    (scan,) = decode(SCAN, body, AT)
    assert isinstance(scan, Scan)
    assert scan.sscc == sscc and scan.parsed == {"00": sscc}


def test_the_element_string_is_ai_00_and_the_digits() -> None:
    assert element_string("376104250021234569") == "00376104250021234569"
    assert human_readable("376104250021234569") == "(00)376104250021234569"
