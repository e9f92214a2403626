"""The demo case as the mill's own systems feed it: records of every kind a plant writes
(see :mod:`domain.feeds`), one NDJSON line each, from the built :class:`DemoData` and the
planned :class:`Shipping`.

The seed applies them through the feeds like any plant's batch, so the demo proves the
interface; ``keylink seed-demo --records-out DIR`` writes them as files, one per kind,
for integrators to start from. Kinds come in :data:`ORDER`, each naming only what comes
before it (a coil's parent coil comes before the coil). Every record carries the same
version, the mill's day at midnight in RFC 3339: what a nightly export would stamp them
with, so a later day's export of a changed record wins and the same day's is unchanged.

What arises from activity on the platform rather than from a plant's systems (progress
reports, feedback, settlements, tracks, scans, the states contracts and legs were moved
to) is not here: the seed writes it after the records are applied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from domain.quality.limits import Range, SpecLimits

from .build import DemoData
from .catalogue import CHEMISTRY
from .fleet import CARRIER, scanner_code
from .model import Coil, Edge, Line
from .schedule import CST
from .tracking import Shipping

__all__ = ["LATER", "ORDER", "encoded", "encoded_payments", "file_name", "order_no",
           "payments", "records", "version", "write_files"]

# The order records are applied in: each kind refers only to kinds before it.
ORDER = ("organization", "site", "spec", "vehicle", "device", "heat", "slab", "contract",
         "production_order", "coil", "inspection", "certificate", "shipment")
# Kinds whose records name what the platform itself writes (payments name settlements,
# which finance draws up): the seed feeds them after, and the files leave them out.
LATER = ("payment",)
# The plant where every heat is tapped.
PLANT = "BAOSHAN"
# Statuses a contract is fed with; past confirmation, its status is the platform's.
_FED_STATUS = {"draft": "draft", "cancelled": "cancelled"}
# Lines per chunk of the encoded stream.
_CHUNK_LINES = 500

Record = dict[str, Any]


def version(today: date) -> str:
    """The version every record of the day's demo carries."""
    return datetime.combine(today, datetime.min.time(), CST).isoformat()


def order_no(line: Line) -> str:
    """The production order's number of a contract line."""
    assert line.contract is not None
    return f"PO-{line.contract.number}-{line.line_no:02d}"


def inspection_key(coil: Coil, kind: str) -> str:
    """The quality system's id of an inspection: one of each kind per coil."""
    return f"QI-{coil.coil_no}-{kind}"


def file_name(kind: str) -> str:
    """The file of a kind's records: numbered, so that file-name order is feed order."""
    return f"{ORDER.index(kind) + 1:02d}-{kind}.ndjson"


def payments(data: DemoData, today: date) -> Iterator[Record]:
    """The payments the mill's ERP received against the demo's invoices. They name
    settlements, which the platform draws up: the seed feeds them once the settlements
    are written, so :func:`records` (and its files) leave them out."""
    stamp = version(today)
    for s in data.settlements:
        for reference, amount, on in s.payments:
            yield {"kind": "payment", "key": reference, "version": stamp,
                   "data": {"settlement": s.number, "amount": str(amount),
                            "paidOn": on.isoformat()}}


async def encoded_payments(data: DemoData, today: date) -> AsyncIterator[bytes]:
    yield b"".join(orjson.dumps(r) + b"\n" for r in payments(data, today))


def records(data: DemoData, shipping: Shipping, today: date) -> Iterator[Record]:
    """Every record of the demo, in :data:`ORDER`."""
    stamp = version(today)
    for kind, key, body in _bodies(data, shipping):
        yield {"kind": kind, "key": key, "version": stamp, "data": _clean(body)}


async def encoded(data: DemoData, shipping: Shipping, today: date) -> AsyncIterator[bytes]:
    """The records as an NDJSON stream, a few hundred lines at a time, never whole."""
    lines: list[bytes] = []
    for record in records(data, shipping, today):
        lines.append(orjson.dumps(record))
        if len(lines) >= _CHUNK_LINES:
            yield b"\n".join(lines) + b"\n"
            lines = []
    if lines:
        yield b"\n".join(lines) + b"\n"


def write_files(directory: Path, data: DemoData, shipping: Shipping,
                today: date) -> dict[str, int]:
    """The records as one NDJSON file per kind in ``directory`` (see :func:`file_name`),
    written as they are made; returns how many records of each kind."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(ORDER, 0)
    out = None
    try:
        for record in records(data, shipping, today):
            kind = record["kind"]
            if out is None or out.name != str(directory / file_name(kind)):
                if out is not None:
                    out.close()
                out = (directory / file_name(kind)).open("wb")
            out.write(orjson.dumps(record) + b"\n")
            counts[kind] += 1
    finally:
        if out is not None:
            out.close()
    for kind in ORDER:  # a kind without records still has its (empty) file
        if counts[kind] == 0:
            (directory / file_name(kind)).write_bytes(b"")
    return counts


def _bodies(data: DemoData, shipping: Shipping) -> Iterator[tuple[str, str, Record]]:
    for org in data.orgs.values():
        yield "organization", org.code, {"name": org.name, "kind": org.kind}
    for site in data.sites.values():
        yield "site", site.code, {
            "name": site.name, "kind": site.kind,
            "organization": None if site.org is None else site.org.code,
            "latitude": site.latitude, "longitude": site.longitude,
            "geofence": site.geofence, "geofenceRadiusM": site.radius_m}
    for spec in data.specs:
        d = spec.d
        yield "spec", d.code, {
            "grade": d.grade, "standard": d.standard, "product": d.product,
            "thicknessMm": _dec(d.thickness_mm), "widthMm": _dec(d.width_mm),
            "coating": d.coating, "customer": None if spec.customer is None else spec.customer.code,
            "customerPartNumber": d.part_no, "coilNominalWeightT": _dec(d.nominal_t),
            "limits": _limits(spec.limits)}
    fleet = shipping.fleet
    for v in fleet.vehicles:
        yield "vehicle", v.code, {"kind": v.kind, "name": v.name, "plate": v.plate,
                                  "mmsi": v.mmsi, "imo": v.imo, "carrier": v.carrier}
    for v in fleet.vehicles:
        yield "device", v.device_code, {
            "kind": "ais_gateway" if v.kind == "ship" else "gps_unit", "vehicle": v.code}
    for site_code in fleet.scanners:
        yield "device", scanner_code(site_code), {"kind": "scanner", "site": site_code}
    yield from _material(data)
    yield from _commercial(data)
    edges = {e.child: e for e in data.material.edges}
    for coil in data.material.coils:
        yield "coil", coil.coil_no, _coil(coil, edges[coil])
    for i in data.inspections:
        yield "inspection", inspection_key(i.coil, i.kind), {
            "coil": i.coil.coil_no, "kind": i.kind, "result": i.result,
            "inspectedAt": _time(i.inspected_at), "inspector": i.inspector,
            "findings": i.findings}
    for c in data.certificates:
        yield "certificate", c.cert_no, _clean({
            "coil": c.coil.coil_no, "certificateType": "3.1",
            "yieldStrengthMpa": _dec(c.yield_mpa), "tensileStrengthMpa": _dec(c.tensile_mpa),
            "elongationPct": _dec(c.elongation_pct), "coatingDesignation": c.coating,
            "coatingMassGM2": None if c.coating_g_m2 is None else _dec(c.coating_g_m2),
            "issuedAt": _time(c.issued_at), "issuedBy": c.issued_by})
    for s in shipping.shipments:
        yield "shipment", s.number, {
            "carrier": CARRIER[s.customer],
            "legs": [_clean({
                "mode": leg.mode, "vehicle": None if leg.vehicle is None else leg.vehicle.code,
                "origin": leg.origin, "destination": leg.destination,
                "plannedDeparture": _time(leg.planned_departure),
                "plannedArrival": _time(leg.planned_arrival), "promisedBy": _time(leg.promised_by),
                "coils": [c.coil_no for c in s.coils]}) for leg in s.legs]}


def _limits(limits: SpecLimits) -> Record:
    """A spec's limits as the spec record carries them (bounds as entered)."""
    def bounds(r: Range) -> Record:
        return _clean(r.as_entered())

    return _clean({
        "chemistryPct": {e: bounds(r) for e, r in sorted(limits.chemistry.items())},
        "yieldStrengthMpa": bounds(limits.yield_strength_mpa),
        "tensileStrengthMpa": bounds(limits.tensile_strength_mpa),
        "elongationMinPct": None if limits.elongation_min_pct is None
        else _dec(limits.elongation_min_pct),
        "coatingMassMinGM2": None if limits.coating_mass_min_g_m2 is None
        else _dec(limits.coating_mass_min_g_m2)})


def _material(data: DemoData) -> Iterator[tuple[str, str, Record]]:
    m = data.material
    for h in m.heats:
        yield "heat", h.heat_no, {
            "grade": CHEMISTRY[h.family][0], "site": PLANT, "tappedAt": _time(h.tapped_at),
            "weightT": _dec(h.weight_t),
            "chemistry": {element: _dec(share) for element, share in h.chemistry.items()}}
    for s in m.slabs:
        assert s.heat is not None and s.cast_at is not None
        yield "slab", s.slab_no, {
            "heat": s.heat.heat_no, "weightKg": _dec(s.weight_kg),
            "thicknessMm": _dec(s.thickness_mm), "widthMm": _dec(s.width_mm),
            "lengthMm": _dec(s.length_mm), "castAt": _time(s.cast_at)}


def _commercial(data: DemoData) -> Iterator[tuple[str, str, Record]]:
    for c in data.contracts:
        yield "contract", c.number, {
            "customer": c.customer.code, "currency": "CNY", "incoterm": "DAP",
            "signedOn": _day(c.signed_on), "salesOwner": c.sales_owner,
            "status": _FED_STATUS.get(c.status, "confirmed"),
            "lines": [_clean({
                "lineNo": ln.line_no, "spec": ln.spec.d.code, "quantityT": _dec(ln.quantity_t),
                "unitPrice": _dec(ln.unit_price), "deliveryFrom": _day(ln.delivery_from),
                "deliveryTo": _day(ln.delivery_to), "deliverySite": ln.site.code,
                "transportMode": ln.transport_mode, "transitDays": ln.transit_days,
                "firmness": ln.firmness}) for ln in c.lines]}
    for line in data.lines:
        if line.timeline is None:
            continue
        assert line.contract is not None
        yield "production_order", order_no(line), {
            "contract": line.contract.number, "lineNo": line.line_no,
            "quantityT": _dec(line.quantity_t),
            "stages": [{"stage": p.stage, "plannedStart": _day(p.planned_start),
                        "plannedEnd": _day(p.planned_end), "plannedT": _dec(p.planned_t)}
                       for p in line.timeline.plans]}


def _coil(coil: Coil, edge: Edge) -> Record:
    line = coil.line
    parent: Record = ({"slab": edge.parent_slab.slab_no} if edge.parent_slab is not None
                      else {"coil": edge.parent_coil.coil_no if edge.parent_coil else None})
    return {
        "kind": coil.kind, "heat": coil.heat.heat_no, "slab": coil.slab.slab_no,
        "spec": None if coil.spec is None else coil.spec.d.code,
        "contract": None if line is None or line.contract is None else line.contract.number,
        "lineNo": None if line is None else line.line_no,
        "thicknessMm": _dec(coil.thickness_mm), "widthMm": _dec(coil.width_mm),
        "weightKg": _dec(coil.weight_kg), "qualityStatus": coil.quality_status,
        "producedAt": _time(coil.produced_at),
        "parents": [{**parent, "operation": edge.operation,
                     "inputWeightKg": _dec(edge.input_kg),
                     "outputWeightKg": _dec(edge.output_kg),
                     "occurredAt": _time(edge.occurred_at)}]}


def _clean(body: Record) -> Record:
    """The data without its absent fields (a plant leaves out what it does not know)."""
    return {k: v for k, v in body.items() if v is not None}


def _dec(value: Decimal) -> str:
    """An exact decimal as the feeds take it: a plain decimal string."""
    return format(value, "f")


def _time(value: datetime) -> str:
    """A time in the mill's zone, with its offset."""
    return value.astimezone(CST).isoformat()


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
