"""A partner's spreadsheet layout as data: how the CSV or XLSX files of a partner without
EDI hold one kind of document, so that a new partner's files are configured, never
programmed.

A :class:`Mapping` names, per target field of a document type (a car plan's `model`,
`period_start`, `units`), where the partner's file holds it (a column heading, or a column
letter), the value's type (text, decimal, integer, date, a quantity in the partner's unit),
the partner's own code tables (its part numbers for spec codes, its plant codes for site
codes, its words for firmness), a default and whether it is required; and where the
heading is, which sheet and which delimiter and encoding the file has. It is plain JSON
(:meth:`Mapping.from_json`, :meth:`Mapping.to_json`), stored per partner and document
type in `exchange_mapping`.

Reading a file through a mapping (:func:`read`) gives typed rows, or refuses the file
listing every problem by row and column with the value found; :func:`preview` gives the
first rows and every problem of a sample file without refusing it. Files are read by the
one reader of customers' spreadsheets (`domain.planning.tables`), within the same limits.
Writing (:func:`write_file`) puts Keylink's rows in the partner's columns, formats, units
and codes, so that an outbound file reads back as the rows it was written from.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook

from domain import parties
from domain.actor import Actor, Permissions
from domain.db import Executor
from domain.errors import Invalid, NotFound
from domain.planning.tables import (
    HEADING_SEARCH,
    MAX_ROWS,
    FileTooLarge,
    Layout,
    Limits,
    Table,
    read_table,
)

# The types a value may have, and the units a quantity may come in (in tonnes).
TYPES = ("text", "decimal", "integer", "date", "quantity")
UNITS: dict[str, Decimal] = {
    "t": Decimal(1),
    "kg": Decimal("0.001"),
    "lb": Decimal("0.00045359237"),
    "sh tn": Decimal("0.90718474"),
}
# A mapping is configuration a person writes: these bound it.
MAX_FIELDS = 64
MAX_TABLES = 16
MAX_CODES = 10_000
MAX_TEXT = 200
MAX_FORMATS = 8
MAX_CHOICES = 100
MAX_PLACES = 10
MAX_COLUMN = 16_384  # XFD, the last column of a sheet
MAX_SHEET_NAME = 31
# How many of a sample's rows a preview shows unless asked for fewer.
PREVIEW_ROWS = 20
MAX_PREVIEW_ROWS = 200
# The encodings a partner's CSV may be in (by the name `codecs` gives them).
ENCODINGS = frozenset({"utf-8", "utf-8-sig", "utf-16", "gb18030", "gbk", "gb2312", "big5",
                       "shift_jis", "euc_jp", "euc_kr", "iso8859-1", "cp1252", "cp1251"})

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_LETTERS = re.compile(r"[A-Z]{1,3}")
_TOP_KEYS = frozenset({"document", "fields", "codes", "heading_row", "sheet", "delimiter",
                       "encoding", "decimal_comma"})
_FIELD_KEYS = frozenset({"field", "column", "type", "required", "default", "formats", "unit",
                         "unit_column", "codes", "strict", "choices", "min", "max", "places"})
_NUMERIC = ("decimal", "integer", "quantity")
# A unit's own code table: the partner's words for t, kg, lb and sh tn.
UNIT_CODES = "units"
# Dates unless a mapping says otherwise.
ISO_DATE = ("%Y-%m-%d",)

PERMISSIONS = Permissions({
    # Trying a mapping on a sample file: the mill's staff who set partners up, and a
    # customer for itself.
    "preview": ("customer", "sales", "admin"),
})


class BadMapping(Invalid):
    """A mapping that is not one: every problem of it, each naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:20])
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"not a mapping: {shown}{more}", field="mapping")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one value: its row as the file counts them (the heading's row
    for a missing column), the partner's column, the value as read, and why."""

    row: int
    column: str | None
    value: Any
    reason: str
    field: str | None = None
    # missing_column, empty, invalid, out_of_range, unknown_code or not_allowed.
    code: str = "invalid"


class Refused(Invalid):
    """A file, or rows to write, with problems: every one of them."""

    def __init__(self, problems: list[Problem], what: str = "the file",
                 field: str = "file") -> None:
        first = problems[0]
        where = f"row {first.row}" + (f", column {first.column}" if first.column else "")
        super().__init__(f"{what} has {len(problems)} problem(s), the first at {where}:"
                         f" {first.reason}", field=field)
        self.problems = problems


# The mapping ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Column:
    """Where a field's values are in the partner's file: under a heading, or at a position
    (0 for column A) whatever the heading says."""

    heading: str | None = None
    position: int | None = None

    @property
    def label(self) -> str:
        """How a person finds it in the file: its heading, else its letter."""
        return self.heading if self.heading is not None else letter(self.position or 0)

    def to_json(self) -> Any:
        return self.heading if self.heading is not None else {"letter": self.label}


@dataclass(frozen=True, slots=True)
class Field:
    """One target field: where the partner's file has it and how its values read."""

    type: str = "text"
    # None: the file has no such column and every row takes the default.
    column: Column | None = None
    required: bool = True
    # In Keylink's terms (a spec code, tonnes, a date), used for an empty cell.
    default: Any = None
    # Dates: the partner's formats (strftime), tried in order; the first is written.
    formats: tuple[str, ...] = ISO_DATE
    # Quantities: the partner's unit, or a column giving each row's unit.
    unit: str = "t"
    unit_column: Column | None = None
    # Text: the code table translating the partner's codes to Keylink's; strict: a code
    # the table lacks is a problem rather than taken as it is.
    codes: str | None = None
    strict: bool = False
    # Text: the values Keylink accepts (after translation).
    choices: tuple[str, ...] = ()
    # Numbers: bounds (a quantity's in tonnes), and decimal places written.
    min: Decimal | None = None
    max: Decimal | None = None
    places: int | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    """A partner's layout of one document type."""

    document: str
    # Target field -> where and how; in the order the partner's columns are written.
    fields: dict[str, Field]
    # Table name -> the partner's code -> Keylink's code.
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    # As in `Layout`: None searches for the heading, 0 says there is none.
    heading_row: int | None = None
    sheet: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    # Numbers written 1.234,5 (the comma decimal, dots or spaces grouping).
    decimal_comma: bool = False

    @classmethod
    def from_json(cls, data: Any) -> Mapping:
        """The mapping ``data`` defines; :class:`BadMapping` listing every problem."""
        return _Reader().mapping(data)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON that :meth:`from_json` reads back as this mapping; what is left at
        its default is left out."""
        out: dict[str, Any] = {"document": self.document,
                               "fields": [_field_json(n, f) for n, f in self.fields.items()]}
        if self.codes:
            out["codes"] = {name: dict(table) for name, table in self.codes.items()}
        for key in ("heading_row", "sheet", "delimiter", "encoding"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.decimal_comma:
            out["decimal_comma"] = True
        return out

    @property
    def layout(self) -> Layout:
        return Layout(self.heading_row, self.sheet, self.delimiter, self.encoding)

    def wanted(self) -> list[str]:
        """The headings a file must have: those of the required fields."""
        return [f.column.heading for f in self.fields.values()
                if f.required and f.column is not None and f.column.heading is not None]


def letter(position: int) -> str:
    """The column letter of a position: 0 is A, 26 is AA."""
    out = ""
    n = position + 1
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


def _position(letters: str) -> int:
    n = 0
    for c in letters:
        n = n * 26 + ord(c) - ord("A") + 1
    return n - 1


def _number_json(value: Decimal, type_: str) -> Any:
    # Exact numbers travel as text, whole ones of an integer field as numbers.
    return int(value) if type_ == "integer" else format(value, "f")


def _field_json(name: str, f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"field": name, "type": f.type}
    if f.column is not None:
        out["column"] = f.column.to_json()
    if not f.required:
        out["required"] = False
    if f.default is not None:
        if isinstance(f.default, date):
            out["default"] = f.default.isoformat()
        elif isinstance(f.default, Decimal):
            out["default"] = _number_json(f.default, f.type)
        else:
            out["default"] = f.default
    if f.type == "date":
        out["formats"] = list(f.formats)
    if f.type == "quantity":
        out["unit"] = f.unit
        if f.unit_column is not None:
            out["unit_column"] = f.unit_column.to_json()
    if f.codes is not None:
        out["codes"] = f.codes
    if f.strict:
        out["strict"] = True
    if f.choices:
        out["choices"] = list(f.choices)
    for key in ("min", "max"):
        bound = getattr(f, key)
        if bound is not None:
            out[key] = _number_json(bound, f.type)
    if f.places is not None:
        out["places"] = f.places
    return out


class _Reader:
    """Reads a mapping's JSON, noting every problem before refusing it."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def mapping(self, data: Any) -> Mapping:
        if not isinstance(data, dict):
            raise BadMapping(["a mapping is a JSON object"])
        for key in sorted(set(data) - _TOP_KEYS, key=str):
            self.bad(str(key), "not a key of a mapping")
        document = data.get("document")
        if not isinstance(document, str) or not _NAME.fullmatch(document):
            self.bad("document", "the document type, a name of a-z, 0-9 and _")
        heading_row = data.get("heading_row")
        if heading_row is not None and (not _is_int(heading_row)
                                        or not 0 <= heading_row <= HEADING_SEARCH):
            self.bad("heading_row", f"a row from 1 to {HEADING_SEARCH}, 0 for none, or null"
                     " to find it")
            heading_row = None
        sheet = data.get("sheet")
        if sheet is not None and not (isinstance(sheet, str)
                                      and 0 < len(sheet) <= MAX_SHEET_NAME):
            self.bad("sheet", f"a sheet's name, at most {MAX_SHEET_NAME} characters")
        delimiter = data.get("delimiter")
        if delimiter is not None and not (isinstance(delimiter, str) and len(delimiter) == 1
                                          and delimiter not in "\r\n\""):
            self.bad("delimiter", "one character, not a quote or a line break")
        encoding = data.get("encoding")
        if encoding is not None:
            encoding = self.encoding(encoding)
        decimal_comma = data.get("decimal_comma", False)
        if not isinstance(decimal_comma, bool):
            self.bad("decimal_comma", "true or false")
        codes = self.codes(data.get("codes", {}))
        fields = self.fields(data.get("fields"), codes, heading_row)
        if self.problems:
            raise BadMapping(self.problems)
        return Mapping(str(document), fields, codes, heading_row, sheet, delimiter, encoding,
                       bool(decimal_comma))

    def encoding(self, name: Any) -> str | None:
        try:
            known = isinstance(name, str) and len(name) <= 40 \
                and codecs.lookup(name).name in ENCODINGS
        except LookupError:
            known = False
        if not known:
            self.bad("encoding", "one of " + ", ".join(sorted(ENCODINGS)))
            return None
        return str(name)

    def codes(self, data: Any) -> dict[str, dict[str, str]]:
        if not isinstance(data, dict) or len(data) > MAX_TABLES:
            self.bad("codes", f"an object of at most {MAX_TABLES} code tables")
            return {}
        out: dict[str, dict[str, str]] = {}
        for name, table in data.items():
            where = f"codes.{name}"
            if not _NAME.fullmatch(str(name)):
                self.bad(where, "a table's name is of a-z, 0-9 and _")
            elif not isinstance(table, dict) or len(table) > MAX_CODES:
                self.bad(where, f"an object of at most {MAX_CODES} codes")
            elif not all(_is_text(k) and _is_text(v) for k, v in table.items()):
                self.bad(where, f"codes are texts of 1 to {MAX_TEXT} characters")
            elif name == UNIT_CODES and not set(map(str.strip, table.values())) <= set(UNITS):
                self.bad(where, "the partner's words for " + ", ".join(UNITS))
            else:
                out[name] = {str(k).strip(): str(v).strip() for k, v in table.items()}
        return out

    def fields(self, data: Any, codes: dict[str, dict[str, str]],
               heading_row: int | None) -> dict[str, Field]:
        if not isinstance(data, list) or not 0 < len(data) <= MAX_FIELDS:
            self.bad("fields", f"a list of 1 to {MAX_FIELDS} fields")
            return {}
        out: dict[str, Field] = {}
        for i, item in enumerate(data):
            found = self.field(item, f"fields[{i}]", codes, heading_row)
            if found is None:
                continue
            name, f = found
            if name in out:
                self.bad(f"fields[{i}].field", f"{name} is mapped twice")
            out[name] = f
        return out

    def field(self, data: Any, where: str, codes: dict[str, dict[str, str]],
              heading_row: int | None) -> tuple[str, Field] | None:
        if not isinstance(data, dict):
            self.bad(where, "a field is a JSON object")
            return None
        before = len(self.problems)
        for key in sorted(set(data) - _FIELD_KEYS, key=str):
            self.bad(f"{where}.{key}", "not a key of a field")
        name = data.get("field")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            self.bad(f"{where}.field", "the target field, a name of a-z, 0-9 and _")
            name = where
        where = f"fields.{name}"
        type_ = data.get("type", "text")
        if type_ not in TYPES:
            self.bad(f"{where}.type", "one of " + ", ".join(TYPES))
            type_ = "text"

        def only(key: str, types: tuple[str, ...]) -> bool:
            if key in data and type_ not in types:
                self.bad(f"{where}.{key}", f"only for a field of type {' or '.join(types)}")
                return False
            return key in data

        column = self.column(data.get("column"), f"{where}.column", heading_row)
        required = data.get("required", True)
        if not isinstance(required, bool):
            self.bad(f"{where}.required", "true or false")
        formats: tuple[str, ...] = ISO_DATE
        if only("formats", ("date",)):
            formats = self.formats(data["formats"], f"{where}.formats")
        unit, unit_column = "t", None
        if only("unit", ("quantity",)):
            unit = data["unit"]
            if unit not in UNITS:
                self.bad(f"{where}.unit", "one of " + ", ".join(UNITS))
                unit = "t"
        if only("unit_column", ("quantity",)):
            unit_column = self.column(data["unit_column"], f"{where}.unit_column",
                                      heading_row)
        table = None
        if only("codes", ("text",)):
            table = data["codes"]
            if table not in codes:
                self.bad(f"{where}.codes", "names a table of `codes`")
        strict = data.get("strict", False)
        if not isinstance(strict, bool) or (strict and table is None):
            self.bad(f"{where}.strict", "true or false, true only with `codes`")
        choices: tuple[str, ...] = ()
        if only("choices", ("text",)):
            raw = data["choices"]
            if not isinstance(raw, list) or not 0 < len(raw) <= MAX_CHOICES \
                    or not all(_is_text(c) for c in raw):
                self.bad(f"{where}.choices", f"a list of 1 to {MAX_CHOICES} texts")
            else:
                choices = tuple(str(c).strip() for c in raw)
        bounds = [self.number(data[k], f"{where}.{k}", type_) if only(k, _NUMERIC) else None
                  for k in ("min", "max")]
        low, high = bounds
        if low is not None and high is not None and low > high:
            self.bad(f"{where}.max", "not below `min`")
        places = None
        if only("places", ("decimal", "quantity")):
            places = data["places"]
            if not _is_int(places) or not 0 <= places <= MAX_PLACES:
                self.bad(f"{where}.places", f"a whole number from 0 to {MAX_PLACES}")
                places = None
        default = None
        if data.get("default") is not None:
            default = self.default(data["default"], f"{where}.default", type_)
            if isinstance(default, (int, Decimal)) and (
                    (low is not None and default < low) or (high is not None and default > high)):
                self.bad(f"{where}.default", "within `min` and `max`")
            if choices and default not in choices:
                self.bad(f"{where}.default", "one of `choices`")
        if column is None and default is None and len(self.problems) == before:
            self.bad(f"{where}.column", "a heading or {\"letter\": ...}; without one, a"
                     " default for every row")
        if len(self.problems) > before:
            return None
        return name, Field(type_, column, required, default, formats, unit, unit_column,
                           table, strict, choices, low, high, places)

    def column(self, data: Any, where: str, heading_row: int | None) -> Column | None:
        if data is None:
            return None
        if isinstance(data, str):
            if not _is_text(data):
                self.bad(where, f"a heading of 1 to {MAX_TEXT} characters")
                return None
            if heading_row == 0:
                self.bad(where, "a file without a heading has columns by letter or index")
                return None
            return Column(heading=data.strip())
        if isinstance(data, dict) and len(data) == 1:
            ((key, value),) = data.items()
            if key == "letter" and isinstance(value, str) and _LETTERS.fullmatch(value) \
                    and _position(value) < MAX_COLUMN:
                return Column(position=_position(value))
            if key == "index" and _is_int(value) and 1 <= value <= MAX_COLUMN:
                return Column(position=value - 1)
        self.bad(where, "a heading, {\"letter\": \"C\"} or {\"index\": 3} (1 for A)")
        return None

    def formats(self, data: Any, where: str) -> tuple[str, ...]:
        if not isinstance(data, list) or not 0 < len(data) <= MAX_FORMATS:
            self.bad(where, f"a list of 1 to {MAX_FORMATS} date formats")
            return ISO_DATE
        for f in data:
            if not _is_text(f) or "%" not in f or not is_date_format(f):
                self.bad(where, f"{f!r} is not a date format like %d.%m.%Y")
        return tuple(str(f) for f in data)

    def number(self, value: Any, where: str, type_: str) -> Decimal | None:
        number = _exact(value)
        if number is None or (type_ == "integer" and number != number.to_integral_value()):
            self.bad(where, "a whole number" if type_ == "integer" else "a number")
            return None
        return number

    def default(self, value: Any, where: str, type_: str) -> Any:
        if type_ == "text":
            if _is_text(value):
                return str(value).strip()
            self.bad(where, f"a text of 1 to {MAX_TEXT} characters")
            return None
        if type_ == "date":
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                self.bad(where, "a date as YYYY-MM-DD")
                return None
        number = self.number(value, where, type_)
        return int(number) if number is not None and type_ == "integer" else number


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= MAX_TEXT


def _exact(value: Any) -> Decimal | None:
    """A number given in JSON (a number or its digits as text), exactly."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def is_date_format(fmt: str) -> bool:
    """Whether ``fmt`` writes a date that it reads back (a month's first day, for a format
    without the day)."""
    try:
        datetime.strptime(date(2026, 11, 30).strftime(fmt), fmt)
    except ValueError:
        return False
    return "%" in fmt


@dataclass(frozen=True, slots=True)
class Target:
    """What a document type needs of one of its fields."""

    type: str
    required: bool = True


def check_targets(mapping: Mapping, targets: dict[str, Target]) -> None:
    """Refuse (:class:`BadMapping`) a mapping that does not give a document type its
    fields: each a field of the type, each required one mapped."""
    problems = [f"fields.{name}: not a field of {mapping.document}"
                for name in mapping.fields if name not in targets]
    for name, target in targets.items():
        f = mapping.fields.get(name)
        if f is None:
            if target.required:
                problems.append(f"fields.{name}: {mapping.document} needs it")
        elif f.type != target.type:
            problems.append(f"fields.{name}: of type {target.type}")
    if problems:
        raise BadMapping(problems)


# Reading -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MappedRow:
    """One row of the file as Keylink's values (a field that could not be read is None),
    with the cells as read and the row's problems."""

    row: int
    values: dict[str, Any]
    raw: dict[str, Any]
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Mapped:
    heading_row: int
    heading: list[str]
    rows: list[MappedRow]
    # Missing columns (then no row is read), then each row's, in the file's order.
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class Preview:
    """What a sample file gives through a mapping: its first rows and every problem."""

    heading_row: int
    heading: list[str]
    rows: list[MappedRow]
    rows_total: int
    problems: list[Problem]


class _Bad(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def read_file(mapping: Mapping, filename: str, content: bytes, *,
              limits: Limits = Limits(), checked: bool = False) -> Table:
    """The partner's file as a heading and rows, where the mapping says they are."""
    return read_table(filename, content, mapping.wanted(), limits, checked=checked,
                      layout=mapping.layout)


def read(mapping: Mapping, filename: str, content: bytes, *, limits: Limits = Limits(),
         checked: bool = False) -> list[MappedRow]:
    """Every row of the file as Keylink's values; :class:`Refused` with every problem
    when any value cannot be read. A file over ``limits`` is refused as a plan file is
    (:class:`domain.planning.tables.FileTooLarge`)."""
    mapped = map_table(mapping, read_file(mapping, filename, content, limits=limits,
                                          checked=checked))
    if mapped.problems:
        raise Refused(mapped.problems)
    return mapped.rows


def preview(mapping: Mapping, filename: str, content: bytes, *, rows: int = PREVIEW_ROWS,
            limits: Limits = Limits()) -> Preview:
    """The first ``rows`` rows of a sample file as mapped, and every problem of the whole
    file; nothing is written and nothing refused but a file that cannot be read at all."""
    if not 0 < rows <= MAX_PREVIEW_ROWS:
        raise Invalid(f"a preview shows 1 to {MAX_PREVIEW_ROWS} rows", field="first")
    mapped = map_table(mapping, read_file(mapping, filename, content, limits=limits))
    return Preview(mapped.heading_row, mapped.heading, mapped.rows[:rows], len(mapped.rows),
                   mapped.problems)


def map_table(mapping: Mapping, table: Table) -> Mapped:
    """The table's rows through the mapping, every problem noted, nothing refused."""
    where: dict[str, tuple[int | None, int | None]] = {}
    missing: list[Problem] = []

    def locate(name: str, column: Column | None, required: bool) -> int | None:
        if column is None:
            return None
        if column.position is not None:
            return column.position
        if column.heading in table.heading:
            return table.heading.index(column.heading)
        if required:
            missing.append(Problem(table.heading_row, column.label, None,
                                   f"the column {column.label!r} is missing", name,
                                   "missing_column"))
        return None

    for name, f in mapping.fields.items():
        at = locate(name, f.column, f.required)
        unit_at = locate(name, f.unit_column, True) if at is not None else None
        where[name] = (at, unit_at)
    if missing:
        return Mapped(table.heading_row, table.heading, [], missing)
    rows: list[MappedRow] = []
    problems: list[Problem] = []
    for number, cells in table.body:
        values: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        found: list[Problem] = []
        for name, f in mapping.fields.items():
            at, unit_at = where[name]
            cell = _cell(cells, at)
            raw[name] = cell
            try:
                values[name] = _value(mapping, f, cell, _cell(cells, unit_at))
            except _Bad as bad:
                values[name] = None
                if bad.code == "bad_unit" and f.unit_column is not None:
                    found.append(Problem(number, f.unit_column.label, _cell(cells, unit_at),
                                         bad.reason, name, "invalid"))
                else:
                    found.append(Problem(number, f.column.label if f.column else None, cell,
                                         bad.reason, name, bad.code))
        rows.append(MappedRow(number, values, raw, tuple(found)))
        problems.extend(found)
    return Mapped(table.heading_row, table.heading, rows, problems)


def _cell(cells: list[Any], at: int | None) -> Any:
    if at is None or at >= len(cells):
        return None
    value = cells[at]
    return value.strip() if isinstance(value, str) else value


def _value(mapping: Mapping, f: Field, cell: Any, unit_cell: Any) -> Any:
    if cell is None or cell == "":
        if f.default is not None:
            return f.default
        if f.required:
            raise _Bad("empty", "no value")
        return None
    if f.type == "text":
        return _text(mapping, f, cell)
    if f.type == "date":
        return _date(f, cell)
    number = _number(mapping, cell)
    if f.type == "integer":
        if number != number.to_integral_value():
            raise _Bad("invalid", "not a whole number")
        number = Decimal(int(number))
    elif f.type == "quantity":
        number = number * UNITS[_unit(mapping, f, unit_cell)]
    if (f.min is not None and number < f.min) or (f.max is not None and number > f.max):
        raise _Bad("out_of_range", _range(f))
    return int(number) if f.type == "integer" else number


def _text(mapping: Mapping, f: Field, cell: Any) -> str:
    text = str(cell)
    if f.codes is not None:
        table = mapping.codes[f.codes]
        if text in table:
            text = table[text]
        elif f.strict:
            raise _Bad("unknown_code", f"{text!r} is not in the {f.codes} table")
    if f.choices and text not in f.choices:
        raise _Bad("not_allowed", "not one of " + ", ".join(f.choices))
    return text


def _date(f: Field, cell: Any) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    for fmt in f.formats:
        try:
            return datetime.strptime(str(cell), fmt).date()
        except ValueError:
            continue
    raise _Bad("invalid", "not a date like " + " or ".join(f.formats))


def _number(mapping: Mapping, cell: Any) -> Decimal:
    if isinstance(cell, (bool, date, datetime)):
        raise _Bad("invalid", "not a number")
    text = str(cell)
    if mapping.decimal_comma and isinstance(cell, str):
        text = re.sub(r"[.\s\u00a0\u202f]", "", text).replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _Bad("invalid", "not a number") from None
    if not number.is_finite():
        raise _Bad("invalid", "not a number")
    return number


def _unit(mapping: Mapping, f: Field, cell: Any) -> str:
    if f.unit_column is None:
        return f.unit
    word = str(cell).strip() if cell is not None else ""
    unit = mapping.codes.get(UNIT_CODES, {}).get(word, word)
    if unit not in UNITS:
        raise _Bad("bad_unit", f"{word!r} is not a unit: " + ", ".join(UNITS))
    return unit


def _range(f: Field) -> str:
    if f.min is not None and f.max is not None:
        return f"not from {f.min} to {f.max}"
    if f.min is not None:
        return f"not {f.min} or more"
    return f"not {f.max} or less"


# Writing -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Slot:
    position: int
    heading: str
    field: str
    unit: bool = False


def _slots(mapping: Mapping) -> list[_Slot]:
    """Where each written column goes: a column given by letter at its letter, one given
    by heading at the first position left, in the mapping's order."""
    wanted: list[tuple[Column, str, bool]] = []
    for name, f in mapping.fields.items():
        if f.column is not None:
            wanted.append((f.column, name, False))
            if f.unit_column is not None:
                wanted.append((f.unit_column, name, True))
    taken = {c.position for c, _, _ in wanted if c.position is not None}
    by_heading: dict[str, int] = {}
    slots = []
    free = 0
    for column, name, unit in wanted:
        if column.position is not None:
            heading = f"{name} unit" if unit else name
            slots.append(_Slot(column.position, heading, name, unit))
            continue
        assert column.heading is not None
        if column.heading not in by_heading:
            while free in taken:
                free += 1
            by_heading[column.heading] = free
            taken.add(free)
        slots.append(_Slot(by_heading[column.heading], column.heading, name, unit))
    return slots


def write_rows(mapping: Mapping, rows: Sequence[dict[str, Any]], *,
               xlsx: bool = False) -> list[list[Any]]:
    """The cells of the partner's file holding ``rows`` (Keylink's values by target
    field), heading included; :class:`Refused` with every value that cannot be written.
    Codes are written through the reversed code tables: where several of the partner's
    codes stand for one of Keylink's, the first in text order is written."""
    if len(rows) > MAX_ROWS:
        raise FileTooLarge(f"a file has at most {MAX_ROWS} rows", field="rows")
    slots = _slots(mapping)
    width = max((s.position for s in slots), default=-1) + 1
    out: list[list[Any]] = []
    if mapping.heading_row != 0:
        out.extend([] for _ in range((mapping.heading_row or 1) - 1))
        heading: list[Any] = [None] * width
        for s in slots:
            heading[s.position] = s.heading
        out.append(heading)
    reverse = {name: _reverse(table) for name, table in mapping.codes.items()}
    problems: list[Problem] = []
    for values in rows:
        number = len(out) + 1
        cells: list[Any] = [None] * width
        for s in slots:
            f = mapping.fields[s.field]
            label = (f.unit_column if s.unit else f.column)
            value = values.get(s.field)
            try:
                if s.unit:
                    cells[s.position] = reverse.get(UNIT_CODES, {}).get(f.unit, f.unit)
                else:
                    cells[s.position] = _render(mapping, f, value, reverse, xlsx)
            except _Bad as bad:
                problems.append(Problem(number, label.label if label else None,
                                        _plain(value), bad.reason, s.field, bad.code))
        out.append(cells)
    if problems:
        raise Refused(problems, "the rows to write", "rows")
    return out


def _reverse(table: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for theirs in sorted(table):
        out.setdefault(table[theirs], theirs)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _render(mapping: Mapping, f: Field, value: Any, reverse: dict[str, dict[str, str]],
            xlsx: bool) -> Any:
    if value is None or value == "":
        if f.default is None:
            if f.required:
                raise _Bad("empty", "no value")
            return None
        value = f.default
    if f.type == "text":
        text = str(value)
        if f.choices and text not in f.choices:
            raise _Bad("not_allowed", "not one of " + ", ".join(f.choices))
        if f.codes is not None:
            theirs = reverse[f.codes].get(text)
            if theirs is None and f.strict:
                raise _Bad("unknown_code", f"{text!r} has no code in the {f.codes} table")
            text = theirs if theirs is not None else text
        return _encodable(mapping, text, xlsx)
    if f.type == "date":
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            raise _Bad("invalid", "not a date")
        return value if xlsx else value.strftime(f.formats[0])
    number = _exact(value)
    if number is None:
        raise _Bad("invalid", "not a number")
    if (f.min is not None and number < f.min) or (f.max is not None and number > f.max):
        raise _Bad("out_of_range", _range(f))
    if f.type == "integer":
        if number != number.to_integral_value():
            raise _Bad("invalid", "not a whole number")
        return int(number) if xlsx else str(int(number))
    if f.type == "quantity":
        number = (number / UNITS[f.unit]).quantize(Decimal(1).scaleb(-(
            f.places if f.places is not None else 3)))
    elif f.places is not None:
        number = number.quantize(Decimal(1).scaleb(-f.places))
    if xlsx:
        return number
    text = format(number, "f")
    return text.replace(".", ",") if mapping.decimal_comma else text


def _encodable(mapping: Mapping, text: str, xlsx: bool) -> str:
    if not xlsx and mapping.encoding is not None:
        try:
            text.encode(mapping.encoding)
        except UnicodeEncodeError:
            raise _Bad("invalid", f"cannot be written in {mapping.encoding}") from None
    return text


def write_file(mapping: Mapping, rows: Sequence[dict[str, Any]], kind: str) -> bytes:
    """The partner's file, ``kind`` ``csv`` or ``xlsx``, holding ``rows``
    (:func:`write_rows`)."""
    if kind not in ("csv", "xlsx"):
        raise Invalid("a file is written as csv or xlsx", field="kind")
    cells = write_rows(mapping, rows, xlsx=kind == "xlsx")
    if kind == "xlsx":
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = mapping.sheet or "Sheet1"
        for r, line in enumerate(cells, start=1):
            for c, value in enumerate(line, start=1):
                if value is not None:
                    cell = sheet.cell(r, c, value)
                    if isinstance(value, str):
                        # Text stays text: "=..." is a partner's code, never a formula.
                        cell.data_type = "s"
        buf = io.BytesIO()
        book.save(buf)
        return buf.getvalue()
    text = io.StringIO()
    writer = csv.writer(text, delimiter=mapping.delimiter or ",", lineterminator="\r\n")
    for line in cells:
        writer.writerow(["" if c is None else c for c in line])
    try:
        return text.getvalue().encode(mapping.encoding or "utf-8")
    except UnicodeEncodeError:
        # The values were checked: a heading of the mapping is what cannot be written.
        raise Invalid(f"a heading cannot be written in {mapping.encoding}",
                      field="mapping") from None


# Stored mappings -----------------------------------------------------------------------

async def mapping_of(db: Executor, partner_org_id: int, document: str) -> Mapping | None:
    """The partner's mapping of ``document``, if it has one."""
    definition = await db.fetchval(
        "SELECT definition FROM exchange_mapping WHERE partner_org_id = $1 AND document = $2",
        partner_org_id, document)
    return Mapping.from_json(definition) if definition is not None else None


async def store_mapping(tx: Executor, partner_org_id: int, mapping: Mapping, *,
                        actor: str) -> None:
    """Keep ``mapping`` as the partner's for its document type, replacing the one before;
    the caller has allowed the step. It is stored as read back from its JSON, so that
    what is stored always reads."""
    definition = Mapping.from_json(mapping.to_json()).to_json()
    await tx.execute(
        "INSERT INTO exchange_mapping (partner_org_id, document, definition, updated_by)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (partner_org_id, document) DO UPDATE"
        " SET definition = $3, updated_by = $4, updated_at = now()",
        partner_org_id, mapping.document, definition, actor)


async def preview_for(
    db: Executor, actor: Actor, filename: str, content: bytes, *,
    mapping: Any = None, document: str | None = None, partner_org_id: int | None = None,
    rows: int = PREVIEW_ROWS, limits: Limits = Limits(),
) -> Preview:
    """A preview for ``actor``: of the mapping given as JSON, or else of the partner's
    stored mapping of ``document`` (a customer's own; the mill's staff name the
    customer)."""
    PERMISSIONS.check(actor, "preview")
    if mapping is not None:
        if partner_org_id is not None:
            actor.check_acts_for(partner_org_id)
        chosen = Mapping.from_json(mapping)
    else:
        org = await parties.customer_acted_for(db, actor, partner_org_id)
        if document is None or not _NAME.fullmatch(document):
            raise Invalid("give a mapping, or the document type of a stored one",
                          field="document")
        found = await mapping_of(db, org, document)
        if found is None:
            raise NotFound(f"no mapping of {document} for this customer", field="document")
        chosen = found
    return await asyncio.to_thread(preview, chosen, filename, content, rows=rows,
                                   limits=limits)

