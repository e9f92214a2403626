"""One record of a feed: its envelope, parsed from one NDJSON line.

A record names its kind, the natural key of what it describes, the source's version and
either the data (an upsert) or ``"retire": true``::

    {"kind": "coil", "key": "C24000123", "version": 1733558400000000, "data": {...}}
    {"kind": "device", "key": "gps-041", "version": "2026-12-07T08:00:00+08:00",
     "retire": true}

The version is a number that grows with each change at the source (a row version, a
change sequence) or the change's time (RFC 3339, with its offset), which is read as
microseconds since the epoch: both compare as integers, so a plant may use either, as
long as one key keeps to one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

__all__ = ["MAX_KEY_LENGTH", "MAX_LINE_BYTES", "Record", "Rejection", "parse_line", "version_of"]

# One record, however many legs or coils it lists, is at most this long: a line longer is
# refused as it is read, before it is parsed.
MAX_LINE_BYTES = 1 << 20
MAX_KEY_LENGTH = 64
_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
# Versions are stored as bigint.
_MAX_VERSION = (1 << 63) - 1
_ENVELOPE = frozenset({"kind", "key", "version", "data", "retire"})


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    kind: str
    key: str
    version: int
    retire: bool
    data: dict[str, Any]
    # SHA-256 of the data as sent, canonical: replaying the same record is recognised.
    digest: bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was not applied: its line (1-based), and the field when one is to
    blame (a dotted path into ``data``, e.g. ``legs.0.coils.2``)."""

    line: int
    kind: str | None
    key: str | None
    field: str | None
    reason: str
    code: str = "INVALID"

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "key": self.key, "field": self.field,
                "code": self.code, "reason": self.reason}


def version_of(value: Any) -> int | None:
    """The version as an integer, or None when it is neither a non-negative integer nor
    an RFC 3339 time with its offset."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_VERSION else None
    if isinstance(value, str) and len(value) <= 40:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return None
        if at.tzinfo is None:
            return None
        delta = at - _EPOCH
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return micros if micros >= 0 else None
    return None


def parse_line(line_no: int, raw: bytes, kinds: frozenset[str]) -> Record | Rejection:
    """The record on one line, or why it cannot be one (the envelope only: the data is
    checked by its kind)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection(line_no, None, None, None, f"not JSON: {exc}", "MALFORMED")
    if not isinstance(doc, dict):
        return Rejection(line_no, None, None, None, "a record is a JSON object", "MALFORMED")
    kind, key = doc.get("kind"), doc.get("key")
    kind = kind if isinstance(kind, str) else None
    key = key if isinstance(key, str) else None
    unknown = sorted(set(doc) - _ENVELOPE)
    if unknown:
        return Rejection(line_no, kind, key, unknown[0],
                         f"unknown envelope field {unknown[0]!r}: the record's own fields "
                         "go in `data`", "MALFORMED")
    if kind is None or kind not in kinds:
        return Rejection(line_no, kind, key, "kind",
                         f"`kind` must be one of {', '.join(sorted(kinds))}", "UNKNOWN_KIND")
    if key is None or not key.strip() or len(key) > MAX_KEY_LENGTH or key != key.strip():
        return Rejection(line_no, kind, key, "key",
                         f"`key` must be a non-empty string of at most {MAX_KEY_LENGTH} "
                         "characters, without surrounding spaces")
    if "\x00" in key:
        return Rejection(line_no, kind, None, "key", "`key` must not contain NUL")
    version = version_of(doc.get("version"))
    if version is None:
        return Rejection(line_no, kind, key, "version",
                         "`version` must be a non-negative integer or an RFC 3339 time "
                         "with its offset")
    retire = doc.get("retire", False)
    if not isinstance(retire, bool):
        return Rejection(line_no, kind, key, "retire", "`retire` must be true or false")
    data = doc.get("data")
    if retire:
        if data is not None:
            return Rejection(line_no, kind, key, "data", "a retiring record carries no data")
        data = {}
    elif not isinstance(data, dict):
        return Rejection(line_no, kind, key, "data", "`data` must be an object")
    digest = hashlib.sha256(
        orjson.dumps([retire, data], option=orjson.OPT_SORT_KEYS)).digest()
    return Record(line_no, kind, key, version, retire, data, digest)
