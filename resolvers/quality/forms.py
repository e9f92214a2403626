"""The read planner's forms of coils, heats and certificates (see resolvers/forms.py)."""

from __future__ import annotations

from resolvers.forms import Join, Planned, columns
from resolvers.quality.types import Coil, Heat, QualityCertificate

PLANNED = {
    Coil: Planned("coil", {
        **columns("coil_no", "kind", "thickness_mm", "width_mm", "weight_kg",
                  "quality_status", "produced_at"),
        "heat": Join("{c}.id = {t}.heat_id"),
        "spec": Join("{c}.id = {t}.spec_id"),
        "contract_line": Join("{c}.id = {t}.line_id"),
        "certificate": Join("{c}.coil_id = {t}.id"),
    }),
    Heat: Planned("heat", columns("heat_no", "grade", "tapped_at", "weight_t")),
    QualityCertificate: Planned("quality_certificate", columns(
        "cert_no", "certificate_type", "yield_strength_mpa", "tensile_strength_mpa",
        "elongation_pct", "coating_designation", "coating_mass_g_m2", "issued_at",
        "issued_by", "content_hash", "limits_revision")),
}
