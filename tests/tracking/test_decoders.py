"""Decoders replay captured payloads (tests/tracking/payloads) and the protocol's edge
cases; every rejection reason they can give has a payload that triggers it."""

import contextlib
import functools
import json
import operator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking import topics
from tracking.decoders import MAX_PAYLOAD_BYTES, ais, decode
from tracking.model import (
    AisFragment,
    Fix,
    Reason,
    Rejection,
    Scan,
    ScanStep,
    Source,
    VoyageData,
)

PAYLOADS = Path(__file__).parent / "payloads"
AT = datetime(2026, 11, 25, 8, 0, 30, 250000, tzinfo=UTC)
POSITION = "keylink/v1/devices/TRK-0042/position"
SCAN = "keylink/v1/devices/SCN-DOCK3-01/scan"
OWNTRACKS = "owntracks/driver7/phone"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def nmea(body: str) -> bytes:
    """A sentence with a correct checksum, for edge cases no capture shows."""
    checksum = functools.reduce(operator.xor, body.encode(), 0)
    return f"!{body}*{checksum:02X}".encode()


def with_seq(line: bytes, seq: int, channel: str | None = None) -> bytes:
    """The sentence under another sequence id (and radio channel), its checksum made
    anew."""
    fields = line.decode().removeprefix("!").split("*")[0].split(",")
    fields[3] = str(seq)
    fields[4] = channel or fields[4]
    return nmea(",".join(fields))


def ais_of(name: str, device: str = "GW-EVERGREEN") -> list[object]:
    return list(decode(f"keylink/v1/devices/{device}/ais", payload(name), AT))


def rejected(topic: str, body: bytes) -> Rejection:
    with pytest.raises(Rejection) as caught:
        decode(topic, body, AT)
    return caught.value


# -- topics ---------------------------------------------------------------------------


def test_topics_name_kind_and_device() -> None:
    assert topics.parse(POSITION) == ("position", "TRK-0042")
    assert topics.parse("keylink/v1/devices/GW.1_a/ais") == ("ais", "GW.1_a")
    assert topics.parse(SCAN) == ("scan", "SCN-DOCK3-01")
    assert topics.parse(OWNTRACKS) == ("owntracks", "driver7/phone")
    assert topics.SUBSCRIPTIONS == (
        "keylink/v1/devices/+/position", "keylink/v1/devices/+/ais",
        "keylink/v1/devices/+/scan", "owntracks/+/+",
    )
    assert topics.shared("ingest", "owntracks/+/+") == "$share/ingest/owntracks/+/+"


@pytest.mark.parametrize("topic", [
    "keylink/v1/devices/TRK-0042/speed", "keylink/v2/devices/TRK-0042/position",
    "keylink/v1/devices//position", "keylink/v1/devices/+/position",
    "keylink/v1/devices/TRK 42/position", "keylink/v1/devices/" + "x" * 65 + "/position",
    "owntracks/driver7/phone/event", "owntracks/driver7", "owntracks/#/phone", "",
])
def test_topics_outside_the_protocol_are_unknown(topic: str) -> None:
    assert rejected(topic, b"{}").reason is Reason.UNKNOWN_TOPIC


# -- native ---------------------------------------------------------------------------


def test_native_sample_from_the_design() -> None:
    (fix,) = decode(POSITION, payload("native-design.json"), AT)
    assert fix == Fix(device="TRK-0042", fix_time=datetime(2026, 11, 25, 8, tzinfo=UTC),
                      latitude=31.4, longitude=121.5, speed_kmh=62.5, heading=270.0,
                      accuracy_m=8.0, source=Source.NATIVE)


def test_native_array_with_epoch_ms_offsets_and_heading_360() -> None:
    first, second = decode(POSITION, payload("native-array.json"), AT)
    assert isinstance(first, Fix) and isinstance(second, Fix)
    assert first.fix_time == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert first.speed_kmh is None and first.heading is None and first.accuracy_m is None
    assert second.fix_time == datetime(2026, 11, 25, 8, 0, 30, tzinfo=UTC)
    assert second.heading == 0.0 and second.speed_kmh == 40.0


def test_native_nan_passes_through_for_the_filters() -> None:
    (fix,) = decode(POSITION, b'{"ts": 1795593600000, "lat": NaN, "lon": Infinity}', AT)
    assert isinstance(fix, Fix) and fix.latitude != fix.latitude and fix.longitude > 1e308


@pytest.mark.parametrize("body", [
    b'{"ts": 1795593600000, "lat": 31.4',  # cut short
    b'{"ts": 1795593600000, "lat": 31.4, "lon": "121.5"}',  # string number
    b'{"ts": 1795593600000, "lat": true, "lon": 121.5}',  # booleans are not numbers
    b'{"ts": 1795593600000, "lon": 121.5}',  # no lat
    b'{"lat": 31.4, "lon": 121.5}',  # no ts
    b'{"ts": "2026-11-25T08:00:00", "lat": 31.4, "lon": 121.5}',  # no offset
    b'{"ts": "2026-11-25", "lat": 31.4, "lon": 121.5}',  # a date only
    b'{"ts": 1795593600000.0, "lat": 31.4, "lon": 121.5}',  # ms must be an integer
    b'{"ts": 10000000000000000000000, "lat": 31.4, "lon": 121.5}',  # beyond any calendar
    b'{"ts": "0001-01-01T00:00:00+01:00", "lat": 31.4, "lon": 121.5}',  # before year 1 UTC
    b'{"ts": 1795593600000, "lat": 1' + b"0" * 400 + b', "lon": 121.5}',  # float overflow
    b'{"ts": 1795593600000, "lat": 31.4, "lon": 121.5, "device": 42}',
    b'[{"ts": 1795593600000, "lat": 31.4, "lon": 121.5}, 7]',
    b'"just a string"', b"", b"[" * 50000,
    b"\xff\xfe{}",  # not UTF-8
    '{"ts": 1795593600000, "lat": 31.4, "lon": 121.5}'.encode("utf-16"),
])
def test_native_malformed(body: bytes) -> None:
    assert rejected(POSITION, body).reason is Reason.MALFORMED


def test_native_payload_naming_another_device_is_a_mismatch() -> None:
    body = b'{"ts": 1795593600000, "lat": 31.4, "lon": 121.5, "device": "TRK-0043"}'
    assert rejected(POSITION, body).reason is Reason.TOPIC_MISMATCH


def test_oversized_payloads_are_refused_before_parsing() -> None:
    padding = b" " * MAX_PAYLOAD_BYTES
    assert rejected(POSITION, b"{}" + padding).reason is Reason.OVERSIZED
    assert decode(POSITION, b"[]" + padding[2:], AT) == []


# -- OwnTracks ------------------------------------------------------------------------


def test_owntracks_location_sample() -> None:
    (fix,) = decode(OWNTRACKS, payload("owntracks-location.json"), AT)
    assert fix == Fix(device="driver7/phone", fix_time=datetime(2026, 11, 25, 8, tzinfo=UTC),
                      latitude=31.2304, longitude=121.4737, speed_kmh=42.0, heading=270.0,
                      accuracy_m=9.0, source=Source.OWNTRACKS)


def test_owntracks_zero_fields_left_out() -> None:
    (fix,) = decode(OWNTRACKS, b'{"_type":"location","lat":31.2,"lon":121.4,"tst":1795593600}',
                    AT)
    assert isinstance(fix, Fix)
    assert (fix.speed_kmh, fix.heading, fix.accuracy_m) == (0.0, None, None)


@pytest.mark.parametrize("name", ["owntracks-transition.json", "owntracks-lwt.json"])
def test_owntracks_other_types_carry_nothing(name: str) -> None:
    assert decode(OWNTRACKS, payload(name), AT) == []


@pytest.mark.parametrize("body", [
    b'{"lat": 31.2, "lon": 121.4, "tst": 1795593600}', b'{"_type": 5}',
    b'{"_type":"location","lat":31.2,"lon":121.4,"tst":"1795593600"}',
    b'{"_type":"location","lat":31.2,"lon":121.4,"tst":99999999999999999}',
    b'{"_type":"location","lon":121.4,"tst":1795593600}',
    b'[{"_type":"location","lat":31.2,"lon":121.4,"tst":1795593600}]', b"{",
])
def test_owntracks_malformed(body: bytes) -> None:
    assert rejected(OWNTRACKS, body).reason is Reason.MALFORMED


# -- AIS ------------------------------------------------------------------------------


def test_ais_type5_two_sentences_golden_gate() -> None:
    (voyage,) = ais_of("ais-type5-golden-gate.nmea")
    assert voyage == VoyageData(device="GW-EVERGREEN", mmsi=368060190, imo=None,
                                name="P/V_GOLDEN_GATE", destination=None, eta=None)


def test_ais_type5_eta_resolves_to_the_next_may_15() -> None:
    (voyage,) = ais_of("ais-type5-ever-diadem.nmea")
    assert voyage == VoyageData(device="GW-EVERGREEN", mmsi=351759000, imo=9134270,
                                name="EVER DIADEM", destination="NEW YORK",
                                eta=datetime(2027, 5, 15, 14, 0, tzinfo=UTC))


@pytest.mark.parametrize(("name", "mmsi", "lat", "lon", "knots", "course"), [
    ("ais-type1-367380120.nmea", 367380120, 37.8069, -122.4043, 0.1, 245.2),
    ("ais-type1-367436230.nmea", 367436230, 37.8026, -122.3708, 26.9, 312.2),
    ("ais-type19-367059850.nmea", 367059850, 29.5437, -88.8104, 8.7, 335.9),
])
def test_ais_position_reports(name: str, mmsi: int, lat: float, lon: float, knots: float,
                              course: float) -> None:
    (fix,) = ais_of(name)
    assert isinstance(fix, Fix) and fix.source is Source.AIS and fix.mmsi == mmsi
    assert (round(fix.latitude, 4), round(fix.longitude, 4)) == (lat, lon)
    assert fix.speed_kmh == pytest.approx(knots * 1.852) and fix.heading == course
    assert fix.accuracy_m == 100.0 and fix.device == "GW-EVERGREEN"


def test_ais_fix_time_takes_the_reports_second() -> None:
    (fix,) = ais_of("ais-type1-367380120.nmea")  # second 59, received at 08:00:30.25
    assert isinstance(fix, Fix) and fix.fix_time == datetime(2026, 11, 25, 7, 59, 59, tzinfo=UTC)
    (fix,) = ais_of("ais-type18-367430530.nmea")  # second 55
    assert isinstance(fix, Fix) and fix.fix_time == datetime(2026, 11, 25, 7, 59, 55, tzinfo=UTC)


def test_ais_class_b_standing_still() -> None:
    (fix,) = ais_of("ais-type18-367430530.nmea")
    assert isinstance(fix, Fix) and fix.mmsi == 367430530 and fix.speed_kmh == 0.0
    assert fix.heading == 0.0  # COG 0.0 is available; true heading 511 is not needed


def test_ais_position_not_available() -> None:
    with pytest.raises(Rejection) as caught:
        ais_of("ais-type18-not-available.nmea")
    assert caught.value.reason is Reason.INVALID_COORDINATES


def test_ais_other_types_carry_nothing() -> None:
    assert ais_of("ais-type4-base-station.nmea") == []


def test_ais_halves_in_separate_messages_come_out_as_fragments() -> None:
    first, second = payload("ais-type5-golden-gate.nmea").splitlines()
    (head,) = ais.decode("GW-1", first, AT)
    (tail,) = ais.decode("GW-1", second, AT)
    assert head == AisFragment("GW-1", "A", 4, 2, 1, first.decode())
    assert isinstance(tail, AisFragment) and tail.number == 2
    (voyage,) = ais.decode_group("GW-1", [head.sentence, tail.sentence], AT)
    assert isinstance(voyage, VoyageData) and voyage.mmsi == 368060190


def test_ais_fragments_in_reverse_order_within_one_message() -> None:
    first, second = payload("ais-type5-golden-gate.nmea").splitlines()
    (voyage,) = ais.decode("GW-1", second + b"\r\n" + first, AT)
    assert isinstance(voyage, VoyageData) and voyage.name == "P/V_GOLDEN_GATE"


def test_a_repeated_sentence_number_starts_another_message() -> None:
    # Two first halves under one sequence id: the first message is left unfinished.
    first = payload("ais-type5-golden-gate.nmea").splitlines()[0]
    other, second = payload("ais-type5-ever-diadem.nmea").splitlines()
    readings = ais.decode("GW-1", b"\n".join([first, with_seq(other, 4), with_seq(second, 4)]),
                          AT)
    assert readings[0] == AisFragment("GW-1", "A", 4, 2, 1, first.decode())
    assert isinstance(readings[1], VoyageData) and readings[1].mmsi == 351759000
    assert len(readings) == 2


@pytest.mark.parametrize("body", [
    b"!AIVDM,1,1,,B,15NG6V0P01G?cFhE`R2IU?wn28R>,0*06",  # bad checksum
    b"$GPGGA,080030.00,3124.0000,N,12130.0000,E,1,08,0.9,5.0,M,,M,,*5C",
    b"!AIVDM,1,1,,A,B5NJ;PP005l4ot5Isbl03wsUkP06,0*76\nhello",  # one bad line of two
    nmea("AIVDM,1,1,,A,15NG6V0P01G?cF,0"),  # a type 1 cut short
    nmea("AIVDM,2,1,3,A,55O0W7`00001L@gC,0") + b"\n" + nmea("AIVDM,2,2,3,A,0,0"),  # type 5
    nmea("AIVDM,1,1,,A,,0"), nmea("AIVDM,1,3,,A,15NG,0"),
    "!AIVDM,1,1,,A,15NGé,0*00".encode(), b"\n\r\n",
])
def test_ais_malformed(body: bytes) -> None:
    assert rejected("keylink/v1/devices/GW-1/ais", body).reason is Reason.MALFORMED


def test_ais_eta_not_available_impossible_or_overdue() -> None:
    assert ais.resolve_eta(AT, 0, 15, 14, 0) is None
    assert ais.resolve_eta(AT, 5, 15, 24, 0) is None
    assert ais.resolve_eta(AT, 2, 30, 12, 0) is None
    assert ais.resolve_eta(AT, 2, 29, 12, 0) == datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert ais.resolve_eta(AT, 11, 24, 12, 0) == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert ais.resolve_eta(AT, 1, 2, 3, 4) == datetime(2027, 1, 2, 3, 4, tzinfo=UTC)


# -- scans ----------------------------------------------------------------------------


def test_scan_gs1_sscc() -> None:
    (scan,) = decode(SCAN, payload("scan-gs1-sscc.json"), AT)
    assert scan == Scan(device="SCN-DOCK3-01", scanned_at=datetime(2026, 11, 25, 8, tzinfo=UTC),
                        code="00340123450000000000", coil_number=None,
                        sscc="340123450000000000", step=ScanStep.LOADING,
                        site_code="BAOSHAN-DOCK-3", parsed={"00": "340123450000000000"})


@pytest.mark.parametrize("separator", ["\x1d", "<GS>", "\\u001d"])
def test_scan_gs1_serial_and_batch_whatever_the_separator(separator: str) -> None:
    body = json.loads(payload("scan-gs1-serial-batch.json"))
    body["code"] = body["code"].replace("\x1d", separator)
    (scan,) = decode(SCAN, json.dumps(body).encode(), AT)
    assert isinstance(scan, Scan) and scan.code == "0104012345678901211C8842-07\x1d10H5527"
    assert scan.coil_number == "1C8842-07" and scan.sscc is None
    assert scan.parsed == {"01": "04012345678901", "21": "1C8842-07", "10": "H5527"}


def test_scan_batch_only_when_no_serial() -> None:
    body = b'{"ts": 1795593600000, "code": "0104012345678901<GS>10H5527", "step": "loading"}'
    (scan,) = decode(SCAN, body, AT)
    assert isinstance(scan, Scan) and scan.coil_number == "H5527"


def test_scan_plain_coil_number() -> None:
    (scan,) = decode(SCAN, payload("scan-coil.json"), AT)
    assert scan == Scan(device="SCN-DOCK3-01", scanned_at=datetime(2026, 11, 25, 8, tzinfo=UTC),
                        code="BX25C0012345", coil_number="BX25C0012345", sscc=None,
                        step=ScanStep.RECEIVING, site_code="FAW-VW-CC-WH1", parsed={})


def test_scan_coil_number_starting_like_a_batch_stays_a_coil_number() -> None:
    body = b'{"ts": 1795593600000, "code": "10C2500123", "step": "loading"}'
    (scan,) = decode(SCAN, body, AT)
    assert isinstance(scan, Scan) and scan.coil_number == "10C2500123" and scan.parsed == {}


def test_scan_unknown_step() -> None:
    body = b'{"ts": 1795593600000, "code": "BX25C0012345", "step": "weighing"}'
    assert rejected(SCAN, body).reason is Reason.UNKNOWN_STEP


@pytest.mark.parametrize("code", [
    "BX-25", "00340123450000000001",  # SSCC check digit wrong
    "0104012345678902211C8842-07",  # GTIN check digit wrong
    "BX25<GS>C0012345", "", "x" * 300, "BX25\u0000C001", "\ud800BX25C0012345",
])
def test_scan_codes_that_name_nothing(code: str) -> None:
    body = json.dumps({"ts": 1795593600000, "code": code, "step": "loading"}).encode()
    assert rejected(SCAN, body).reason is Reason.MALFORMED


@pytest.mark.parametrize("body", [
    b'{"ts": 1795593600000, "step": "loading"}', b'{"ts": 1, "code": 12345678, "step": "loading"}',
    b'{"code": "BX25C0012345", "step": "loading"}', b'{"ts": 1, "code": "BX25C0012345"}',
    b'{"ts": 1, "code": "BX25C0012345", "step": 1}',
    b'{"ts": 1, "code": "BX25C0012345", "step": "loading", "site": ""}',
])
def test_scan_malformed(body: bytes) -> None:
    assert rejected(SCAN, body).reason is Reason.MALFORMED


def test_scan_naming_another_device_is_a_mismatch() -> None:
    body = b'{"ts": 1, "code": "BX25C0012345", "step": "loading", "device": "SCN-OTHER"}'
    assert rejected(SCAN, body).reason is Reason.TOPIC_MISMATCH


# -- anything at all ------------------------------------------------------------------

TOPICS = [POSITION, SCAN, OWNTRACKS, "keylink/v1/devices/GW-FUZZ/ais"]
FIELDS = ["ts", "lat", "lon", "speed_kmh", "heading", "accuracy_m", "device", "_type", "tst",
          "acc", "vel", "cog", "code", "step", "site"]
_scalar = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
           | st.sampled_from(["location", "loading", "2026-11-25T08:00:00Z", "TRK-0042"]))
_json = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), inner),
    max_leaves=12,
)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=8))])
_time = st.integers() | st.datetimes(timezones=_zones).map(datetime.isoformat) | _scalar
_number = st.floats() | st.integers() | _scalar
# Objects shaped like the protocol's, so that the fuzzing gets past the first missing field.
_shaped = st.fixed_dictionaries(
    {"ts": _time, "lat": _number, "lon": _number, "tst": _time, "_type": st.just("location"),
     "code": st.text(max_size=40) | st.from_regex(r"\A[0-9]{2,30}(<GS>[0-9A-Z]{1,20})?\Z"),
     "step": st.sampled_from([*ScanStep, "weighing"])},
    optional={k: _number for k in ("speed_kmh", "heading", "accuracy_m", "acc", "vel", "cog")}
    | {"device": st.sampled_from(["TRK-0042", "SCN-DOCK3-01", "other"]), "site": _scalar},
)
_sentence = st.builds(
    lambda frags, num, seq, kind, body, fill: nmea(
        f"AIVDM,{frags},{num},{seq},A,{kind}{body},{fill}"),
    st.sampled_from([1, 1, 2, 0, 10]), st.sampled_from([1, 1, 2, 0, 3]),
    st.sampled_from(["", "3"]), st.sampled_from(["1", "3", "5", "B", "C", "4", ""]),
    st.text(alphabet="0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw",
            min_size=20, max_size=80),
    st.integers(0, 6),
)
_payloads = (st.binary(max_size=300)
             | (_json | _shaped | st.lists(_shaped, max_size=3)).map(
                 lambda doc: json.dumps(doc).encode())
             | st.lists(_sentence, min_size=1, max_size=3).map(b"\n".join))


@settings(max_examples=400, deadline=None)
@given(topic=st.sampled_from(TOPICS), body=_payloads)
def test_decode_raises_nothing_but_rejection(topic: str, body: bytes) -> None:
    with contextlib.suppress(Rejection):
        decode(topic, body, AT)
