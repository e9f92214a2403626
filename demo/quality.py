"""Shipping, inspections, EN 10204 certificates and the customers' processing feedback.

A line's coils are inspected while its inspection stage runs; once it is done they
are released (or blocked, or downgraded and taken off the order) and most released
coils get a 3.1 certificate. Lines that have shipped anything never carry a failed
coil: a failed coil is held back, so what the customer received had passed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, timedelta
from decimal import Decimal

from domain.quality.certificates import certificate_content, content_hash
from domain.quality.limits import Measured, check

from .catalogue import FAW_VW, MECHANICAL, MILL
from .model import Certificate, Coil, Feedback, Inspection, Line
from .schedule import at

D = Decimal
_INSPECTORS = ("qc.zhao", "qc.huang", "qc.xu")
_CONDITIONAL = {
    "surface": "Light roll mark at the tail end, within the agreed surface class",
    "dimension": "Width +4 mm, inside the order tolerance",
    "flatness": "Slight edge wave, 3 mm over 1 m, accepted",
    "mechanical": "Elongation at the lower bound of the grade, accepted",
    "coating": "Coating mass close to the minimum at the drive-side edge",
}
_FAILED = {
    "surface": "Periodic roll mark every 1.6 m along the length",
    "dimension": "Thickness 0.04 mm under tolerance over the first 80 m",
    "flatness": "Crossbow over 6 mm, outside tolerance",
    "mechanical": "Yield strength above the grade maximum",
    "coating": "Coating mass under the designation minimum at one spot",
}
_PROCESSES = {FAW_VW: (("stamping", 5), ("welding", 3), ("shearing", 2)),
              "GALANZ": (("shearing", 3), ("punching", 4), ("forming", 2), ("painting", 1))}
_FEEDBACK_ISSUES = {
    "stamping": "Splits at the door-handle pocket on 3 of 400 panels",
    "welding": "Spot-weld spatter above normal, electrodes dressed more often",
    "shearing": "Burr height 0.06 mm on the operator side",
    "punching": "Zinc pick-up on the punch after 20,000 strokes",
    "forming": "Zinc flaking at the 180 degree hem",
    "painting": "Orange peel on the powder coat of some casings",
}
_RECORDERS = {FAW_VW: "fawvw.quality.wang", "GALANZ": "galanz.iqc.chen"}


def ship(rng: random.Random, lines: Sequence[Line]) -> None:
    """Mark the coils that left with each line's shipments and total their weight."""
    for line in lines:
        if line.ship_share <= 0 or not line.coils:
            continue
        coils = sorted(line.coils, key=lambda c: c.coil_no)
        count = max(1, round(len(coils) * line.ship_share))
        if line.ship_share < 1:
            count = min(count, len(coils) - 1) or 1
        for coil in coils[:count]:
            coil.shipped = True
        line.shipped_t = sum((c.weight_kg for c in coils[:count]), D(0)) / 1000
        contract = line.contract
        if contract is not None and line.ship_on is not None:
            shipped_at = at(line.ship_on, rng, 8, 18)
            contract.updated_at = max(contract.updated_at, shipped_at)


def inspect(rng: random.Random, lines: Sequence[Line], today: date
            ) -> tuple[list[Inspection], list[Certificate]]:
    inspections: list[Inspection] = []
    certificates: list[Certificate] = []
    for line in lines:
        timeline = line.timeline
        if timeline is None or not line.coils or timeline.actual[
                timeline.index("inspection")] is None:
            continue
        done = timeline.done("inspection")
        span = timeline.span("inspection")
        may_fail = line.ship_share == 0
        for coil in list(line.coils):
            if not done and rng.random() < 0.5:
                continue  # not yet on the inspection bench
            results = _inspect_coil(rng, coil, span, may_fail, inspections)
            if not done:
                continue
            if "fail" in results:
                if rng.random() < 0.5:
                    coil.quality_status = "blocked"
                else:
                    # Downgraded to a lower grade: taken off the order, back to stock.
                    coil.quality_status = "downgraded"
                    coil.line, coil.spec = None, None
                    line.coils.remove(coil)
                continue
            coil.quality_status = "released"
            if rng.random() < 0.95:
                certificates.append(_certificate(rng, coil, line, span[1]))
    return inspections, certificates


def _inspect_coil(rng: random.Random, coil: Coil, span: tuple[date, date], may_fail: bool,
                  out: list[Inspection]) -> list[str]:
    kinds = ["surface", "dimension", "mechanical"]
    if rng.random() < 0.6:
        kinds.append("flatness")
    if coil.kind in ("coated",) or (coil.spec is not None and coil.spec.d.coating):
        kinds.append("coating")
    results = []
    day = span[0] + timedelta(days=rng.randint(0, (span[1] - span[0]).days))
    for kind in kinds:
        draw = rng.random()
        result = "fail" if may_fail and draw < 0.012 else "conditional" if draw < 0.04 else "pass"
        findings = {"fail": _FAILED, "conditional": _CONDITIONAL}.get(result, {}).get(kind)
        # Bench hours end before certificates are signed (16:00 on), never after.
        out.append(Inspection(coil, kind, result, at(day, rng, 7, 15).astimezone(UTC),
                              rng.choice(_INSPECTORS), findings))
        results.append(result)
    return results


def _certificate(rng: random.Random, coil: Coil, line: Line, day: date) -> Certificate:
    d = line.spec.d
    ys, ts, el = MECHANICAL[d.grade]
    yield_mpa = D(ys + rng.randint(-15, 15))
    tensile = D(ts + rng.randint(-15, 15))
    elongation = (D(el) + D(rng.randint(-20, 20)) / 10).quantize(D("0.1"))
    mass = None
    if d.coating_g_m2 is not None:
        mass = D(round(d.coating_g_m2 * rng.uniform(1.03, 1.15)))
    issued = at(day, rng, 16, 21).astimezone(UTC)
    heat = coil.heat
    # One certificate per coil, named after it, as the mill issues them; checked, as
    # issueCertificate checks, against the spec's limits (revision 1 in the demo).
    cert_no = f"QC-{coil.coil_no}"
    limits = line.spec.limits
    measured = Measured(heat.chemistry, yield_mpa, tensile, elongation, mass)
    outside = check(measured, limits)
    assert not outside, (coil.coil_no, [str(v) for v in outside])
    document = limits.document()
    content = certificate_content(
        cert_no=cert_no, certificate_type="3.1", heat_no=heat.heat_no, coil_no=coil.coil_no,
        grade=d.grade, standard=d.standard, chemistry=heat.chemistry,
        yield_strength_mpa=yield_mpa, tensile_strength_mpa=tensile, elongation_pct=elongation,
        coating_designation=d.coating, coating_mass_g_m2=mass, issued_at=issued,
        issued_by="qa.wang", manufacturer=MILL, limits=document, limits_revision=1,
    )
    return Certificate(cert_no, coil, line.customer, yield_mpa, tensile, elongation, d.coating,
                       mass, issued, "qa.wang", content, content_hash(content), document, 1)


def feedback(rng: random.Random, lines: Sequence[Line], today: date) -> list[Feedback]:
    """What the customer's press shop or line reported on some coils it received."""
    out: list[Feedback] = []
    for line in lines:
        if line.ship_on is None:
            continue
        arrived = line.ship_on + timedelta(days=line.transit_days)
        room = (today - arrived).days - 3
        if room < 0:
            continue
        code = line.customer.code
        processes = _PROCESSES[code]
        for coil in line.coils:
            if not coil.shipped or rng.random() >= 0.12:
                continue
            process = rng.choices([p for p, _ in processes], [w for _, w in processes])[0]
            result = rng.choices(("ok", "minor_issue", "failed"), (85, 12, 3))[0]
            notes = None if result == "ok" else _FEEDBACK_ISSUES[process]
            day = arrived + timedelta(days=2 + rng.randint(0, room))
            out.append(Feedback(coil, line.customer, process, result, notes, _RECORDERS[code],
                                at(day, rng, 8, 20).astimezone(UTC)))
    return out
