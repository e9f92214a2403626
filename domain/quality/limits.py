"""A spec's limits from its standard, and the check of measured values against them.

A standard (EN 10130, EN 10346, ...) bounds each grade's cast analysis element by element
and its mechanical properties; a coated product also has a minimum coating mass. A
certificate states that the product complies, so it is issued only when every certified
value lies within the limits of the coil's spec (:func:`check`), and it names the
revision of the limits it was checked against (a spec's limits change as standards and
customer agreements do; what a coil was certified against does not).

Bounds are inclusive: a standard's "max. 0.08 %" admits 0.08. Every value is a Decimal,
written as a plain decimal string in JSON (as the heat's chemistry is), so a limit reads
back exactly as it was set. :func:`check` is pure: values and limits in, violations out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.errors import DomainError, Invalid
from domain.quality.certificates import decimal_text

# An element symbol as the cast analysis names it: C, Mn, Nb.
ELEMENT = re.compile(r"[A-Z][a-z]?")
# More elements than any standard bounds (EN 10338 names about a dozen).
MAX_ELEMENTS = 30
# Chemistry to the ten-thousandth of a percent and beyond (boron: 0.0005 %), never finer.
_CHEMISTRY_PLACES = 6
# The most numeric(7, 1) holds (strengths, coating mass).
_MOST = Decimal("999999.9")


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds; None on a side that is not bounded."""

    min: Decimal | None = None
    max: Decimal | None = None

    def document(self) -> dict[str, str | None]:
        """Canonical (normalized) text, as a certificate's content writes decimals."""
        return {"min": _text(self.min), "max": _text(self.max)}

    def as_entered(self) -> dict[str, str | None]:
        """The digits as given ("0.030" stays "0.030"), as a spec keeps its limits."""
        return {"min": _plain(self.min), "max": _plain(self.max)}


@dataclass(frozen=True, slots=True)
class SpecLimits:
    """What a spec's standard allows. An element not listed is not bounded."""

    chemistry: Mapping[str, Range] = field(default_factory=dict)
    yield_strength_mpa: Range = Range()
    tensile_strength_mpa: Range = Range()
    elongation_min_pct: Decimal | None = None
    coating_mass_min_g_m2: Decimal | None = None

    def document(self) -> dict[str, Any]:
        """The limits as JSON of strings, objects and nulls: stored with a certificate
        and written into its certified content."""
        return {
            "chemistry_pct": {e: r.document() for e, r in sorted(self.chemistry.items())},
            "yield_strength_mpa": self.yield_strength_mpa.document(),
            "tensile_strength_mpa": self.tensile_strength_mpa.document(),
            "elongation_min_pct": _text(self.elongation_min_pct),
            "coating_mass_min_g_m2": _text(self.coating_mass_min_g_m2),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> SpecLimits:
        """Back from :meth:`document` (as stored in jsonb: strings or Decimals)."""
        return cls(
            chemistry=chemistry_ranges(doc.get("chemistry_pct") or {}),
            yield_strength_mpa=_range(doc.get("yield_strength_mpa")),
            tensile_strength_mpa=_range(doc.get("tensile_strength_mpa")),
            elongation_min_pct=_decimal(doc.get("elongation_min_pct")),
            coating_mass_min_g_m2=_decimal(doc.get("coating_mass_min_g_m2")),
        )


@dataclass(frozen=True, slots=True)
class Measured:
    """The values a certificate states: the heat's cast analysis and the coil's tests."""

    chemistry: Mapping[str, Decimal]
    yield_strength_mpa: Decimal
    tensile_strength_mpa: Decimal
    elongation_pct: Decimal
    coating_mass_g_m2: Decimal | None = None


# Property -> (words in a message, unit, the certificate input it comes from).
_PROPERTIES: Mapping[str, tuple[str, str, str | None]] = {
    "yieldStrengthMpa": ("yield strength", "MPa", "yieldStrengthMpa"),
    "tensileStrengthMpa": ("tensile strength", "MPa", "tensileStrengthMpa"),
    "elongationPct": ("elongation", "%", "elongationPct"),
    "coatingMassGM2": ("coating mass", "g/m²", "coatingMassGM2"),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One value outside its limit: ``name`` is the property, an element symbol or one
    of ``yieldStrengthMpa``, ``tensileStrengthMpa``, ``elongationPct``, ``coatingMassGM2``;
    ``value`` is None when the value was not measured at all."""

    name: str
    value: Decimal | None
    bound: str  # "min" or "max"
    limit: Decimal

    @property
    def is_element(self) -> bool:
        return self.name not in _PROPERTIES

    @property
    def input_field(self) -> str | None:
        """The certificate input at fault; None for chemistry (the heat's analysis)."""
        return None if self.is_element else _PROPERTIES[self.name][2]

    def __str__(self) -> str:
        words, unit = ((self.name, "%") if self.is_element
                       else _PROPERTIES[self.name][:2])
        side = "minimum" if self.bound == "min" else "maximum"
        limit = f"{_text(self.limit)} {unit}"
        if self.value is None:
            what = "not in the cast analysis" if self.is_element else "not measured"
            return f"{words} {what} (the {side} is {limit})"
        where = "below" if self.bound == "min" else "above"
        return f"{words} {_text(self.value)} {unit} is {where} the {side} {limit}"


class OutOfSpec(DomainError):
    """Certified values outside the limits of the coil's spec: nothing is issued."""

    code = "OUT_OF_SPEC"

    def __init__(self, message: str, violations: list[Violation], *,
                 field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.violations = violations


def check(values: Measured, limits: SpecLimits) -> list[Violation]:
    """Every value outside its limit, chemistry first (by element), then yield, tensile,
    elongation and coating. An element the limits bound but the analysis lacks, and a
    coating mass a coated spec requires but nobody measured, are violations too: a
    certificate cannot vouch for what was not measured."""
    out: list[Violation] = []
    for element, bounds in sorted(limits.chemistry.items()):
        out += _outside(element, values.chemistry.get(element), bounds)
    out += _outside("yieldStrengthMpa", values.yield_strength_mpa, limits.yield_strength_mpa)
    out += _outside("tensileStrengthMpa", values.tensile_strength_mpa,
                    limits.tensile_strength_mpa)
    out += _outside("elongationPct", values.elongation_pct, Range(limits.elongation_min_pct))
    out += _outside("coatingMassGM2", values.coating_mass_g_m2,
                    Range(limits.coating_mass_min_g_m2))
    return out


def _outside(prop: str, value: Decimal | None, bounds: Range) -> list[Violation]:
    found = []
    if bounds.min is not None and (value is None or value < bounds.min):
        found.append(Violation(prop, value, "min", bounds.min))
    # A missing value is named once, against its minimum when it has one.
    missing_once = value is not None or bounds.min is None
    if bounds.max is not None and (value is None or value > bounds.max) and missing_once:
        found.append(Violation(prop, value, "max", bounds.max))
    return found


def refusal(violations: list[Violation], *, standard: str, grade: str,
            revision: int) -> OutOfSpec:
    """The error that refuses a certificate, listing every violation in its message."""
    fields = {v.input_field for v in violations}
    only = fields.pop() if len(fields) == 1 else None
    listed = "; ".join(str(v) for v in violations)
    return OutOfSpec(
        f"outside the limits of {standard} {grade} (revision {revision}): {listed}",
        violations, field=only,
    )


def chemistry_of(bounds: Sequence[tuple[str, Range]]) -> dict[str, Range]:
    """Element -> Range from a list as a request sends it, each element once; at most
    :data:`MAX_ELEMENTS` (checked before the list is looked through)."""
    if len(bounds) > MAX_ELEMENTS:
        raise Invalid(f"at most {MAX_ELEMENTS} elements", field="chemistry")
    out: dict[str, Range] = {}
    for element, r in bounds:
        if element in out:
            raise Invalid(f"{element} is listed twice", field="chemistry")
        out[element] = r
    return out


def validated(limits: SpecLimits) -> SpecLimits:
    """``limits`` when every bound is a value the spec can hold, else Invalid naming the
    input field: elements by symbol, once each; chemistry in [0, 100] % to six decimals;
    strengths and coating positive with one decimal; elongation at most 100 %; every
    minimum at most its maximum."""
    if len(limits.chemistry) > MAX_ELEMENTS:
        raise Invalid(f"at most {MAX_ELEMENTS} elements", field="chemistry")
    for element, bounds in limits.chemistry.items():
        if not ELEMENT.fullmatch(element):
            raise Invalid(f"{element[:12]!r} is not an element symbol such as C or Mn",
                          field="chemistry")
        for value in (bounds.min, bounds.max):
            if value is not None:
                _exact(value, "chemistry", Decimal(100), _CHEMISTRY_PLACES, zero=True)
        _ordered(bounds, "chemistry", element)
        if bounds.min is None and bounds.max is None:
            raise Invalid(f"{element} has neither a minimum nor a maximum", field="chemistry")
    for prop, bounds in (("yieldStrength", limits.yield_strength_mpa),
                         ("tensileStrength", limits.tensile_strength_mpa)):
        if bounds.min is not None:
            _exact(bounds.min, f"{prop}MinMpa", _MOST, 1)
        if bounds.max is not None:
            _exact(bounds.max, f"{prop}MaxMpa", _MOST, 1)
        _ordered(bounds, f"{prop}MinMpa", prop)
    if limits.elongation_min_pct is not None:
        _exact(limits.elongation_min_pct, "elongationMinPct", Decimal(100), 1)
    if limits.coating_mass_min_g_m2 is not None:
        _exact(limits.coating_mass_min_g_m2, "coatingMassMinGM2", _MOST, 1)
    return limits


def _exact(value: Decimal, field_name: str, most: Decimal, places: int, *,
           zero: bool = False) -> None:
    if not value.is_finite():
        raise Invalid("must be a finite number", field=field_name)
    if value < 0 or (value == 0 and not zero) or value > most:
        low = "at least 0" if zero else "positive"
        raise Invalid(f"must be {low} and at most {most}", field=field_name)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise Invalid(f"at most {places} decimal place(s)", field=field_name)


def _ordered(bounds: Range, field_name: str, what: str) -> None:
    if bounds.min is not None and bounds.max is not None and bounds.min > bounds.max:
        raise Invalid(f"the minimum of {what} is above its maximum", field=field_name)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def chemistry_ranges(doc: Mapping[str, Any]) -> dict[str, Range]:
    """Element -> Range from JSON ``{"C": {"min": null, "max": "0.08"}}``."""
    return {element: _range(bounds) for element, bounds in doc.items()}


def _range(doc: Mapping[str, Any] | None) -> Range:
    doc = doc or {}
    return Range(_decimal(doc.get("min")), _decimal(doc.get("max")))
