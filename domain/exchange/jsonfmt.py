"""Keylink's own JSON of each document: what a partner without EDIFACT receives, and
what Keylink reads back from one.

Keys are camelCase (the API's spelling); decimals are strings in plain notation with the
digits the document holds ("25.480" stays "25.480"), since a JSON number passes through a
float in most clients; times are ISO 8601 with their UTC offset, days ISO dates. Every
document carries its message name (``"message": "DESADV"``), so a file read back is
checked to be the document expected. Reading is strict: an unknown key, a number given
as a JSON number, a time without an offset are refused with ``Invalid`` naming the field
(``packages[3].netWeightKg``), and the document then checks itself as when it is built.

The certificate's JSON is the EN 10168 structure itself: groups A, B, C, D and Z keyed by
their field numbers (see :func:`certificate_to_json`).
"""

from __future__ import annotations

import dataclasses
import json
import types
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from domain.errors import Invalid
from domain.exchange import messages as m

MAX_JSON_BYTES: Final = 8 * 1024 * 1024
# How deep a document nests (document, line, entry, quantity) with room to spare.
_MAX_DEPTH: Final = 8
MESSAGES: Final[dict[str, type[Any]]] = {
    "ORDRSP": m.OrderResponse,
    "DESADV": m.DispatchAdvice,
    "INVOIC": m.Invoice,
    "DELFOR": m.DeliverySchedule,
    "RECADV": m.ReceivingAdvice,
}
_NAMES: Final = {cls: name for name, cls in MESSAGES.items()}
Document = (m.OrderResponse | m.DispatchAdvice | m.Invoice | m.DeliverySchedule
            | m.ReceivingAdvice)
D = TypeVar("D", m.OrderResponse, m.DispatchAdvice, m.Invoice, m.DeliverySchedule,
            m.ReceivingAdvice)


def to_json(document: Document) -> bytes:
    """The document as Keylink's JSON, UTF-8."""
    name = _NAMES.get(type(document))
    if name is None:
        raise Invalid(f"{type(document).__name__} is not a document", field="document")
    return _dumps({"message": name, **_encode(document)})


def from_json(data: bytes, kind: type[D]) -> D:
    """The document of type ``kind`` that ``data`` holds, or ``Invalid``."""
    name = _NAMES.get(kind)
    if name is None:
        raise Invalid(f"{kind.__name__} is not a document", field="document")
    obj = _loads(data)
    if obj.get("message") != name:
        raise Invalid(f"the JSON is not a {name} document", field="message")
    body = {k: v for k, v in obj.items() if k != "message"}
    result: D = _decode(body, kind, "", 0)
    return result


# -- the generic mapping, through the dataclasses' own type hints --------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {_camel(f.name): _encode(getattr(value, f.name))
                for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decode(value: Any, hint: Any, path: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise Invalid("nested too deeply", field=path or "document")
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            if len(options) < len(get_args(hint)):
                return None
            raise Invalid("must not be null", field=path)
        if len(options) == 1:
            return _decode(value, options[0], path, depth)
        raise Invalid("has no single type", field=path)  # pragma: no cover
    if value is None:
        raise Invalid("must not be null", field=path)
    if origin is Literal:
        if isinstance(value, _Float) or value not in get_args(hint):
            raise Invalid(f"must be one of {', '.join(map(str, get_args(hint)))}",
                          field=path)
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise Invalid("must be a list", field=path)
        (item,) = (a for a in get_args(hint) if a is not Ellipsis)
        if len(value) > m.MAX_LINES:
            raise Invalid(f"must hold at most {m.MAX_LINES}", field=path)
        return tuple(_decode(v, item, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_dataclass(value, hint, path, depth)
    if hint is Decimal:
        if not isinstance(value, str) or isinstance(value, _Float):
            raise Invalid("must be a decimal written as a string", field=path)
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise Invalid(f"{value[:40]!r} is not a decimal", field=path) from None
        if not result.is_finite() or len(value) > 40 or "e" in value.lower():
            raise Invalid(f"{value[:40]!r} is not a plain decimal", field=path)
        return result
    if hint is datetime:
        moment = _iso(value, datetime.fromisoformat, path)
        if moment.tzinfo is None:
            raise Invalid("must carry a UTC offset", field=path)
        return moment
    if hint is date:
        if not isinstance(value, str) or len(value) != 10:
            raise Invalid("must be a date, YYYY-MM-DD", field=path)
        return _iso(value, date.fromisoformat, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise Invalid("must be true or false", field=path)
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid("must be a whole number", field=path)
        return value
    if hint is str:
        if not isinstance(value, str) or isinstance(value, _Float):
            raise Invalid("must be a string", field=path)
        return value
    raise Invalid(f"has a type JSON does not carry: {hint}", field=path)  # pragma: no cover


def _iso(value: Any, parse: Any, path: str) -> Any:
    if not isinstance(value, str) or isinstance(value, _Float) or len(value) > 40:
        raise Invalid("must be an ISO 8601 string", field=path)
    try:
        return parse(value)
    except ValueError:
        raise Invalid(f"{value!r} is not ISO 8601", field=path) from None


def _decode_dataclass(value: Any, cls: type[Any], path: str, depth: int) -> Any:
    if not isinstance(value, dict):
        raise Invalid("must be an object", field=path or "document")
    hints = get_type_hints(cls)
    fields = {_camel(f.name): f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise Invalid(f"unknown key {unknown[0]!r}", field=_join(path, unknown[0]))
    kwargs: dict[str, Any] = {}
    for key, f in fields.items():
        if key not in value:
            if (f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING):
                raise Invalid("is missing", field=_join(path, key))
            continue
        kwargs[f.name] = _decode(value[key], hints[f.name], _join(path, key), depth + 1)
    try:
        return cls(**kwargs)
    except Invalid as e:
        raise Invalid(e.message, field=_join(path, e.field or "")) from e


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path and key else path or key


class _Float(str):
    """A JSON number with a fraction, kept as its text so that the decoder can refuse it
    naming its field: a float has no exact decimal."""


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number JSON carries")


def _loads(data: bytes) -> dict[str, Any]:
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_JSON_BYTES:
        raise Invalid(f"must be at most {MAX_JSON_BYTES} bytes of JSON", field="document")
    try:
        obj = json.loads(data, parse_float=_Float, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise Invalid(f"not JSON: {str(e)[:200]}", field="document") from None
    if not isinstance(obj, dict):
        raise Invalid("must be a JSON object", field="document")
    return obj


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- the certificate, EN 10168 --------------------------------------------------------------


def certificate_to_json(doc: m.CertificateDocument) -> bytes:
    """The certificate as EN 10168 JSON::

        {"standard": "EN 10168:2004",
         "A": {"A01": manufacturer, "A02": "EN 10204:2004 3.1", "A03": number,
               "A06": purchaser, "A07": purchaser's order, "A08": contract},
         "B": {"B01": product, "B02": {"steelGrade", "standard"},
               "B07": {"heatNumber", "coilNumber"}},
         "C": {"C10": tensile test, "C11" | "C12" | "C13": measurement,
               "C71".."C99": {"symbol", "value", "unit": "%", "minimum", "maximum"}},
         "D": {"D01": coating designation, "D02": measurement},
         "Z": {"Z01": statement, "Z02": issued at, "Z03": validated by},
         "limitsRevision": "3"}

    A measurement is ``{"property", "value", "unit", "minimum", "maximum"}``, values as
    decimal strings, a bound the spec does not set null. Fields without a value are
    null, so every document has the same keys."""
    chemistry = {e.field: {"symbol": e.symbol, "value": _text(e.value_pct), "unit": "%",
                           "minimum": _opt(e.minimum_pct), "maximum": _opt(e.maximum_pct)}
                 for e in doc.chemistry}
    return _dumps({
        "standard": m.EN_10168,
        "A": {"A01": doc.a01_manufacturer, "A02": doc.a02_document_type,
              "A03": doc.a03_document_number, "A06": doc.a06_purchaser,
              "A07": doc.a07_order_number, "A08": doc.a08_contract_number},
        "B": {"B01": doc.b01_product,
              "B02": {"steelGrade": doc.b02_steel_grade, "standard": doc.b02_standard},
              "B07": {"heatNumber": doc.b07_heat_no, "coilNumber": doc.b07_coil_no}},
        "C": {"C10": doc.c10_tensile_test,
              "C11": _measured("yield strength", doc.c11_yield_strength),
              "C12": _measured("tensile strength", doc.c12_tensile_strength),
              "C13": _measured("elongation after fracture", doc.c13_elongation),
              **chemistry},
        "D": {"D01": doc.d01_coating_designation,
              "D02": None if doc.d02_coating_mass is None
              else _measured("coating mass", doc.d02_coating_mass)},
        "Z": {"Z01": doc.z01_statement, "Z02": doc.z02_issued_at.isoformat(),
              "Z03": doc.z03_validated_by},
        "limitsRevision": None if doc.limits_revision is None else str(doc.limits_revision),
    })


def certificate_from_json(data: bytes) -> m.CertificateDocument:
    """Back from :func:`certificate_to_json`, or ``Invalid`` naming the field."""
    obj = _loads(data)
    if obj.get("standard") != m.EN_10168:
        raise Invalid(f"the JSON is not an {m.EN_10168} document", field="standard")
    try:
        a, b, c, d, z = (obj[g] for g in "ABCDZ")
        chemistry = tuple(
            m.ChemicalElement(field=key, symbol=_str(c[key]["symbol"], key),
                              value_pct=_dec(c[key]["value"], key),
                              minimum_pct=_opt_dec(c[key]["minimum"], key),
                              maximum_pct=_opt_dec(c[key]["maximum"], key))
            for key in m.CHEMISTRY_FIELDS if key in c)
        issued = datetime.fromisoformat(_str(z["Z02"], "Z02"))
        revision = obj.get("limitsRevision")
        return m.CertificateDocument(
            a01_manufacturer=_str(a["A01"], "A01"), a02_document_type=_str(a["A02"], "A02"),
            a03_document_number=_str(a["A03"], "A03"),
            a06_purchaser=_opt_str(a.get("A06"), "A06"),
            a07_order_number=_opt_str(a.get("A07"), "A07"),
            a08_contract_number=_opt_str(a.get("A08"), "A08"),
            b01_product=_opt_str(b.get("B01"), "B01"),
            b02_steel_grade=_str(b["B02"]["steelGrade"], "B02"),
            b02_standard=_str(b["B02"]["standard"], "B02"),
            b07_heat_no=_str(b["B07"]["heatNumber"], "B07"),
            b07_coil_no=_opt_str(b["B07"].get("coilNumber"), "B07"),
            c10_tensile_test=_str(c["C10"], "C10"),
            c11_yield_strength=_measurement(c["C11"], "C11"),
            c12_tensile_strength=_measurement(c["C12"], "C12"),
            c13_elongation=_measurement(c["C13"], "C13"),
            chemistry=chemistry,
            d01_coating_designation=_opt_str(d.get("D01"), "D01"),
            d02_coating_mass=None if d.get("D02") is None else _measurement(d["D02"], "D02"),
            z01_statement=_str(z["Z01"], "Z01"), z02_issued_at=issued,
            z03_validated_by=_str(z["Z03"], "Z03"),
            limits_revision=None if revision is None else int(_str(revision, "limits")),
        )
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, Invalid):
            raise
        raise Invalid(f"not an EN 10168 document: {e!s:.200}", field="document") from None


def _measured(words: str, value: m.Measured) -> dict[str, Any]:
    return {"property": words, "value": _text(value.value), "unit": value.unit,
            "minimum": _opt(value.minimum), "maximum": _opt(value.maximum)}


def _measurement(obj: dict[str, Any], key: str) -> m.Measured:
    return m.Measured(value=_dec(obj["value"], key), unit=_str(obj["unit"], key),
                      minimum=_opt_dec(obj.get("minimum"), key),
                      maximum=_opt_dec(obj.get("maximum"), key))


def _text(value: Decimal) -> str:
    return format(value, "f")


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else _text(value)


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or isinstance(value, _Float) or len(value) > 1000:
        raise Invalid("must be a string of at most 1000 characters", field=key)
    return value


def _opt_str(value: Any, key: str) -> str | None:
    return None if value is None else _str(value, key)


def _dec(value: Any, key: str) -> Decimal:
    result: Decimal = _decode(value, Decimal, key, 0)
    return result


def _opt_dec(value: Any, key: str) -> Decimal | None:
    return None if value is None else _dec(value, key)
