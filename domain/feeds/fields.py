"""A kind's fields, declared once: the JSON Schema integrators validate against, the
conversion of each value to what the database stores, and the column it goes to.

A reference field names another record by its key (a coil's ``heat`` is a heat number);
it is resolved to the row's id in bulk before a chunk is written, and a key that names
nothing is the record's rejection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

__all__ = ["BadValue", "Field", "Ref", "object_schema", "rows_json"]

_DECIMAL_LIMIT = Decimal(10) ** 12


class BadValue(ValueError):
    """A value its field cannot take; ``path`` is relative to the field, when deeper."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to another kind's row by its natural key."""

    table: str
    key_column: str
    kind: str


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record's data.

    ``type`` is one of text, int, number, decimal, timestamp, date, bool, object, array,
    enum; ``column`` the column it is written to (None: used by the kind itself, e.g. a
    shipment's legs). ``sql`` the column's SQL type for bulk writes.
    """

    name: str
    type: str
    description: str
    column: str | None = None
    required: bool = False
    ref: Ref | None = None
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    max_length: int = 200
    pattern: str | None = None
    # For decimals: the places the column keeps.
    scale: int | None = None
    # For objects and arrays: the schema of what they hold.
    items: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[Any], Any] | None = None
    # What an absent value stands for (written as such).
    default: Any = None
    # Worked out once rather than for every value: the conversion of the field's type,
    # and a decimal's bounds as decimals.
    _by_type: Callable[[Any], Any] | None = field(
        default=None, init=False, repr=False, compare=False)
    _bounds: tuple[Decimal | None, Decimal | None] = field(
        default=(None, None), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ref is not None or self.type in ("text", "enum"):
            by_type = self._text
        else:
            by_type = {"decimal": self._decimal, "int": self._number, "number": self._number,
                       "timestamp": _timestamp, "date": _date, "bool": _bool,
                       }.get(self.type, _as_is)
        object.__setattr__(self, "_by_type", by_type)
        if self.type == "decimal":
            object.__setattr__(self, "_bounds", (
                None if self.exclusive_minimum is None else Decimal(str(self.exclusive_minimum)),
                None if self.minimum is None else Decimal(str(self.minimum))))

    @property
    def sql(self) -> str:
        if self.ref is not None:
            return "bigint"
        return {"text": "text", "enum": "text", "int": "bigint", "number": "float8",
                "decimal": "numeric", "timestamp": "timestamptz", "date": "date",
                "bool": "boolean", "object": "text", "array": "text"}[self.type]

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description}
        if self.ref is not None:
            out |= {"type": "string", "minLength": 1, "maxLength": 64,
                    "description": f"{self.description} (the {self.ref.kind}'s key)"}
        elif self.type == "text":
            out |= {"type": "string", "minLength": 1, "maxLength": self.max_length}
            if self.pattern:
                out["pattern"] = self.pattern
        elif self.type == "enum":
            out["enum"] = list(self.values)
        elif self.type in ("int", "number"):
            out["type"] = "integer" if self.type == "int" else "number"
            for name, bound in (("minimum", self.minimum), ("maximum", self.maximum),
                                ("exclusiveMinimum", self.exclusive_minimum)):
                if bound is not None:
                    out[name] = bound
        elif self.type == "decimal":
            # Exact: a decimal string ("12.345") or a JSON number, never rounded here.
            out |= {"type": ["string", "number"], "pattern": r"^-?\d+(\.\d+)?$"}
            if self.exclusive_minimum is not None:
                out["exclusiveMinimum"] = self.exclusive_minimum
            if self.minimum is not None:
                out["minimum"] = self.minimum
        elif self.type == "timestamp":
            out |= {"type": "string", "format": "date-time"}
        elif self.type == "date":
            out |= {"type": "string", "format": "date"}
        elif self.type == "bool":
            out["type"] = "boolean"
        elif self.type == "object":
            out |= {"type": "object", **(self.items or {})}
        elif self.type == "array":
            out |= {"type": "array", "items": dict(self.items or {}), "maxItems": 10_000}
        if self.default is not None:
            out["default"] = (str(self.default) if isinstance(self.default, Decimal)
                              else self.default)
        out.update(self.extra)
        if not self.required and "type" in out:
            kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*kinds, "null"]
        elif not self.required and "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out

    def convert(self, value: Any) -> Any:
        """The value as the database takes it; raises BadValue."""
        if value is None:
            if self.required:
                raise BadValue("is required")
            return self.default
        out = self._convert(value)
        return self.check(out) if self.check is not None else out

    def _convert(self, value: Any) -> Any:
        assert self._by_type is not None
        return self._by_type(value)

    def _text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise BadValue("must be a string")
        if "\x00" in value:
            raise BadValue("must not contain NUL")
        if self.type == "enum":
            if value not in self.values:
                raise BadValue(f"must be one of {', '.join(self.values)}")
            return value
        return value.strip() if self.type == "text" else value

    def _decimal(self, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise BadValue("must be a decimal number")
        try:
            number = Decimal(value if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise BadValue("must be a decimal number") from None
        if not number.is_finite():
            raise BadValue("must be a finite number")
        above, least = self._bounds
        if above is not None and number <= above:
            raise BadValue(f"must be greater than {self.exclusive_minimum}")
        if least is not None and number < least:
            raise BadValue(f"must be at least {self.minimum}")
        if self.scale is not None and not _within_scale(value, number, self.scale):
            raise BadValue(f"has more than {self.scale} decimal places")
        if abs(number) >= _DECIMAL_LIMIT:
            raise BadValue("is out of range")
        return number

    def _number(self, value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadValue("must be a number")
        if self.type == "int" and not isinstance(value, int):
            raise BadValue("must be an integer")
        if self.minimum is not None and value < self.minimum:
            raise BadValue(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise BadValue(f"must be at most {self.maximum}")
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            raise BadValue(f"must be greater than {self.exclusive_minimum}")
        return value


def _within_scale(given: Any, number: Decimal, scale: int) -> bool:
    """Whether ``number`` has no more than ``scale`` places that are not zero (12.50
    has one). Most values are written as plain decimals, whose places can be counted."""
    if isinstance(given, str) and "e" not in given and "E" not in given:
        dot = given.rfind(".")
        if dot < 0 or len(given) - dot - 1 <= scale:
            return True
    try:
        return number == round(number, scale)
    except InvalidOperation:  # more digits than a decimal holds: out of range anyway
        raise BadValue("is out of range") from None


def _timestamp(value: Any) -> datetime:
    at: datetime = _parse(datetime.fromisoformat, value, "an RFC 3339 time")
    if at.tzinfo is None:
        raise BadValue("must carry its offset (e.g. +08:00 or Z)")
    return at


def _date(value: Any) -> date:
    day: date = _parse(date.fromisoformat, value, "a date (YYYY-MM-DD)")
    return day


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue("must be true or false")
    return value


def _as_is(value: Any) -> Any:
    return value  # objects and arrays: checked by the schema and by the kind


def rows_json(rows: Sequence[Sequence[Any]]) -> str:
    """Rows for a bulk statement, as one JSON array of arrays that the statement reads
    with ``jsonb_array_elements($1::text::jsonb)`` (``(r->>0)::numeric, ...``): one
    parameter serialised in C, where an array per column costs the driver a check and
    an encoding for every value. Exact decimals are written as their digits, times in
    RFC 3339 with their offset, bytes in hex."""
    return orjson.dumps(rows, default=_exact).decode()


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _parse(parse: Callable[[str], Any], value: Any, what: str) -> Any:
    if not isinstance(value, str) or len(value) > 40:
        raise BadValue(f"must be {what}")
    try:
        return parse(value)
    except ValueError:
        raise BadValue(f"must be {what}") from None


def object_schema(title: str, description: str, fields: Sequence[Field]) -> dict[str, Any]:
    """The JSON Schema of a kind's ``data``."""
    return {
        "title": title,
        "description": description,
        "type": "object",
        "properties": {f.name: f.schema() for f in fields},
        "required": [f.name for f in fields if f.required],
        "additionalProperties": False,
    }
