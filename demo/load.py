"""Writing the generated demo rows: ids from each table's sequence, then one COPY a table.

Ids are drawn from the identity sequences (so later inserts never collide) before
the rows are written, which lets children carry their parents' ids without a round
trip per row. COPY's binary format has no encoder for the connection's text jsonb
codec, so tables with jsonb columns go through a temporary table with text columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import asyncpg

from domain.db import Transaction, json_dumps
from domain.quality.limits import SpecLimits

from .build import DemoData
from .catalogue import CHEMISTRY


class _HasId(Protocol):
    id: int


def _id(obj: _HasId | None) -> int | None:
    return None if obj is None else obj.id


async def _ids(tx: Transaction, table: str, objects: Sequence[_HasId]) -> None:
    if not objects:
        return
    rows = await tx.fetch(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)",
        table, len(objects),
    )
    for obj, row in zip(objects, rows, strict=True):
        obj.id = row[0]


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


async def write(tx: Transaction, data: DemoData, step: Callable[[str], None]) -> None:
    step("writing organizations, sites and specs")
    orgs, sites = list(data.orgs.values()), list(data.sites.values())
    await _ids(tx, "organization", orgs)
    await _copy(tx, "organization", "id, code, name, kind",
                [(o.id, o.code, o.name, o.kind) for o in orgs])
    await _ids(tx, "site", sites)
    await _copy(tx, "site",
                "id, code, name, kind, org_id, latitude, longitude, geofence, geofence_radius_m",
                [(s.id, s.code, s.name, s.kind, _id(s.org), s.latitude, s.longitude, s.geofence,
                  s.radius_m) for s in sites], ["geofence"])
    await _ids(tx, "steel_spec", data.specs)
    await _copy(tx, "steel_spec",
                "id, code, grade, standard, product, thickness_mm, width_mm, coating, "
                "customer_org_id, customer_part_number, coil_nominal_weight_t, "
                "chemistry_limits, yield_min_mpa, yield_max_mpa, tensile_min_mpa, "
                "tensile_max_mpa, elongation_min_pct, coating_min_g_m2, limits_revision, "
                "limits_changed_at, limits_changed_by",
                [(s.id, s.d.code, s.d.grade, s.d.standard, s.d.product, s.d.thickness_mm,
                  s.d.width_mm, s.d.coating, _id(s.customer), s.d.part_no, s.d.nominal_t,
                  *_limit_columns(s.limits), 1, s.limits_set_at, "qa.wang")
                 for s in data.specs], ["chemistry_limits"])
    await _contracts(tx, data, step)
    await _material(tx, data, step)
    await _quality(tx, data, step)


async def _contracts(tx: Transaction, data: DemoData, step: Callable[[str], None]) -> None:
    step("writing contracts and lines")
    await _ids(tx, "contract", data.contracts)
    await _copy(tx, "contract",
                "id, number, customer_org_id, status, currency, incoterm, signed_on, "
                "confirmed_at, sales_owner, created_at, updated_at",
                [(c.id, c.number, c.customer.id, c.status, "CNY", "DAP", c.signed_on,
                  c.confirmed_at, c.sales_owner, c.created_at, c.updated_at)
                 for c in data.contracts])
    lines = data.lines
    await _ids(tx, "contract_line", lines)
    await _copy(tx, "contract_line",
                "id, contract_id, customer_org_id, line_no, spec_id, quantity_t, unit_price, "
                "delivery_from, delivery_to, delivery_site_id, transport_mode, transit_days, "
                "firmness, status, shipped_t",
                [(ln.id, _id(ln.contract), ln.customer.id, ln.line_no, ln.spec.id, ln.quantity_t,
                  ln.unit_price, ln.delivery_from, ln.delivery_to, ln.site.id, ln.transport_mode,
                  ln.transit_days, ln.firmness, ln.status, ln.shipped_t) for ln in lines])
    step("writing production orders, stage plans and progress")
    planned = [ln for ln in lines if ln.timeline is not None]
    rows = await tx.fetch(
        "SELECT nextval(pg_get_serial_sequence('production_order', 'id'))"
        " FROM generate_series(1, $1)", len(planned))
    orders, plans, events = [], [], []
    for line, row in zip(planned, rows, strict=True):
        assert line.timeline is not None and line.contract is not None
        line.order_id = row[0]
        contract = line.contract
        orders.append((line.order_id, f"PO-{contract.number}-{line.line_no:02d}", line.id,
                       line.customer.id, line.quantity_t,
                       contract.confirmed_at or contract.created_at))
        plans += [(line.order_id, p.stage, p.planned_start, p.planned_end, p.planned_t)
                  for p in line.timeline.plans]
        events += [(line.order_id, e.stage, e.tonnes, e.completes, e.occurred_at, e.recorded_by,
                    e.recorded_at, e.note) for e in line.events]
    await _copy(tx, "production_order",
                "id, order_no, line_id, customer_org_id, quantity_t, created_at", orders)
    await _copy(tx, "production_stage_plan",
                "order_id, stage, planned_start, planned_end, planned_t", plans)
    await _copy(tx, "progress_event",
                "order_id, stage, tonnes, completes_stage, occurred_at, recorded_by, "
                "recorded_at, note", events)


async def _material(tx: Transaction, data: DemoData, step: Callable[[str], None]) -> None:
    step("writing heats, slabs, coils and genealogy")
    m, plant = data.material, data.sites["BAOSHAN"]
    await _ids(tx, "heat", m.heats)
    await _copy(tx, "heat", "id, heat_no, grade, site_id, tapped_at, weight_t, chemistry",
                [(h.id, h.heat_no, _grade(h.family), plant.id, h.tapped_at, h.weight_t,
                  h.chemistry) for h in m.heats], ["chemistry"])
    await _ids(tx, "slab", m.slabs)
    await _copy(tx, "slab",
                "id, slab_no, heat_id, weight_kg, thickness_mm, width_mm, length_mm, cast_at",
                [(s.id, s.slab_no, _id(s.heat), s.weight_kg, s.thickness_mm, s.width_mm,
                  s.length_mm, s.cast_at) for s in m.slabs])
    await _ids(tx, "coil", m.coils)
    await _copy(tx, "coil",
                "id, coil_no, kind, heat_id, slab_id, spec_id, line_id, customer_org_id, "
                "thickness_mm, width_mm, weight_kg, quality_status, produced_at",
                [(c.id, c.coil_no, c.kind, c.heat.id, c.slab.id, _id(c.spec), _id(c.line),
                  _id(c.customer), c.thickness_mm, c.width_mm, c.weight_kg, c.quality_status,
                  c.produced_at) for c in m.coils])
    await _copy(tx, "genealogy_edge",
                "parent_slab_id, parent_coil_id, child_coil_id, operation, input_weight_kg, "
                "output_weight_kg, occurred_at",
                [(_id(e.parent_slab), _id(e.parent_coil), e.child.id, e.operation, e.input_kg,
                  e.output_kg, e.occurred_at) for e in m.edges])


async def _quality(tx: Transaction, data: DemoData, step: Callable[[str], None]) -> None:
    step("writing inspections, certificates, feedback and settlements")
    await _copy(tx, "inspection", "coil_id, kind, result, inspected_at, inspector, findings",
                [(i.coil.id, i.kind, i.result, i.inspected_at, i.inspector, i.findings)
                 for i in data.inspections])
    await _copy(tx, "quality_certificate",
                "cert_no, certificate_type, coil_id, heat_id, customer_org_id, chemistry, "
                "yield_strength_mpa, tensile_strength_mpa, elongation_pct, coating_designation, "
                "coating_mass_g_m2, issued_at, issued_by, content, content_hash, limits, "
                "limits_revision",
                [(c.cert_no, "3.1", c.coil.id, c.coil.heat.id, c.customer.id,
                  c.coil.heat.chemistry, c.yield_mpa, c.tensile_mpa, c.elongation_pct, c.coating,
                  c.coating_g_m2, c.issued_at, c.issued_by, c.content, c.content_hash,
                  c.limits, c.limits_revision)
                 for c in data.certificates], ["chemistry", "content", "limits"])
    await _copy(tx, "processing_feedback",
                "coil_id, customer_org_id, process, result, notes, recorded_by, recorded_at",
                [(f.coil.id, f.customer.id, f.process, f.result, f.notes, f.recorded_by,
                  f.recorded_at) for f in data.feedback])
    await _copy(tx, "settlement",
                "number, contract_id, customer_org_id, currency, theoretical_weight_t, "
                "actual_weight_t, unit_price, goods_amount, surcharges, freight, "
                "claim_deductions, invoice_status, issued_on, due_on, paid_on, created_at",
                [(s.number, s.contract.id, s.contract.customer.id, "CNY", s.theoretical_t,
                  s.actual_t, s.unit_price, s.goods, s.surcharges, s.freight, s.deductions,
                  s.invoice_status, s.issued_on, s.due_on, s.paid_on, s.created_at)
                 for s in data.settlements])


def _limit_columns(limits: SpecLimits) -> tuple[Any, ...]:
    """A spec's limits as steel_spec's columns, from chemistry_limits to coating_min_g_m2."""
    return ({e: r.as_entered() for e, r in sorted(limits.chemistry.items())},
            limits.yield_strength_mpa.min, limits.yield_strength_mpa.max,
            limits.tensile_strength_mpa.min, limits.tensile_strength_mpa.max,
            limits.elongation_min_pct, limits.coating_mass_min_g_m2)


def _grade(family: str) -> str:
    return CHEMISTRY[family][0]
