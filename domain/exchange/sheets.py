"""Delivery schedules and receiving advices from partners without EDI: their CSV or XLSX
files, read through the partner's mapping (:mod:`domain.exchange.mapping`), become the
same documents a DELFOR or RECADV gives (:mod:`domain.exchange.messages`) and are applied
the same way.

A file is one row per requirement (a delivery schedule) or per package received (a
receiving advice); :data:`TARGETS` names the fields a mapping gives each document type.
Rows are grouped into documents: a schedule per schedule number and ship-to site (the
file's name when the file has no number), its lines per part; an advice per advice
number and the despatch advice or shipment it answers. Quantities are the mapping's, in
tonnes. A file is read whole or refused whole: every problem, each by its row and the
partner's column (:class:`domain.exchange.mapping.Refused`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from domain.calendar import MILL_TZ
from domain.errors import Invalid
from domain.exchange import messages as m
from domain.exchange.mapping import (
    Mapped,
    MappedRow,
    Mapping,
    Problem,
    Refused,
    Target,
    map_table,
    read_file,
)

__all__ = ["FIRMNESS", "TARGETS", "receiving_advices", "schedules"]

# Firmness as a mapping gives it (the partner's words through a code table).
FIRMNESS: tuple[m.Firmness, ...] = ("firm", "commitment_production", "commitment_material",
                                    "forecast")
DISCREPANCIES: tuple[m.Discrepancy, ...] = ("damaged", "missing", "extra", "not_advised",
                                            "late")
# The fields each document type's mapping may give, their types and whether it must.
TARGETS: dict[str, dict[str, Target]] = {
    "delivery_schedule": {
        # The schedule's number (else the file's name) and day of issue (else received).
        "schedule_number": Target("text", required=False),
        "issued_on": Target("date", required=False),
        # Keylink's site code, or the partner's through a code table.
        "ship_to": Target("text"),
        # A row names the customer's part number or the mill's spec code, or both.
        "part_number": Target("text", required=False),
        "spec": Target("text", required=False),
        "line": Target("integer", required=False),
        "quantity": Target("quantity"),
        "delivery_from": Target("date"),
        # The last day of a period; a single day without it.
        "delivery_to": Target("date", required=False),
        "firmness": Target("text"),
    },
    "receiving_advice": {
        "advice_number": Target("text", required=False),
        "received_on": Target("date", required=False),
        # The despatch advice (DESADV) answered, or the shipment and its leg.
        "despatch_advice": Target("text", required=False),
        "shipment": Target("text", required=False),
        "leg": Target("integer", required=False),
        # A package is named by its SSCC or its coil number.
        "sscc": Target("text", required=False),
        "coil": Target("text", required=False),
        "received": Target("quantity"),
        "discrepancy": Target("text", required=False),
        "variance": Target("decimal", required=False),
    },
}


class _Rows:
    """The mapped rows of a file, and every problem: the mapping's and the document's."""

    def __init__(self, mapping: Mapping, mapped: Mapped) -> None:
        self.mapping = mapping
        self.problems: list[Problem] = list(mapped.problems)
        self.rows = [r for r in mapped.rows if not r.problems]

    def bad(self, row: MappedRow, name: str, reason: str) -> None:
        f = self.mapping.fields.get(name)
        column = f.column.label if f is not None and f.column is not None else None
        self.problems.append(Problem(row.row, column, row.raw.get(name), reason, name))

    def refuse(self) -> None:
        if self.problems:
            raise Refused(sorted(self.problems, key=lambda p: p.row))


def _read(mapping: Mapping, name: str, content: bytes, kind: str) -> _Rows:
    filename = name if name.lower().endswith(f".{kind}") else f"{name}.{kind}"
    rows = _Rows(mapping, map_table(mapping, read_file(mapping, filename, content)))
    if any(p.code == "missing_column" for p in rows.problems):
        rows.refuse()
    return rows


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0][:m.MAX_ID] or "file"


def _moment(day: date | None, otherwise: datetime) -> datetime:
    return datetime.combine(day, datetime.min.time(), MILL_TZ) if day else otherwise


def _built(rows: _Rows, row: MappedRow, make: Callable[[], Any],
           fields: dict[str, str]) -> Any:
    """``make()``, or None with its complaint on the row, at the column of the field it
    names (``fields`` maps the message's field names to the mapping's)."""
    try:
        return make()
    except Invalid as e:
        rows.bad(row, fields.get(e.field or "", next(iter(fields.values()))), e.message)
        return None


def _entry(tonnes: Decimal, firmness: m.Firmness, first: date, last: date
           ) -> m.ScheduleEntry:
    return m.ScheduleEntry(m.Quantity(tonnes, "TNE"), firmness, first, last)


def _package(sscc: str | None, coil: str | None, tonnes: Decimal,
             discrepancy: m.Discrepancy | None, variance: Decimal | None
             ) -> m.ReceivedPackage:
    return m.ReceivedPackage(sscc=sscc, coil_no=coil, received=m.Quantity(tonnes, "TNE"),
                             discrepancy=discrepancy, variance=variance)


def schedules(mapping: Mapping, name: str, content: bytes, *, kind: str, buyer_code: str,
              received_at: datetime) -> list[m.DeliverySchedule]:
    """The delivery schedules of a partner's ``kind`` (csv or xlsx) file, or
    :class:`Refused` with every problem by row and column."""
    rows = _read(mapping, name, content, kind)
    # (number, ship-to) -> (issued, part -> (line number, entries))
    found: dict[tuple[str, str], tuple[datetime, dict[tuple[str | None, str | None],
                                                       tuple[int, list[m.ScheduleEntry]]]]] = {}
    for row in rows.rows:
        v = row.values
        part, spec = v.get("part_number"), v.get("spec")
        if not part and not spec:
            rows.bad(row, "part_number" if "part_number" in mapping.fields else "spec",
                     "the row names no part: the customer's part number or the mill's spec")
        firmness = v["firmness"]
        if firmness not in FIRMNESS:
            rows.bad(row, "firmness", f"{firmness!r} is not one of {', '.join(FIRMNESS)}")
            continue
        first: date = v["delivery_from"]
        last: date = v.get("delivery_to") or first
        entry = _built(rows, row, partial(
            _entry, Decimal(v["quantity"]), firmness, first, last),
            {"value": "quantity", "quantity": "quantity", "deliveryTo": "delivery_to",
             "deliveryFrom": "delivery_from"})
        if entry is None or (not part and not spec):
            continue
        number = v.get("schedule_number") or _stem(name)
        issued, lines = found.setdefault((number, v["ship_to"]),
                                         (_moment(v.get("issued_on"), received_at), {}))
        line = lines.setdefault((part, spec), (v.get("line") or row.row, []))
        line[1].append(entry)
    rows.refuse()
    out = []
    for (number, ship_to), (issued, lines) in found.items():
        out.append(m.DeliverySchedule(
            document_number=number, function="original", issued_at=issued,
            buyer_code=buyer_code, supplier_code=None, ship_to_site_code=ship_to,
            ship_to_gln=None, lines=tuple(
                m.ScheduleLine(line_no=n, customer_part_number=part, spec_code=spec,
                               entries=tuple(entries))
                for (part, spec), (n, entries) in lines.items())))
    return out


def receiving_advices(mapping: Mapping, name: str, content: bytes, *, kind: str,
                      received_at: datetime) -> list[m.ReceivingAdvice]:
    """The receiving advices of a partner's ``kind`` (csv or xlsx) file, or
    :class:`Refused` with every problem by row and column."""
    rows = _read(mapping, name, content, kind)
    found: dict[tuple[str, str | None, str | None, int | None],
                tuple[datetime, list[m.ReceivedPackage]]] = {}
    for row in rows.rows:
        v = row.values
        despatch, shipment = v.get("despatch_advice"), v.get("shipment")
        if not despatch and not shipment:
            rows.bad(row, "despatch_advice" if "despatch_advice" in mapping.fields
                     else "shipment", "the row names neither the despatch advice nor the "
                     "shipment it answers")
        discrepancy = v.get("discrepancy")
        if discrepancy is not None and discrepancy not in DISCREPANCIES:
            rows.bad(row, "discrepancy", f"{discrepancy!r} is not one of "
                     f"{', '.join(DISCREPANCIES)}")
            continue
        package = _built(rows, row, partial(
            _package, v.get("sscc"), v.get("coil"), Decimal(v["received"]), discrepancy,
            v.get("variance")),
            {"sscc": "sscc" if "sscc" in mapping.fields else "coil", "coilNo": "coil",
             "value": "received", "received": "received", "variance": "variance"})
        if package is None or (not despatch and not shipment):
            continue
        key = (v.get("advice_number") or _stem(name), despatch, shipment, v.get("leg"))
        found.setdefault(key, (_moment(v.get("received_on"), received_at), []))[1].append(
            package)
    rows.refuse()
    return [m.ReceivingAdvice(document_number=number, received_at=at,
                              despatch_advice_number=despatch, shipment_number=shipment,
                              leg_seq=leg, packages=tuple(packages))
            for (number, despatch, shipment, leg), (at, packages) in found.items()]
