"""What the mill's coils of a spec measured against the spec's limits, over a period:
the spread of each tested value, its process capability, the first-pass yield, and the
revisions of the limits the certificates were issued against.

The values are the certified ones (each certificate carries the coil's yield, tensile
strength, elongation, coating mass and its heat's cast analysis), counted per coil made
in the period, within the viewer's scope: a customer's figures are of its own coils
only. PostgreSQL aggregates them (count, mean, sample standard deviation, least, most);
:func:`cpk` is the one formula applied after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.db import Executor, Record
from domain.errors import Invalid
from domain.quality.limits import Range, SpecLimits
from domain.quality.reads import spec_limits_by_spec_ids
from domain.tenancy import Scope

# The longest period one enquiry aggregates.
MAX_PERIOD = timedelta(days=731)
DEFAULT_PERIOD = timedelta(days=365)
# The mechanical values of a certificate, as :class:`domain.quality.limits.Violation`
# names them, with their units.
MECHANICAL = (("yieldStrengthMpa", "MPa"), ("tensileStrengthMpa", "MPa"),
              ("elongationPct", "%"), ("coatingMassGM2", "g/m²"))
_PLACES = Decimal("0.0001")
_CPK_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class PropertyStats:
    """One tested value's distribution against its limits."""

    name: str
    unit: str
    lower_limit: Decimal | None
    upper_limit: Decimal | None
    n: int
    mean: Decimal | None
    std_dev: Decimal | None
    min: Decimal | None
    max: Decimal | None
    # Values outside the limits as they stand now (a certificate was checked against
    # the revision of its day, which may have been other).
    outside: int
    cpk: Decimal | None


@dataclass(frozen=True, slots=True)
class RevisionUse:
    """Certificates issued against one revision of the limits (None: against none)."""

    limits_revision: int | None
    certificates: int
    first_issued_at: datetime
    last_issued_at: datetime


@dataclass(frozen=True, slots=True)
class Capability:
    spec_id: int
    period_start: date
    period_end: date
    # The revision of the limits the figures are judged against: the spec's current one.
    limits_revision: int
    coils: int
    certified: int
    inspected: int
    first_pass: int
    mechanical: list[PropertyStats]
    chemistry: list[PropertyStats]
    revisions: list[RevisionUse]

    @property
    def first_pass_yield(self) -> Decimal | None:
        if not self.inspected:
            return None
        return (Decimal(self.first_pass) / self.inspected).quantize(_PLACES)


def cpk(mean: Decimal | None, std_dev: Decimal | None, lower: Decimal | None,
        upper: Decimal | None) -> Decimal | None:
    """min(USL - mean, mean - LSL) / 3 sigma, on the sides that are bounded; None without
    a limit, without a spread (fewer than two values, or all alike)."""
    if mean is None or std_dev is None or std_dev <= 0 or (lower is None and upper is None):
        return None
    sides = [x for x in (None if upper is None else upper - mean,
                         None if lower is None else mean - lower) if x is not None]
    return (min(sides) / (3 * std_dev)).quantize(_CPK_PLACES)


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period asked for, both days included: by default the year to today."""
    end = end or today
    start = start or end - DEFAULT_PERIOD + timedelta(days=1)
    if end < start:
        raise Invalid("the period ends before it starts", field="to")
    if end - start >= MAX_PERIOD:
        raise Invalid(f"a period is at most {MAX_PERIOD.days} days", field="from")
    return start, end


# Coils of the spec made in the period, within the scope and, for the mill's staff,
# of the customer named. $1 scope, $2 spec, $3 first day, $4 last day, $5 customer.
_WHERE = (
    "WHERE c.spec_id = $2"
    " AND c.produced_at >= $3::date::timestamp AT TIME ZONE 'Asia/Shanghai'"
    " AND c.produced_at < ($4::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'"
    f" AND {Scope.owned('c.customer_org_id')}"
    " AND ($5::bigint IS NULL OR c.customer_org_id = $5)"
)


def _limits(limits: SpecLimits | None) -> dict[str, Range]:
    if limits is None:
        return {}
    out = {
        "yieldStrengthMpa": limits.yield_strength_mpa,
        "tensileStrengthMpa": limits.tensile_strength_mpa,
        "elongationPct": Range(limits.elongation_min_pct, None),
        "coatingMassGM2": Range(limits.coating_mass_min_g_m2, None),
    }
    out.update(limits.chemistry)
    return {name: r for name, r in out.items() if r != Range()}


async def capability(db: Executor, scope: Scope, spec_id: int, start: date, end: date,
                     customer_org_id: int | None = None) -> Capability | None:
    """The spec's figures over ``start``..``end`` as the viewer may see them; None when
    the spec is not the viewer's to see."""
    state = (await spec_limits_by_spec_ids(db, scope, [spec_id])).get(spec_id)
    if state is None:
        return None
    bounds = _limits(state.limits)
    names = list(bounds)
    lows = [bounds[n].min for n in names]
    highs = [bounds[n].max for n in names]
    args = (scope.org_id, spec_id, start, end, customer_org_id)
    rows = await db.fetch(
        "WITH v AS (SELECT q.yield_strength_mpa, q.tensile_strength_mpa, q.elongation_pct,"
        f"  q.coating_mass_g_m2, q.chemistry FROM quality_certificate q JOIN coil c"
        f"  ON c.id = q.coil_id {_WHERE}),"
        " x AS (SELECT 'm' AS kind, 'yieldStrengthMpa' AS name, yield_strength_mpa AS value"
        "  FROM v UNION ALL SELECT 'm', 'tensileStrengthMpa', tensile_strength_mpa FROM v"
        "  UNION ALL SELECT 'm', 'elongationPct', elongation_pct FROM v"
        "  UNION ALL SELECT 'm', 'coatingMassGM2', coating_mass_g_m2 FROM v"
        "  UNION ALL SELECT 'c', e.key, e.value::numeric FROM v,"
        "  jsonb_each_text(v.chemistry) e),"
        " b AS (SELECT * FROM unnest($6::text[], $7::numeric[], $8::numeric[])"
        "  AS b(name, lo, hi))"
        " SELECT x.kind, x.name, count(x.value) AS n, avg(x.value) AS mean,"
        "  stddev_samp(x.value) AS std_dev, min(x.value) AS min, max(x.value) AS max,"
        "  count(*) FILTER (WHERE x.value < b.lo OR x.value > b.hi) AS outside"
        " FROM x LEFT JOIN b ON b.name = x.name GROUP BY x.kind, x.name"
        " ORDER BY x.kind DESC, x.name",
        *args, names, lows, highs)
    stats = {r["name"]: r for r in rows}
    units = dict(MECHANICAL)
    mechanical = [_stats(name, unit, stats.get(name), bounds.get(name))
                  for name, unit in MECHANICAL
                  if (name in stats and stats[name]["n"]) or name in bounds]
    elements = sorted({r["name"] for r in rows if r["kind"] == "c"}
                      | set(state.limits.chemistry if state.limits else ()))
    chemistry = [_stats(e, "%", stats.get(e), bounds.get(e)) for e in elements
                 if e not in units]
    counts = await db.fetchrow(
        "SELECT count(*) AS coils,"
        " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM quality_certificate q"
        "  WHERE q.coil_id = c.id)) AS certified,"
        " count(f.first_ok) AS inspected,"
        " count(*) FILTER (WHERE f.first_ok AND c.quality_status NOT IN"
        "  ('blocked', 'downgraded')) AS first_pass"
        f" FROM coil c LEFT JOIN LATERAL (SELECT bool_and(k.result = 'pass') AS first_ok"
        "  FROM (SELECT DISTINCT ON (i.kind) i.result FROM inspection i"
        "   WHERE i.coil_id = c.id ORDER BY i.kind, i.inspected_at, i.id) k) f ON true"
        f" {_WHERE}", *args)
    revisions = await db.fetch(
        "SELECT q.limits_revision, count(*) AS certificates,"
        " min(q.issued_at) AS first_issued_at, max(q.issued_at) AS last_issued_at"
        f" FROM quality_certificate q JOIN coil c ON c.id = q.coil_id"
        f" {_WHERE}"
        " GROUP BY q.limits_revision ORDER BY q.limits_revision NULLS FIRST", *args)
    assert counts is not None
    return Capability(
        spec_id=spec_id, period_start=start, period_end=end, limits_revision=state.revision,
        coils=counts["coils"], certified=counts["certified"], inspected=counts["inspected"],
        first_pass=counts["first_pass"], mechanical=mechanical, chemistry=chemistry,
        revisions=[RevisionUse(**dict(r)) for r in revisions])


def _round(x: Decimal | None) -> Decimal | None:
    return None if x is None else x.quantize(_PLACES)


def _stats(name: str, unit: str, row: Record | None, bounds: Range | None) -> PropertyStats:
    lo = bounds.min if bounds else None
    hi = bounds.max if bounds else None
    if row is None:
        return PropertyStats(name, unit, lo, hi, 0, None, None, None, None, 0, None)
    mean, sd = row["mean"], row["std_dev"]
    return PropertyStats(name, unit, lo, hi, row["n"], _round(mean), _round(sd), row["min"],
                         row["max"], row["outside"], cpk(mean, sd, lo, hi))
