"""EN 10204 inspection certificates: their canonical content and its SHA-256 hash.

The content is the certified document itself, as a JSON object that holds only
strings, objects and nulls: decimals are written as plain-notation strings and times
as ISO 8601 in UTC, so the document survives any JSON store unchanged (no float
rounding, no time-zone drift). The hash is taken over one canonical serialization
(sorted keys, no whitespace, UTF-8), so whoever holds a copy can check it against
the hash the mill stored.

Decimals are normalized before they are written: ``Decimal("1.50")`` and
``Decimal("1.5")`` give the same text and the same hash. A certificate states
values, not the number of digits a lab system happened to print, and two systems
that agree on every value must agree on the hash. The measured precision is kept
in the certificate table's own numeric columns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

EN_10204 = "EN 10204:2004"
CERTIFICATE_TYPES = ("2.2", "3.1", "3.2")
_DECLARATION = (
    "We hereby certify that the products described above comply with the order "
    "and with the standard named, as shown by specific inspection."
)


def decimal_text(value: Decimal) -> str:
    """``value`` in plain notation, normalized: 1.50 -> "1.5", 1E+2 -> "100", -0 -> "0"."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z; microseconds only when there are any."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time could be anyone's local time: the certificate would be ambiguous.
        raise ValueError("certificate times must carry a time zone")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def certificate_content(
    *,
    cert_no: str,
    certificate_type: str,
    heat_no: str,
    coil_no: str | None = None,
    grade: str,
    standard: str,
    chemistry: Mapping[str, Decimal],
    yield_strength_mpa: Decimal,
    tensile_strength_mpa: Decimal,
    elongation_pct: Decimal,
    coating_designation: str | None,
    coating_mass_g_m2: Decimal | None,
    issued_at: datetime,
    issued_by: str,
    manufacturer: str = "BAOSTEEL",
    limits: Mapping[str, Any] | None = None,
    limits_revision: int | None = None,
) -> dict[str, Any]:
    """The certificate as a canonical, JSON-ready dict (see the module docstring).

    ``coil_no`` is None for a certificate that covers a whole heat. Chemistry is mass
    percent per element symbol. ``limits`` is the spec's limits the values were checked
    against (``SpecLimits.document()``) with their ``limits_revision``; a certificate
    checked against none carries no ``limits`` section.
    """
    if certificate_type not in CERTIFICATE_TYPES:
        raise ValueError(f"unknown EN 10204 certificate type {certificate_type!r}")
    if (limits is None) != (limits_revision is None):
        raise ValueError("limits and their revision go together")
    coating: dict[str, Any] | None = None
    if coating_designation is not None or coating_mass_g_m2 is not None:
        coating = {
            "designation": coating_designation,
            "mass_g_m2": None if coating_mass_g_m2 is None else decimal_text(coating_mass_g_m2),
        }
    content: dict[str, Any] = {
        "document": {
            "standard": EN_10204,
            "type": certificate_type,
            "cert_no": cert_no,
            "issued_at": utc_text(issued_at),
            "issued_by": issued_by,
            "manufacturer": manufacturer,
        },
        "product": {
            "grade": grade,
            "standard": standard,
            "heat_no": heat_no,
            "coil_no": coil_no,
        },
        "chemistry_pct": {element: decimal_text(v) for element, v in chemistry.items()},
        "mechanical": {
            "yield_strength_mpa": decimal_text(yield_strength_mpa),
            "tensile_strength_mpa": decimal_text(tensile_strength_mpa),
            "elongation_pct": decimal_text(elongation_pct),
        },
        "coating": coating,
        "declaration": _DECLARATION,
    }
    if limits is not None:
        # Strings only, like every other value of the document.
        content["limits"] = {**limits, "revision": str(limits_revision)}
    return content


def canonical_bytes(content: Mapping[str, Any]) -> bytes:
    """The one serialization the hash is taken over: keys sorted, no spaces, UTF-8 as
    it is (not escaped).

    Decimals and datetimes found in ``content`` are written as the builder writes
    them, so a document read back from the database with Decimal parsing hashes the
    same. Floats are refused: their text is not unique across languages.
    """
    _reject_floats(content)
    try:
        # orjson writes exactly what the standard library's encoder writes with these
        # settings (a test compares them), several times faster: a plant's initial load
        # hashes a certificate per coil.
        return orjson.dumps(content, option=_CANONICAL, default=_canonical_default)
    except orjson.JSONEncodeError:
        # What orjson does not take (integers beyond 64 bits, mappings that are not
        # dicts): the standard library's encoder, which writes them or says why not.
        text = json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
            allow_nan=False, default=_canonical_default,
        )
        return text.encode("utf-8")


# Datetimes go through `_canonical_default` as every other value the builder writes.
_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _canonical_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def _reject_floats(value: Any) -> None:
    # Neither encoder hands floats to ``default``: look for them first.
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None:
            continue
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif isinstance(item, float):
            raise TypeError("floats have no canonical JSON form; use Decimal")
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def content_hash(content: Mapping[str, Any]) -> str:
    """SHA-256, lower-case hex, of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


def verify(content: Mapping[str, Any], expected_hash: str) -> bool:
    """True when ``content`` is exactly what ``expected_hash`` was computed from."""
    try:
        actual = content_hash(content)
    except (TypeError, ValueError):
        return False
    # Constant time: the hash may be checked on behalf of whoever presents a copy.
    return hmac.compare_digest(actual, expected_hash.strip().lower())
