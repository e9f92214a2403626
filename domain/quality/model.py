"""Quality records of coils: certificates, inspections and the customer's feedback, and
who may write them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.actor import Permissions
from domain.db import decimals
from domain.quality.limits import Range, SpecLimits, chemistry_ranges


@dataclass(frozen=True, slots=True)
class Certificate:
    id: int
    cert_no: str
    certificate_type: str
    coil_id: int | None
    heat_id: int
    customer_org_id: int | None
    chemistry: dict[str, Any]
    yield_strength_mpa: Decimal
    tensile_strength_mpa: Decimal
    elongation_pct: Decimal
    coating_designation: str | None
    coating_mass_g_m2: Decimal | None
    issued_at: datetime
    issued_by: str
    # The certified document itself is loaded on demand: see contents_by_ids.
    content_hash: str
    # The revision of the spec's limits the values were checked against; None for a
    # certificate issued without limits. The limits themselves are loaded on demand: see
    # limits_by_certificate_ids.
    limits_revision: int | None


@dataclass(frozen=True, slots=True)
class SpecLimitsState:
    """A spec's current limits: revision 0 (and no limits) until some are set."""

    spec_id: int
    revision: int
    changed_at: datetime | None
    changed_by: str | None
    limits: SpecLimits | None


@dataclass(frozen=True, slots=True)
class Inspection:
    id: int
    coil_id: int
    kind: str
    result: str
    inspected_at: datetime
    inspector: str
    findings: str | None


@dataclass(frozen=True, slots=True)
class ProcessingFeedback:
    id: int
    coil_id: int
    customer_org_id: int
    process: str
    result: str
    notes: str | None
    recorded_by: str
    recorded_at: datetime


_CERT_COLS = (
    "q.id, q.cert_no, q.certificate_type, q.coil_id, q.heat_id, q.customer_org_id, q.chemistry,"
    " q.yield_strength_mpa, q.tensile_strength_mpa, q.elongation_pct, q.coating_designation,"
    " q.coating_mass_g_m2, q.issued_at, q.issued_by, q.content_hash, q.limits_revision"
)
# A certificate is seen by whoever owns its coil now (allocation can change after it was
# issued); a heat certificate without a coil is the mill's.
_CERT_OWNER = "LEFT JOIN coil o ON o.id = q.coil_id"
_INSPECTION_COLS = "i.id, i.coil_id, i.kind, i.result, i.inspected_at, i.inspector, i.findings"
_FEEDBACK_COLS = (
    "f.id, f.coil_id, f.customer_org_id, f.process, f.result, f.notes, f.recorded_by,"
    " f.recorded_at"
)


# A spec's limits as columns (steel_spec s).
_SPEC_LIMIT_COLS = (
    "s.chemistry_limits, s.yield_min_mpa, s.yield_max_mpa, s.tensile_min_mpa,"
    " s.tensile_max_mpa, s.elongation_min_pct, s.coating_min_g_m2, s.limits_revision,"
    " s.limits_changed_at, s.limits_changed_by"
)


def _certificate(row: Any) -> Certificate:
    values = dict(row)
    values["chemistry"] = decimals(values["chemistry"])
    return Certificate(**values)


def _spec_limits(row: Any) -> SpecLimits | None:
    """The limits in a row of ``_SPEC_LIMIT_COLS``; None while the spec has none."""
    if not row["limits_revision"]:
        return None
    return SpecLimits(
        chemistry=chemistry_ranges(row["chemistry_limits"]),
        yield_strength_mpa=Range(row["yield_min_mpa"], row["yield_max_mpa"]),
        tensile_strength_mpa=Range(row["tensile_min_mpa"], row["tensile_max_mpa"]),
        elongation_min_pct=row["elongation_min_pct"],
        coating_mass_min_g_m2=row["coating_min_g_m2"],
    )


PERMISSIONS = Permissions({
    "issue_certificate": ("quality", "admin"),
    # The limits a spec's certificates are held to are the quality department's.
    "set_spec_limits": ("quality", "admin"),
    "record_feedback": ("customer",),
})
