"""Native fixes on ``keylink/v1/devices/{device}/position``, and the JSON reading helpers
the other JSON decoders share.

A payload is one object or an array of them::

    {"ts": "2026-11-25T08:00:00Z", "lat": 31.4, "lon": 121.5,
     "speed_kmh": 62.5, "heading": 270, "accuracy_m": 8, "device": "TRK-0042"}

``ts`` is ISO 8601 with an offset or integer epoch milliseconds; a local time without an
offset is rejected, because guessing its zone would place the fix hours away. Fields
beyond these are ignored, so devices may send more. A message is accepted or rejected
whole: one bad element rejects the array, as the broker delivered it as one unit.

Coordinates are not range-checked here (the filters do that, with their own reason);
JSON's NaN and Infinity tokens pass through as floats for the filters to reject.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from tracking.model import Fix, Reason, Rejection, Source

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Longer than any ISO 8601 timestamp; bounds what fromisoformat is asked to read.
_MAX_TS_CHARS: Final = 40

JsonObject = dict[str, Any]


def malformed(detail: str) -> Rejection:
    return Rejection(Reason.MALFORMED, detail[:300])


def load_json(payload: bytes) -> Any:
    """The JSON document of a payload: strict UTF-8 (json.loads would otherwise guess
    UTF-16/32 from the bytes), a leading byte-order mark tolerated."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise malformed(f"not UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except RecursionError:
        # Deeply nested arrays exhaust the parser's stack well within the size limit.
        raise malformed("JSON nested too deeply") from None
    except ValueError as exc:
        raise malformed(f"not JSON: {exc}") from None


def objects(document: Any, *, allow_array: bool = True) -> list[JsonObject]:
    """One object, or (when allowed) an array of objects, as a list."""
    if isinstance(document, dict):
        return [document]
    if allow_array and isinstance(document, list):
        for index, item in enumerate(document):
            if not isinstance(item, dict):
                raise malformed(f"item {index} is not an object")
        return document
    raise malformed("expected a JSON object" + (" or an array of them" if allow_array else ""))


def number(obj: JsonObject, key: str) -> float | None:
    """An optional JSON number as float."""
    value = obj.get(key)
    return None if value is None else _as_float(value, key)


def required_number(obj: JsonObject, key: str) -> float:
    value = obj.get(key)
    if value is None:
        raise malformed(f"{key} is missing")
    return _as_float(value, key)


def _as_float(value: Any, key: str) -> float:
    # Booleans are ints to Python, but `"lat": true` is no coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise malformed(f"{key} is not a number")
    try:
        return float(value)
    except OverflowError:
        raise malformed(f"{key} is out of range") from None


def integer(obj: JsonObject, key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(f"{key} is missing or not an integer")
    return value


def heading(obj: JsonObject, key: str) -> float | None:
    """A course in degrees; 360 is north as much as 0 is, and storage wants [0, 360)."""
    value = number(obj, key)
    return 0.0 if value == 360.0 else value


def text(obj: JsonObject, key: str, *, max_chars: int) -> str | None:
    """An optional string that storage can hold: no NUL, no lone surrogate (JSON's
    ``\\ud800`` escapes decode to one and would fail only at insert time)."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise malformed(f"{key} is not a string")
    if not value or len(value) > max_chars or "\x00" in value:
        raise malformed(f"{key} is empty, too long or holds NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise malformed(f"{key} is not valid Unicode") from None
    return value


def timestamp(value: Any, key: str = "ts") -> datetime:
    """ISO 8601 with an offset, or integer epoch milliseconds, as UTC."""
    if isinstance(value, bool):
        raise malformed(f"{key} is not a timestamp")
    try:
        if isinstance(value, int):
            return _EPOCH + timedelta(milliseconds=value)
        if isinstance(value, str) and len(value) <= _MAX_TS_CHARS:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise malformed(f"{key} has no UTC offset: {value!r}")
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise malformed(f"{key} is not a valid time: {value!r}") from None
    raise malformed(f"{key} must be ISO 8601 with an offset or epoch milliseconds")


def check_device(obj: JsonObject, device: str) -> None:
    """A payload may name its device; it must then be the topic's."""
    named = obj.get("device")
    if named is None:
        return
    if not isinstance(named, str):
        raise malformed("device is not a string")
    if named != device:
        raise Rejection(Reason.TOPIC_MISMATCH, f"payload names {named[:64]!r}, topic {device!r}")


def decode(device: str, payload: bytes) -> list[Fix]:
    return [_fix(device, obj) for obj in objects(load_json(payload))]


def _fix(device: str, obj: JsonObject) -> Fix:
    check_device(obj, device)
    if "ts" not in obj:
        raise malformed("ts is missing")
    return Fix(
        device=device,
        fix_time=timestamp(obj["ts"]),
        latitude=required_number(obj, "lat"),
        longitude=required_number(obj, "lon"),
        speed_kmh=number(obj, "speed_kmh"),
        heading=heading(obj, "heading"),
        accuracy_m=number(obj, "accuracy_m"),
        source=Source.NATIVE,
    )
