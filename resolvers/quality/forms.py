"""The read planner's forms of coils, heats and certificates (see resolvers/forms.py)."""

from __future__ import annotations

from typing import Any

from domain.tenancy import Where
from resolvers.forms import Join, Pages, Planned, RootOne, columns
from resolvers.quality.types import Coil, Heat, QualityCertificate
from resolvers.relay import exactly_one, expect_id

PLANNED = {
    Coil: Planned("coil", {
        **columns("coil_no", "kind", "thickness_mm", "width_mm", "weight_kg",
                  "quality_status", "produced_at"),
        "heat": Join("{c}.id = {t}.heat_id"),
        "spec": Join("{c}.id = {t}.spec_id"),
        "contract_line": Join("{c}.id = {t}.line_id"),
        "certificate": Join("{c}.coil_id = {t}.id"),
    }),
    Heat: Planned("heat", {
        **columns("heat_no", "grade", "tapped_at", "weight_t"),
        "coils": Pages("{c}.heat_id = {t}.id"),
    }),
    QualityCertificate: Planned("quality_certificate", columns(
        "cert_no", "certificate_type", "yield_strength_mpa", "tensile_strength_mpa",
        "elongation_pct", "coating_designation", "coating_mass_g_m2", "issued_at",
        "issued_by", "content_hash", "limits_revision")),
}


def coil_one(where: Where, args: dict[str, Any]) -> RootOne:
    gid, number = args.get("id"), args.get("coil_number")
    exactly_one(gid, number, "coilNumber")
    if gid is not None:
        return RootOne("coil", f"{{c}}.id = {where.arg(expect_id(gid, 'Coil'))}::bigint")
    return RootOne("coil", f"{{c}}.coil_no = {where.arg(number)}::text")


def heat_one(where: Where, args: dict[str, Any]) -> RootOne:
    gid, number = args.get("id"), args.get("heat_number")
    exactly_one(gid, number, "heatNumber")
    if gid is not None:
        return RootOne("heat", f"{{c}}.id = {where.arg(expect_id(gid, 'Heat'))}::bigint")
    return RootOne("heat", f"{{c}}.heat_no = {where.arg(number)}::text")


ROOTS = {"coil": coil_one, "heat": heat_one}
