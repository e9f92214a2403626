"""Writing the demo: the plant's records through the feeds, then what the platform's own
activity would have left, in the seed's one transaction.

1. The records of :mod:`demo.records` (organizations to shipments) are applied with
   :func:`domain.feeds.batch.run_batch_in`, streamed, all or nothing: the same checks
   and writes as any plant's batch. A record refused is the demo's fault and fails the
   seed.
2. The ids of what was written are looked up by natural key, one statement a table, and
   set on the demo's objects, which the later steps name.
3. History: the states and times the platform moved contracts, lines and orders to
   since (one ``UPDATE`` a table), then progress reports, certificates, feedback and
   settlements, one COPY a table. COPY's binary format has no encoder for the
   connection's text jsonb codec, so tables with jsonb columns go through a temporary
   table with text columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import asyncpg

from domain.actor import Actor
from domain.db import Transaction, json_dumps
from domain.feeds.batch import BatchResult, ndjson_lines, run_batch_in

from . import records
from .build import DemoData
from .fleet import scanner_code
from .tracking import Shipping

# Who the demo's records are applied as, and its other rows recorded by.
ACTOR = "demo"


class DemoRecordsRefused(RuntimeError):
    """The feeds refused some of the demo's records: the demo generated data a plant's
    system would be refused for."""

    def __init__(self, result: BatchResult) -> None:
        listed = "; ".join(f"line {r.line} {r.kind} {r.key} {r.field or ''}: {r.reason}"
                           for r in result.rejections[:5])
        super().__init__(f"{result.rejected} demo records refused: {listed}")
        self.result = result


class _HasId(Protocol):
    id: int


def _id(obj: _HasId | None) -> int | None:
    return None if obj is None else obj.id


async def _copy(tx: Transaction, table: str, columns: str, records: list[tuple[Any, ...]],
                json_columns: Sequence[str] = ()) -> None:
    conn: asyncpg.Connection = tx.connection
    names = [c.strip() for c in columns.split(",")]
    if not records:
        return
    if not json_columns:
        await conn.copy_records_to_table(table, records=records, columns=names)
        return
    at = {names.index(c) for c in json_columns}
    text = [tuple(json_dumps(v) if i in at and v is not None else v for i, v in enumerate(r))
            for r in records]
    staging = f"demo_stage_{table}"
    select = ", ".join(f"{c}::text AS {c}" if c in json_columns else c for c in names)
    await tx.execute(
        f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {select} FROM {table} WITH NO DATA"
    )
    await conn.copy_records_to_table(staging, records=text, columns=names)
    cast = ", ".join(f"{c}::jsonb" if c in json_columns else c for c in names)
    override = "OVERRIDING SYSTEM VALUE " if "id" in names else ""
    await tx.execute(f"INSERT INTO {table} ({', '.join(names)}) {override}"
                     f"SELECT {cast} FROM {staging}")


async def history(tx: Transaction, table: str, columns: Sequence[str], types: Sequence[str],
                  rows: Sequence[tuple[Any, ...]]) -> None:
    """Sets ``columns`` (the first is ``id``; ``types`` are the others' SQL types) of the
    rows of ``table`` named by id, in one statement: where the platform has moved them."""
    if not rows:
        return
    names = list(columns)
    unnest = ", ".join(f"${n}::{t}[]" for n, t in enumerate(["bigint", *types], start=1))
    sets = ", ".join(f"{c} = u.{c}" for c in names[1:])
    await tx.execute(
        f"UPDATE {table} t SET {sets} FROM unnest({unnest}) AS u({', '.join(names)})"
        " WHERE t.id = u.id", *(list(col) for col in zip(*rows, strict=True)))


async def write(tx: Transaction, data: DemoData, shipping: Shipping, today: date,
                step: Callable[[str], None]) -> None:
    step("applying the plant's records: organizations to shipments")
    result = await run_batch_in(tx, Actor.system(ACTOR),
                                ndjson_lines(records.encoded(data, shipping, today)))
    if result.status != "committed":
        raise DemoRecordsRefused(result)
    step(f"{result.applied} records applied; looking up their ids")
    await _adopt(tx, data, shipping)
    await _contracts(tx, data, step)
    await _quality(tx, data, today, step)


async def _by_key(tx: Transaction, table: str, column: str, objects: Mapping[str, Any],
                  attr: str = "id") -> None:
    """Sets ``attr`` of each object (by its natural key) to its row's id."""
    rows = await tx.fetch(f"SELECT {column} AS key, id FROM {table}"
                          f" WHERE {column} = ANY($1::text[])", list(objects))
    ids = {r["key"]: r["id"] for r in rows}
    for key, obj in objects.items():
        setattr(obj, attr, ids[key])


async def _adopt(tx: Transaction, data: DemoData, shipping: Shipping) -> None:
    """The ids of every applied record, set on the demo's objects."""
    m, fleet = data.material, shipping.fleet
    await _by_key(tx, "organization", "code", data.orgs)
    await _by_key(tx, "site", "code", data.sites)
    await _by_key(tx, "steel_spec", "code", {s.d.code: s for s in data.specs})
    await _by_key(tx, "contract", "number", {c.number: c for c in data.contracts})
    lines = {(r["contract_id"], r["line_no"]): r["id"] for r in await tx.fetch(
        "SELECT id, contract_id, line_no FROM contract_line"
        " WHERE contract_id = ANY($1::bigint[])", [c.id for c in data.contracts])}
    for line in data.lines:
        line.id = lines[(_id(line.contract), line.line_no)]
    await _by_key(tx, "production_order", "order_no",
                  {records.order_no(ln): ln for ln in data.lines if ln.timeline is not None},
                  "order_id")
    await _by_key(tx, "heat", "heat_no", {h.heat_no: h for h in m.heats})
    await _by_key(tx, "slab", "slab_no", {s.slab_no: s for s in m.slabs})
    await _by_key(tx, "coil", "coil_no", {c.coil_no: c for c in m.coils})
    await _by_key(tx, "vehicle", "code", {v.code: v for v in fleet.vehicles})
    await _by_key(tx, "device", "code", {v.device_code: v for v in fleet.vehicles},
                  "device_id")
    scanners = {r["code"]: r["id"] for r in await tx.fetch(
        "SELECT code, id FROM device WHERE code = ANY($1::text[])",
        [scanner_code(s) for s in fleet.scanners])}
    for site in fleet.scanners:
        fleet.scanners[site] = scanners[scanner_code(site)]
    await _by_key(tx, "shipment", "number", {s.number: s for s in shipping.shipments})
    legs: dict[int, list[int]] = {}
    for r in await tx.fetch(
            "SELECT shipment_id, id FROM shipment_leg WHERE shipment_id = ANY($1::bigint[])"
            " ORDER BY shipment_id, seq", [s.id for s in shipping.shipments]):
        legs.setdefault(r["shipment_id"], []).append(r["id"])
    for s in shipping.shipments:
        s.leg_ids = legs[s.id]


async def _contracts(tx: Transaction, data: DemoData, step: Callable[[str], None]) -> None:
    step("writing where contracts stand, production progress")
    # Fed as draft, confirmed or cancelled; production, shipping and settling moved them on.
    await history(tx, "contract", ("id", "status", "confirmed_at", "created_at", "updated_at"),
                  ("text", "timestamptz", "timestamptz", "timestamptz"),
                  [(c.id, c.status, c.confirmed_at, c.created_at, c.updated_at)
                   for c in data.contracts])
    lines = data.lines
    await history(tx, "contract_line", ("id", "status", "shipped_t"), ("text", "numeric"),
                  [(ln.id, ln.status, ln.shipped_t) for ln in lines])
    planned = [ln for ln in lines if ln.timeline is not None]
    await history(tx, "production_order", ("id", "created_at"), ("timestamptz",),
                  [(ln.order_id, _ordered(ln)) for ln in planned])
    await _copy(tx, "progress_event",
                "order_id, stage, tonnes, completes_stage, occurred_at, recorded_by, "
                "recorded_at, note",
                [(ln.order_id, e.stage, e.tonnes, e.completes, e.occurred_at, e.recorded_by,
                  e.recorded_at, e.note) for ln in planned for e in ln.events])


def _ordered(line: Any) -> Any:
    contract = line.contract
    return contract.confirmed_at or contract.created_at


async def _quality(tx: Transaction, data: DemoData, today: date,
                   step: Callable[[str], None]) -> None:
    step("writing feedback and settlements")
    await _copy(tx, "processing_feedback",
                "coil_id, customer_org_id, process, result, notes, recorded_by, recorded_at",
                [(f.coil.id, f.customer.id, f.process, f.result, f.notes, f.recorded_by,
                  f.recorded_at) for f in data.feedback])
    await _copy(tx, "settlement",
                "number, contract_id, customer_org_id, currency, theoretical_weight_t, "
                "actual_weight_t, unit_price, goods_amount, surcharges, freight, "
                "claim_deductions, invoice_status, paid_on, issued_on, due_on, created_at",
                [(s.number, s.contract.id, s.contract.customer.id, "CNY", s.theoretical_t,
                  s.actual_t, s.unit_price, s.goods, s.surcharges, s.freight, s.deductions,
                  *(("issued", None) if _paid_by_payments(s) else (s.invoice_status, s.paid_on)),
                  s.issued_on, s.due_on, s.created_at)
                 for s in data.settlements])
    # The ERP's payments, through the feeds: those covering an invoice make it paid.
    result = await run_batch_in(tx, Actor.system(ACTOR),
                                ndjson_lines(records.encoded_payments(data, today)))
    if result.status != "committed":
        raise DemoRecordsRefused(result)
    step(f"{result.applied} payments applied")


def _paid_by_payments(s: Any) -> bool:
    return bool(s.invoice_status == "paid" and s.payments)


