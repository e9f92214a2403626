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
    """The one serialization the hash is taken over.

    Decimals and datetimes found in ``content`` are written as the builder writes
    them, so a document read back from the database with Decimal parsing hashes the
    same. Floats are refused: their text is not unique across languages.
    """
    _reject_floats(content)
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=False, default=_canonical_default,
    )
    return text.encode("utf-8")


def _canonical_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def _reject_floats(value: Any) -> None:
    # json.dumps writes floats itself (never through ``default``), so look for them first.
    if isinstance(value, float):
        raise TypeError("floats have no canonical JSON form; use Decimal")
    if isinstance(value, Mapping):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_floats(item)


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
