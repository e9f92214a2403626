"""Quality mutations: the mill issues certificates; the customer reports processing."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.quality import writes as quality_writes
from resolvers.common import INPUT, UserError, act, ctx
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
            cert = await quality_writes.issue_certificate(ctx(info).db, data, actor=who)
            return QualityCertificate.of(cert)

        cert, errors = await act(info, run)
        return IssueCertificatePayload(certificate=cert, errors=errors)

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
