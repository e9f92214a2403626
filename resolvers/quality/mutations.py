"""Quality mutations: the mill issues certificates; the customer reports processing."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain import parties
from domain.actor import Actor
from domain.quality import writes as quality_writes
from domain.quality.limits import OutOfSpec, Range, SpecLimits, chemistry_of
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.parties import SteelSpec
from resolvers.quality.limits import ElementLimitInput, LimitViolation
from resolvers.quality.types import (
    Coil,
    ProcessingFeedback,
    ProcessKind,
    ProcessResult,
    QualityCertificate,
)
from resolvers.relay import expect_id


@strawberry.input(description="Measured properties to certify a coil with (EN 10204).")
class IssueCertificateInput:
    coil_id: strawberry.ID = strawberry.field(description="Global id of the coil.")
    yield_strength_mpa: Decimal = strawberry.field(description="Yield strength, MPa.")
    tensile_strength_mpa: Decimal = strawberry.field(description="Tensile strength, MPa.")
    elongation_pct: Decimal = strawberry.field(description="Elongation after fracture, %.")
    coating_designation: str | None = strawberry.field(
        default=None, description="Coating, e.g. `Z275`."
    )
    coating_mass_g_m2: Decimal | None = strawberry.field(
        default=None, description="Coating mass, g/m²."
    )
    certificate_type: str = strawberry.field(
        default="3.1", description="EN 10204 type: `2.2`, `3.1` (default) or `3.2`."
    )


@strawberry.type(description="Result of `issueCertificate`.")
class IssueCertificatePayload:
    certificate: QualityCertificate | None = strawberry.field(description="The certificate.")
    errors: list[UserError] = strawberry.field(description="Why none was issued.")
    violations: list[LimitViolation] = strawberry.field(
        description="With `OUT_OF_SPEC`: each value outside the limits of the coil's spec."
    )


@strawberry.input(description="A spec's limits, replacing its current ones whole: a bound "
                  "left out is not bounded.")
class SetSpecLimitsInput:
    spec_id: strawberry.ID = strawberry.field(description="Global id of the spec.")
    chemistry: list[ElementLimitInput] = strawberry.field(
        default_factory=list, description="Bounds of the cast analysis, each element once "
        "(at most 30)."
    )
    yield_strength_min_mpa: Decimal | None = strawberry.field(
        default=None, description="Least yield strength, MPa.")
    yield_strength_max_mpa: Decimal | None = strawberry.field(
        default=None, description="Most yield strength, MPa.")
    tensile_strength_min_mpa: Decimal | None = strawberry.field(
        default=None, description="Least tensile strength, MPa.")
    tensile_strength_max_mpa: Decimal | None = strawberry.field(
        default=None, description="Most tensile strength, MPa.")
    elongation_min_pct: Decimal | None = strawberry.field(
        default=None, description="Least elongation after fracture, %.")
    coating_mass_min_g_m2: Decimal | None = strawberry.field(
        default=None, description="Least coating mass, both sides together, g/m².")


@strawberry.type(description="Result of `setSpecLimits`.")
class SetSpecLimitsPayload:
    spec: SteelSpec | None = strawberry.field(
        description="The spec, with its limits and their revision.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="How one of your coils behaved in your process.")
class RecordProcessingFeedbackInput:
    coil_id: strawberry.ID = strawberry.field(description="Global id of your coil.")
    process: ProcessKind = strawberry.field(description="Your process.")
    result: ProcessResult = strawberry.field(description="How it went.")
    notes: str | None = strawberry.field(default=None, description="Details, up to 4,000 chars.")


@strawberry.type(description="Result of `recordProcessingFeedback`.")
class RecordProcessingFeedbackPayload:
    feedback: ProcessingFeedback | None = strawberry.field(description="What was recorded.")
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded.")


@strawberry.type
class QualityMutations:
    @strawberry.mutation(
        description="Quality issues a coil's certificate and releases it (roles: quality, admin)."
    )
    async def issue_certificate(
        self, info: Info[Any, Any], input: Annotated[IssueCertificateInput, INPUT],
    ) -> IssueCertificatePayload:
        violations: list[LimitViolation] = []

        async def run(who: Actor) -> QualityCertificate:
            data = quality_writes.CertificateInput(
                coil_id=expect_id(input.coil_id, "Coil"),
                yield_strength_mpa=input.yield_strength_mpa,
                tensile_strength_mpa=input.tensile_strength_mpa,
                elongation_pct=input.elongation_pct,
                coating_designation=input.coating_designation,
                coating_mass_g_m2=input.coating_mass_g_m2,
                certificate_type=input.certificate_type,
            )
            try:
                cert = await quality_writes.issue_certificate(ctx(info).db, data, actor=who)
            except OutOfSpec as refused:
                violations.extend(LimitViolation.of(v) for v in refused.violations)
                raise
            return QualityCertificate.of(cert)

        cert, errors = await act(info, run)
        return IssueCertificatePayload(certificate=cert, errors=errors, violations=violations)

    @strawberry.mutation(
        description="Quality sets a spec's limits, which certificates are checked against "
        "from now on; its limits revision goes up by one when they change (roles: quality, "
        "admin)."
    )
    async def set_spec_limits(
        self, info: Info[Any, Any], input: Annotated[SetSpecLimitsInput, INPUT],
    ) -> SetSpecLimitsPayload:
        async def run(who: Actor) -> SteelSpec:
            spec_id = expect_id(input.spec_id, "SteelSpec")
            limits = SpecLimits(
                chemistry=chemistry_of([(x.element, Range(x.min_percent, x.max_percent))
                                        for x in input.chemistry]),
                yield_strength_mpa=Range(input.yield_strength_min_mpa,
                                         input.yield_strength_max_mpa),
                tensile_strength_mpa=Range(input.tensile_strength_min_mpa,
                                           input.tensile_strength_max_mpa),
                elongation_min_pct=input.elongation_min_pct,
                coating_mass_min_g_m2=input.coating_mass_min_g_m2,
            )
            await quality_writes.set_spec_limits(ctx(info).db, spec_id, limits, actor=who)
            found = await parties.specs_by_ids(ctx(info).db, who.scope, [spec_id])
            return SteelSpec.of(found[0])

        spec, errors = await act(info, run)
        return SetSpecLimitsPayload(spec=spec, errors=errors)

    @strawberry.mutation(description="The customer reports how its coil processed.")
    async def record_processing_feedback(
        self, info: Info[Any, Any], input: Annotated[RecordProcessingFeedbackInput, INPUT],
    ) -> RecordProcessingFeedbackPayload:
        async def run(who: Actor) -> ProcessingFeedback:
            found = await quality_writes.record_feedback(
                ctx(info).db, who, coil_id=expect_id(input.coil_id, "Coil"),
                process=input.process.value, result=input.result.value, notes=input.notes,
            )
            return ProcessingFeedback.of(found)

        feedback, errors = await act(info, run)
        return RecordProcessingFeedbackPayload(feedback=feedback, errors=errors)


__all__ = ["Coil", "QualityMutations"]
