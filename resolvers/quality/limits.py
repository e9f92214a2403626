"""GraphQL types of a spec's limits: what a spec holds now, what a certificate was checked
against, and what a refused certificate fell outside of."""

from __future__ import annotations

import enum
from decimal import Decimal

import strawberry

from domain.quality import limits


@strawberry.type(description="One element's bounds in the cast analysis, mass percent; "
                 "null on a side that is not bounded.")
class ElementLimit:
    element: str = strawberry.field(description="Chemical symbol, e.g. `C`, `Mn`, `Nb`.")
    min_percent: Decimal | None = strawberry.field(description="Least mass percent allowed.")
    max_percent: Decimal | None = strawberry.field(description="Most mass percent allowed.")


@strawberry.type(description="The limits a spec's standard sets, bounds included (a "
                 "maximum of 0.08 admits 0.08); null where nothing is bounded.")
class SpecLimits:
    chemistry: list[ElementLimit] = strawberry.field(
        description="Bounded elements of the cast analysis, by symbol.")
    yield_strength_min_mpa: Decimal | None = strawberry.field(
        description="Least yield strength (Re or Rp0.2), MPa.")
    yield_strength_max_mpa: Decimal | None = strawberry.field(
        description="Most yield strength, MPa.")
    tensile_strength_min_mpa: Decimal | None = strawberry.field(
        description="Least tensile strength (Rm), MPa.")
    tensile_strength_max_mpa: Decimal | None = strawberry.field(
        description="Most tensile strength, MPa.")
    elongation_min_pct: Decimal | None = strawberry.field(
        description="Least elongation after fracture (A80), %.")
    coating_mass_min_g_m2: Decimal | None = strawberry.field(
        description="Least coating mass, both sides together, g/m² (coated products).")

    @classmethod
    def of(cls, x: limits.SpecLimits) -> SpecLimits:
        return cls(
            chemistry=[ElementLimit(element=e, min_percent=r.min, max_percent=r.max)
                       for e, r in sorted(x.chemistry.items())],
            yield_strength_min_mpa=x.yield_strength_mpa.min,
            yield_strength_max_mpa=x.yield_strength_mpa.max,
            tensile_strength_min_mpa=x.tensile_strength_mpa.min,
            tensile_strength_max_mpa=x.tensile_strength_mpa.max,
            elongation_min_pct=x.elongation_min_pct,
            coating_mass_min_g_m2=x.coating_mass_min_g_m2,
        )


@strawberry.enum(description="Which side of a limit a value fell outside.")
class LimitBound(enum.Enum):
    MIN = strawberry.enum_value("min", description="Below the minimum.")
    MAX = strawberry.enum_value("max", description="Above the maximum.")


@strawberry.type(description="A certified value outside its limit.")
class LimitViolation:
    property: str = strawberry.field(
        description="An element symbol (`C`, `Mn`), or `yieldStrengthMpa`, "
        "`tensileStrengthMpa`, `elongationPct`, `coatingMassGM2`.")
    value: Decimal | None = strawberry.field(
        description="The value; null when it was not measured (not in the cast analysis, "
        "or no coating mass given).")
    bound: LimitBound = strawberry.field(description="The side it fell outside.")
    limit: Decimal = strawberry.field(description="The limit on that side.")
    message: str = strawberry.field(description="The violation, for a person to read.")

    @classmethod
    def of(cls, v: limits.Violation) -> LimitViolation:
        return cls(property=v.name, value=v.value, bound=LimitBound(v.bound),
                   limit=v.limit, message=str(v))


@strawberry.input(description="One element's bounds in the cast analysis, mass percent; "
                  "give a minimum, a maximum or both.")
class ElementLimitInput:
    element: str = strawberry.field(description="Chemical symbol, e.g. `C`, `Mn`, `Nb`.")
    min_percent: Decimal | None = strawberry.field(
        default=None, description="Least mass percent allowed.")
    max_percent: Decimal | None = strawberry.field(
        default=None, description="Most mass percent allowed.")
