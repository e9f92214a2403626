"""Small, exact test data: two customers, each with a contract, a line in production,
coils from one shared heat, a certificate, an inspection, feedback and a settlement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.calendar import mill_today
from domain.contracts.stage_routes import plan_stages
from domain.db import Database
from domain.quality.certificates import certificate_content, content_hash

NOW = datetime.now(UTC)
# The mill's day, as the domain judges "today" (its time zone is ahead of UTC: from 16:00
# UTC on, the server's date.today() is already yesterday there).
TODAY = mill_today()


@dataclass
class World:
    org: dict[str, int] = field(default_factory=dict)
    contract: dict[str, int] = field(default_factory=dict)
    line: dict[str, int] = field(default_factory=dict)
    coils: dict[str, list[int]] = field(default_factory=dict)
    heat: int = 0
    slab: int = 0
    mother: int = 0
    spec: dict[str, int] = field(default_factory=dict)
    site: dict[str, int] = field(default_factory=dict)
    settlement: dict[str, int] = field(default_factory=dict)
    certificate: dict[str, int] = field(default_factory=dict)
    feedback: dict[str, int] = field(default_factory=dict)


async def build(db: Database) -> World:
    w = World()
    async with db.transaction() as tx:
        for code, kind in (("BAOSTEEL", "mill"), ("FAW-VW", "customer"), ("GALANZ", "customer")):
            w.org[code] = await tx.fetchval(
                "INSERT INTO organization (code, name, kind) VALUES ($1, $1, $2) RETURNING id",
                code, kind)
        w.site["plant"] = await tx.fetchval(
            "INSERT INTO site (code, name, kind, org_id, latitude, longitude, geofence_radius_m)"
            " VALUES ('BAOSHAN', 'Baoshan works', 'plant', $1, 31.40, 121.48, 2500) RETURNING id",
            w.org["BAOSTEEL"])
        for cust, grade, product in (("FAW-VW", "DC04", "cold_rolled"),
                                     ("GALANZ", "DX51D+Z", "galvanized")):
            w.site[cust] = await tx.fetchval(
                "INSERT INTO site (code, name, kind, org_id, latitude, longitude,"
                " geofence_radius_m) VALUES ($1, $1, 'customer_warehouse', $2, 43.9, 125.3, 300)"
                " RETURNING id", f"WH-{cust}", w.org[cust])
            w.spec[cust] = await tx.fetchval(
                "INSERT INTO steel_spec (code, grade, standard, product, thickness_mm, width_mm,"
                " customer_org_id, customer_part_number) VALUES ($1, $2, 'EN', $3, 0.8, 1250,"
                " $4, $5) RETURNING id", f"SP-{cust}", grade, product, w.org[cust], f"PN-{cust}")
            w.contract[cust] = await tx.fetchval(
                "INSERT INTO contract (number, customer_org_id, status, signed_on)"
                " VALUES ($1, $2, 'in_production', $3) RETURNING id",
                f"C-{cust}", w.org[cust], TODAY - timedelta(days=30))
            w.line[cust] = await tx.fetchval(
                "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id,"
                " quantity_t, unit_price, delivery_from, delivery_to, delivery_site_id,"
                " transport_mode, transit_days, status) VALUES ($1, $2, 1, $3, 120, 5200.50,"
                " $4, $5, $6, 'rail', 7, 'in_production') RETURNING id",
                w.contract[cust], w.org[cust], w.spec[cust], TODAY + timedelta(days=40),
                TODAY + timedelta(days=50), w.site[cust])
            order = await tx.fetchval(
                "INSERT INTO production_order (order_no, line_id, customer_org_id, quantity_t)"
                " VALUES ($1, $2, $3, 120) RETURNING id", f"PO-{cust}", w.line[cust], w.org[cust])
            for p in plan_stages(product, Decimal(120), TODAY - timedelta(days=10),
                                 TODAY + timedelta(days=25)):
                await tx.execute(
                    "INSERT INTO production_stage_plan VALUES ($1, $2, $3, $4, $5)",
                    order, p.stage, p.planned_start, p.planned_end, p.planned_t)
            await tx.execute(
                "INSERT INTO progress_event (order_id, stage, tonnes, completes_stage,"
                " occurred_at, recorded_by) VALUES ($1, 'steelmaking', 120, true, $2, 'prod')",
                order, NOW - timedelta(days=8))
        w.heat = await tx.fetchval(
            "INSERT INTO heat (heat_no, grade, tapped_at, weight_t, chemistry) VALUES"
            " ('26H00001', 'DC04', $1, 300, $2) RETURNING id",
            NOW - timedelta(days=9), {"C": Decimal("0.0030"), "Mn": Decimal("0.180")})
        w.slab = await tx.fetchval(
            "INSERT INTO slab (slab_no, heat_id, weight_kg, thickness_mm, width_mm, length_mm,"
            " cast_at) VALUES ('S1', $1, 24000, 230, 1300, 10000, $2) RETURNING id",
            w.heat, NOW - timedelta(days=9))
        w.mother = await _coil(tx, "HR-1", "hot_rolled", w, None, None, 23800)
        await _edge(tx, w.slab, None, w.mother, "roll", 24000, 23800)
        for cust in ("FAW-VW", "GALANZ"):
            ids = []
            for i in range(3):
                cid = await _coil(tx, f"{cust}-{i}", "slit", w, cust, w.line[cust], 3900)
                await _edge(tx, None, w.mother, cid, "slit", 23800, 3900)
                ids.append(cid)
            w.coils[cust] = ids
            first = ids[0]
            content = certificate_content(
                cert_no=f"QC-{cust}", certificate_type="3.1", heat_no="26H00001",
                coil_no=f"{cust}-0", grade="DC04", standard="EN 10130",
                chemistry={"C": Decimal("0.0030")}, yield_strength_mpa=Decimal(180),
                tensile_strength_mpa=Decimal(300), elongation_pct=Decimal(40),
                coating_designation=None, coating_mass_g_m2=None, issued_at=NOW, issued_by="qa")
            w.certificate[cust] = await tx.fetchval(
                "INSERT INTO quality_certificate (cert_no, coil_id, heat_id, customer_org_id,"
                " chemistry, yield_strength_mpa, tensile_strength_mpa, elongation_pct, issued_by,"
                " content, content_hash) VALUES ($1, $2, $3, $4, $5, 180, 300, 40, 'qa', $6, $7)"
                " RETURNING id", f"QC-{cust}", first, w.heat, w.org[cust],
                {"C": Decimal("0.0030")}, content, content_hash(content))
            await tx.execute(
                "INSERT INTO inspection (coil_id, kind, result, inspected_at, inspector)"
                " VALUES ($1, 'surface', 'pass', $2, 'qa')", first, NOW)
            w.feedback[cust] = await tx.fetchval(
                "INSERT INTO processing_feedback (coil_id, customer_org_id, process, result,"
                " recorded_by) VALUES ($1, $2, 'stamping', 'ok', 'buyer') RETURNING id",
                first, w.org[cust])
            w.settlement[cust] = await tx.fetchval(
                "INSERT INTO settlement (number, contract_id, customer_org_id, currency,"
                " theoretical_weight_t, actual_weight_t, unit_price, goods_amount, freight)"
                " VALUES ($1, $2, $3, 'CNY', 11.7, 11.712, 5200.50, 60908.26, 1200)"
                " RETURNING id", f"ST-{cust}", w.contract[cust], w.org[cust])
    return w


async def _coil(tx: object, no: str, kind: str, w: World, cust: str | None,
                line: int | None, kg: int) -> int:
    coil_id: int = await tx.fetchval(  # type: ignore[attr-defined]
        "INSERT INTO coil (coil_no, kind, heat_id, slab_id, spec_id, line_id, customer_org_id,"
        " thickness_mm, width_mm, weight_kg, produced_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
        " 0.8, 1250, $8, $9) RETURNING id",
        no, kind, w.heat, w.slab, w.spec.get(cust or ""), line,
        w.org[cust] if cust else None, kg, NOW - timedelta(days=5))
    return coil_id


async def _edge(tx: object, slab: int | None, parent: int | None, child: int, op: str,
                kg_in: int, kg_out: int) -> None:
    await tx.execute(  # type: ignore[attr-defined]
        "INSERT INTO genealogy_edge (parent_slab_id, parent_coil_id, child_coil_id, operation,"
        " input_weight_kg, output_weight_kg, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        slab, parent, child, op, kg_in, kg_out, NOW - timedelta(days=4))
