"""Issuing a coil's certificate and recording the customer's processing feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from domain import events
from domain.actor import Actor
from domain.checks import bounded
from domain.db import Database, decimals
from domain.errors import Conflict, Invalid, NotFound
from domain.quality.certificates import certificate_content, content_hash
from domain.quality.limits import Measured, SpecLimits, check, refusal, validated
from domain.quality.model import (
    _CERT_COLS,
    _FEEDBACK_COLS,
    _SPEC_LIMIT_COLS,
    PERMISSIONS,
    Certificate,
    ProcessingFeedback,
    SpecLimitsState,
    _certificate,
    _spec_limits,
)
from domain.quality.reads import spec_limits_by_spec_ids
from domain.tenancy import Scope


@dataclass(frozen=True)
class CertificateInput:
    coil_id: int
    yield_strength_mpa: Decimal
    tensile_strength_mpa: Decimal
    elongation_pct: Decimal
    coating_designation: str | None = None
    coating_mass_g_m2: Decimal | None = None
    certificate_type: str = "3.1"


def _check_mechanics(data: CertificateInput) -> None:
    # Column limits: numeric(7, 1) for strengths and coating, numeric(5, 1) elongation.
    for name, value in (("yieldStrengthMpa", data.yield_strength_mpa),
                        ("tensileStrengthMpa", data.tensile_strength_mpa),
                        ("elongationPct", data.elongation_pct)):
        bounded(value, name, below=Decimal(10) ** 6)
        if value <= 0:
            raise Invalid("must be positive", field=name)
    if data.coating_mass_g_m2 is not None:
        bounded(data.coating_mass_g_m2, "coatingMassGM2", below=Decimal(10) ** 6)
    if data.tensile_strength_mpa < data.yield_strength_mpa:
        raise Invalid("tensile strength cannot be below yield strength",
                      field="tensileStrengthMpa")
    if data.elongation_pct > 100:
        raise Invalid("elongation is a percentage of at most 100", field="elongationPct")
    if data.certificate_type not in ("2.2", "3.1", "3.2"):
        raise Invalid("EN 10204 types are 2.2, 3.1 and 3.2", field="certificateType")


# Who may speak for a coil's quality: the mill's quality staff certify it, the customer
# that owns it reports how it processed.


async def issue_certificate(
    db: Database, data: CertificateInput, *, actor: Actor
) -> Certificate:
    """Certify a coil with its heat's chemistry and the measured mechanics; releases it.

    The values are checked against the current limits of the coil's spec: when any lies
    outside them the certificate is refused (:class:`OutOfSpec`, every violation named)
    and nothing is written. The certificate records the limits and their revision."""
    PERMISSIONS.check(actor, "issue_certificate")
    return await _issue(db, data, actor.subject)


# What certifying reads of a coil: its heat, owner and spec, with the spec's limits.
CERTIFY_COLUMNS = (
    "c.id, c.coil_no, c.customer_org_id, c.heat_id, c.spec_id, h.heat_no, h.grade,"
    " h.chemistry, s.grade AS spec_grade, s.standard, " + _SPEC_LIMIT_COLS)
CERTIFY_FROM = ("coil c JOIN heat h ON h.id = c.heat_id"
                " LEFT JOIN steel_spec s ON s.id = c.spec_id")


@dataclass(frozen=True, slots=True)
class Certified:
    """A certificate's row, checked and composed, before it is written."""

    cert_no: str
    certificate_type: str
    coil_id: int
    heat_id: int
    customer_org_id: int | None
    chemistry: dict[str, Decimal]
    yield_strength_mpa: Decimal
    tensile_strength_mpa: Decimal
    elongation_pct: Decimal
    coating_designation: str | None
    coating_mass_g_m2: Decimal | None
    issued_at: datetime
    issued_by: str
    content: dict[str, Any]
    content_hash: str
    limits: dict[str, Any] | None
    limits_revision: int | None
    # For the event.
    coil_no: str
    heat_no: str


def certify(coil: Any, data: CertificateInput, *, cert_no: str, issued_at: datetime,
            issued_by: str) -> Certified:
    """The certificate of ``coil`` (a row of :data:`CERTIFY_COLUMNS`) with ``data``'s
    values: checked against the spec's current limits (:class:`OutOfSpec` names every
    violation) and composed into its canonical content. Issuing and the plant's feed both
    certify through here."""
    _check_mechanics(data)
    has_spec = coil["spec_id"] is not None
    grade = coil["spec_grade"] if has_spec else coil["grade"]
    standard = coil["standard"] if has_spec else ""
    chemistry = decimals(coil["chemistry"])
    limits = _spec_limits(coil) if has_spec else None
    revision: int | None = None
    if limits is not None:
        revision = coil["limits_revision"]
        _check_limits(data, chemistry, limits, {"standard": standard, "grade": grade,
                                                "limits_revision": revision})
    document = None if limits is None else limits.document()
    content = certificate_content(
        cert_no=cert_no, certificate_type=data.certificate_type, heat_no=coil["heat_no"],
        coil_no=coil["coil_no"], grade=grade, standard=standard,
        chemistry=chemistry, yield_strength_mpa=data.yield_strength_mpa,
        tensile_strength_mpa=data.tensile_strength_mpa, elongation_pct=data.elongation_pct,
        coating_designation=data.coating_designation,
        coating_mass_g_m2=data.coating_mass_g_m2, issued_at=issued_at, issued_by=issued_by,
        limits=document, limits_revision=revision,
    )
    return Certified(
        cert_no, data.certificate_type, coil["id"], coil["heat_id"], coil["customer_org_id"],
        chemistry, data.yield_strength_mpa, data.tensile_strength_mpa, data.elongation_pct,
        data.coating_designation, data.coating_mass_g_m2, issued_at, issued_by, content,
        content_hash(content), document, revision, coil["coil_no"], coil["heat_no"])


async def _issue(db: Database, data: CertificateInput, actor: str) -> Certificate:
    _check_mechanics(data)
    async with db.transaction() as tx:
        # The coil locked, its spec shared: the limits cannot change between the check
        # and the certificate that names their revision.
        await tx.execute(
            "SELECT 1 FROM steel_spec WHERE id = (SELECT spec_id FROM coil WHERE id = $1"
            " FOR UPDATE) FOR SHARE", data.coil_id)
        coil = await tx.fetchrow(
            f"SELECT {CERTIFY_COLUMNS} FROM {CERTIFY_FROM} WHERE c.id = $1", data.coil_id)
        if coil is None:
            raise NotFound("no such coil", field="coilId")
        # One certificate per coil (a unique key), so the coil number names it.
        made = certify(coil, data, cert_no=f"QC-{coil['coil_no']}",
                       issued_at=datetime.now(UTC), issued_by=actor)
        try:
            row = await tx.fetchrow(
                "INSERT INTO quality_certificate AS q (cert_no, certificate_type, coil_id,"
                " heat_id, customer_org_id, chemistry, yield_strength_mpa, tensile_strength_mpa,"
                " elongation_pct, coating_designation, coating_mass_g_m2, issued_at, issued_by,"
                " content, content_hash, limits, limits_revision) VALUES ($1, $2, $3, $4, $5,"
                " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                f" RETURNING {_CERT_COLS}",
                made.cert_no, made.certificate_type, made.coil_id, made.heat_id,
                made.customer_org_id, made.chemistry, made.yield_strength_mpa,
                made.tensile_strength_mpa, made.elongation_pct, made.coating_designation,
                made.coating_mass_g_m2, made.issued_at, made.issued_by, made.content,
                made.content_hash, made.limits, made.limits_revision,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("this coil already has a certificate", field="coilId") from None
        await tx.execute(
            "UPDATE coil SET quality_status = 'released' WHERE id = $1"
            " AND quality_status = 'pending'", made.coil_id,
        )
        await events.append(tx, "quality.certificate_issued", org_id=made.customer_org_id,
                            aggregate_type="coil", aggregate_id=made.coil_id,
                            payload=issued_payload(made), actor=actor)
        return _certificate(row)


# Issuing and the plant's feed announce a certificate alike: this type (written out where
# issuing appends it), about the coil (its customer, aggregate coil), with this payload.
CERTIFICATE_ISSUED = "quality.certificate_issued"


def issued_payload(made: Certified) -> dict[str, Any]:
    return {"coil": made.coil_no, "certificate": made.cert_no, "heat": made.heat_no,
            "limits_revision": made.limits_revision}


def _check_limits(data: CertificateInput, chemistry: dict[str, Decimal], limits: SpecLimits,
                  spec: Any) -> None:
    measured = Measured(chemistry=chemistry, yield_strength_mpa=data.yield_strength_mpa,
                        tensile_strength_mpa=data.tensile_strength_mpa,
                        elongation_pct=data.elongation_pct,
                        coating_mass_g_m2=data.coating_mass_g_m2)
    violations = check(measured, limits)
    if violations:
        raise refusal(violations, standard=spec["standard"], grade=spec["grade"],
                      revision=spec["limits_revision"])


async def set_spec_limits(
    db: Database, spec_id: int, limits: SpecLimits, *, actor: Actor
) -> SpecLimitsState:
    """Replace a spec's limits. When they differ from the current ones the spec's
    limits revision goes up by one (a trigger does it, whoever writes) and
    ``quality.spec_limits_changed`` is written; the same limits again change nothing.
    Certificates already issued keep the revision they were checked against."""
    PERMISSIONS.check(actor, "set_spec_limits")
    validated(limits)
    chemistry = {e: r.as_entered() for e, r in sorted(limits.chemistry.items())}
    async with db.transaction() as tx:
        before = await tx.fetchrow(
            "SELECT id, code, customer_org_id, limits_revision FROM steel_spec"
            " WHERE id = $1 FOR UPDATE", spec_id,
        )
        if before is None:
            raise NotFound("no such steel spec", field="specId")
        revision = await tx.fetchval(
            "UPDATE steel_spec SET chemistry_limits = $2, yield_min_mpa = $3,"
            " yield_max_mpa = $4, tensile_min_mpa = $5, tensile_max_mpa = $6,"
            " elongation_min_pct = $7, coating_min_g_m2 = $8, limits_changed_by = $9"
            " WHERE id = $1 RETURNING limits_revision",
            spec_id, chemistry, limits.yield_strength_mpa.min, limits.yield_strength_mpa.max,
            limits.tensile_strength_mpa.min, limits.tensile_strength_mpa.max,
            limits.elongation_min_pct, limits.coating_mass_min_g_m2, actor.subject,
        )
        if revision != before["limits_revision"]:
            await events.append(
                tx, "quality.spec_limits_changed", org_id=before["customer_org_id"],
                aggregate_type="steel_spec", aggregate_id=spec_id, actor=actor.subject,
                payload={"code": before["code"], "revision": revision,
                         "limits": limits.document()},
            )
        return (await spec_limits_by_spec_ids(tx, Scope.everything(), [spec_id]))[spec_id]


FEEDBACK_PROCESSES = ("shearing", "slitting", "punching", "stamping", "welding", "painting",
                      "forming")
FEEDBACK_RESULTS = ("ok", "minor_issue", "failed")
MAX_NOTES = 4000


async def record_feedback(
    db: Database, who: Actor, *, coil_id: int, process: str, result: str,
    notes: str | None,
) -> ProcessingFeedback:
    """The customer reports how its coil processed. Only its own coils can be named."""
    PERMISSIONS.check(who, "record_feedback")
    scope, actor = who.scope, who.subject
    if scope.org_id is None:
        raise Invalid("processing feedback comes from the customer that owns the coil")
    if notes is not None and len(notes) > MAX_NOTES:
        raise Invalid(f"notes are limited to {MAX_NOTES} characters", field="notes")
    async with db.transaction() as tx:
        coil = await tx.fetchrow(
            "SELECT id, coil_no, customer_org_id FROM coil c WHERE c.id = $2"
            f" AND {Scope.owned('c.customer_org_id')}",
            scope.org_id, coil_id,
        )
        if coil is None:
            raise NotFound("no such coil", field="coilId")
        row = await tx.fetchrow(
            "INSERT INTO processing_feedback AS f (coil_id, customer_org_id, process, result,"
            f" notes, recorded_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_FEEDBACK_COLS}",
            coil_id, scope.org_id, process, result, notes, actor,
        )
        await events.append(
            tx, "quality.feedback_recorded", org_id=scope.org_id, aggregate_type="coil",
            aggregate_id=coil_id, actor=actor,
            payload={"coil": coil["coil_no"], "process": process, "result": result},
        )
        assert row is not None
        return ProcessingFeedback(**dict(row))
