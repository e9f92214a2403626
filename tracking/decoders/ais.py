"""AIS sentences from a ship's gateway on ``keylink/v1/devices/{device}/ais``.

A payload is one or more NMEA 0183 ``!AIVDM``/``!AIVDO`` lines (``\\n`` or ``\\r\\n``).
Position reports (types 1, 2, 3 of class A, 18 and 19 of class B) become fixes of the
vessel they name (``Fix.mmsi``); static and voyage data (type 5) becomes VoyageData;
every other type is valid and carries nothing to store. Any line that is not an AIS
sentence, fails its checksum or is cut short rejects the whole message.

A multi-sentence message (type 5 spans two) is assembled from its sentences, keyed by
(radio channel, sequence id). Sentences of a group that are all in one MQTT message are
assembled here; a group that message leaves incomplete comes out as ``AisFragment``
readings, which the pipeline keeps in the database until the rest arrives, whichever
ingester of the shared group it reaches (``tracking.fragments``).

Position reports carry no date, only the UTC second of the fix: the fix time is the
latest time at or before ``received_at`` with that second (``received_at`` itself when
the second is not available). Type 5 gives an ETA without a year: it is resolved to the
next such moment after ``received_at``, except that an ETA up to ``OVERDUE_ETA`` in the
past stays in the past, since an overdue ship is not due a year later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pyais.messages import AISSentence, NMEASentenceFactory

from tracking.model import AisFragment, Fix, Reading, Reason, Rejection, Source, VoyageData

OVERDUE_ETA: Final = timedelta(days=7)

KNOT_KMH: Final = 1.852
POSITION_TYPES: Final = frozenset({1, 2, 3, 18, 19})
STATIC_VOYAGE_TYPE: Final = 5
# Position accuracy flag: 1 is a DGNSS fix better than 10 m, 0 an autonomous one.
HIGH_ACCURACY_M: Final = 10.0
LOW_ACCURACY_M: Final = 100.0


def decode(device: str, payload: bytes, received_at: datetime) -> list[Reading]:
    # Every line is checked before anything is read from it, so that a message with a
    # bad line is rejected whole and leaves no fragment behind.
    sentences = [_sentence(line) for line in _lines(payload)]
    readings: list[Reading] = []
    groups: dict[tuple[str, int], dict[int, AISSentence]] = {}
    for part in sentences:
        if part.frag_cnt == 1:
            readings.extend(_reading(device, part, received_at))
            continue
        # A repeated sentence number starts another message under the same key (sequence
        # ids cycle through 0-9): the unfinished one is passed on as fragments.
        key = (part.channel or "", -1 if part.seq_id is None else int(part.seq_id))
        group = groups.setdefault(key, {})
        if part.frag_num in group or any(p.frag_cnt != part.frag_cnt for p in group.values()):
            readings.extend(_fragments(device, key, group))
            group = groups[key] = {}
        group[part.frag_num] = part
        if len(group) == part.frag_cnt:
            readings.extend(_reading(device, _assemble(group), received_at))
            del groups[key]
    for key, group in groups.items():
        readings.extend(_fragments(device, key, group))
    return readings


def decode_group(device: str, sentences: Sequence[str], received_at: datetime) -> list[Reading]:
    """The readings of a group whose sentences came in several MQTT messages, in
    sentence order; ``received_at`` is when its last sentence arrived."""
    parts = [_sentence(line.encode("ascii")) for line in sentences]
    return _reading(device, _assemble({p.frag_num: p for p in parts}), received_at)


def _assemble(group: dict[int, AISSentence]) -> AISSentence:
    return AISSentence.assemble_from_iterable([group[n] for n in sorted(group)])


def _fragments(device: str, key: tuple[str, int], group: dict[int, AISSentence]
               ) -> list[Reading]:
    channel, seq_id = key
    return [AisFragment(device, channel, seq_id, part.frag_cnt, number,
                        part.raw.decode("ascii").strip())
            for number, part in sorted(group.items())]


def _lines(payload: bytes) -> list[bytes]:
    if not payload.isascii():
        raise Rejection(Reason.MALFORMED, "AIS payload is not ASCII")
    lines = [line.strip() for line in payload.split(b"\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise Rejection(Reason.MALFORMED, "no NMEA sentence")
    return lines


def _sentence(line: bytes) -> AISSentence:
    try:
        sentence = NMEASentenceFactory.produce(line)
    except Exception as exc:
        # pyais signals a bad line with several exception types of its own and a few
        # of Python's; to us each means the same: not a sentence.
        raise Rejection(Reason.MALFORMED, f"not an AIS sentence: {exc}"[:300]) from None
    if not isinstance(sentence, AISSentence):
        raise Rejection(Reason.MALFORMED, f"not an AIS sentence: {line[:80]!r}")
    if not sentence.is_valid:
        raise Rejection(Reason.MALFORMED, f"bad checksum: {line[:100]!r}")
    if not sentence.payload:
        raise Rejection(Reason.MALFORMED, f"empty AIS payload: {line[:100]!r}")
    return sentence


def _reading(device: str, sentence: AISSentence, received_at: datetime) -> list[Reading]:
    kind = sentence.ais_id
    if kind not in POSITION_TYPES and kind != STATIC_VOYAGE_TYPE:
        return []
    try:
        message = sentence.decode()
    except Exception as exc:
        raise Rejection(Reason.MALFORMED, f"undecodable type {kind}: {exc}"[:300]) from None
    if kind == STATIC_VOYAGE_TYPE:
        return [_voyage(device, message, received_at)]
    return [_fix(device, message, received_at)]


def _fields(message: Any, *names: str) -> list[Any]:
    # pyais fills the fields a cut-short payload does not reach with None.
    values = [getattr(message, name, None) for name in names]
    if any(value is None for value in values):
        raise Rejection(Reason.MALFORMED, f"type {message.msg_type} report is cut short")
    return values


def _fix(device: str, message: Any, received_at: datetime) -> Fix:
    mmsi, lat, lon, sog, cog, true_heading, second, accurate = _fields(
        message, "mmsi", "lat", "lon", "speed", "course", "heading", "second", "accuracy"
    )
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        # 91 / 181 is how a transponder without a position fix says so.
        raise Rejection(Reason.INVALID_COORDINATES, f"MMSI {mmsi}: lat {lat}, lon {lon}")
    heading = None if cog >= 360.0 else float(cog)  # 360 = not available
    if heading is None and true_heading < 360:  # 511 = not available
        heading = float(true_heading)
    return Fix(
        device=device,
        fix_time=_report_time(received_at, second),
        latitude=float(lat),
        longitude=float(lon),
        speed_kmh=None if round(sog * 10) >= 1023 else sog * KNOT_KMH,  # 102.3 = n/a
        heading=heading,
        accuracy_m=HIGH_ACCURACY_M if accurate else LOW_ACCURACY_M,
        source=Source.AIS,
        mmsi=int(mmsi),
    )


def _voyage(device: str, message: Any, received_at: datetime) -> VoyageData:
    mmsi, imo, name, destination, month, day, hour, minute = _fields(
        message, "mmsi", "imo", "shipname", "destination", "month", "day", "hour", "minute"
    )
    return VoyageData(
        device=device,
        mmsi=int(mmsi),
        # 0 is "not available"; anything outside seven digits is no IMO number either.
        imo=imo if 1_000_000 <= imo <= 9_999_999 else None,
        name=_text(name),
        destination=_text(destination),
        eta=resolve_eta(received_at, month, day, hour, minute),
    )


def _text(value: str) -> str | None:
    # AIS pads six-bit text with '@' and spaces.
    cleaned = value.strip("@ ")
    return cleaned or None


def _report_time(received_at: datetime, second: int) -> datetime:
    if not 0 <= second <= 59:  # 60 = not available, 61-63 = positioning system states
        return received_at
    at = received_at.replace(second=second, microsecond=0)
    return at if at <= received_at else at - timedelta(minutes=1)


def resolve_eta(
    received_at: datetime, month: int, day: int, hour: int, minute: int
) -> datetime | None:
    """The moment an AIS ETA (month, day, hour, minute, UTC) names, or None when any part
    is "not available" (0, 0, 24, 60) or the date does not exist."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and 0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    earliest = received_at - OVERDUE_ETA
    # Eight years ahead reaches the next 29 February whatever the year.
    for year in range(earliest.year, earliest.year + 9):
        try:
            candidate = datetime(year, month, day, hour, minute, tzinfo=UTC)
        except ValueError:
            continue
        if candidate >= earliest:
            return candidate
    return None
