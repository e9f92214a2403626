"""Dispute mutations: the customer opens, withdraws, claims and accepts; quality staff
process, contain, find the cause, correct, prevent and verify; either party adds files."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from domain.actor import Actor
from domain.disputes import claims, evidence
from domain.disputes import writes as disputes
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.disputes.types import (
    Claim,
    ClaimAction,
    ClaimBasis,
    DefectKind,
    DisputeAction,
    DisputeEvidence,
    DisputeRecordKind,
    FoundDuring,
    QualityDispute,
)
from resolvers.relay import expect_id


@strawberry.input(description="A defect found on coils delivered to you.")
class OpenDisputeInput:
    coil_ids: list[strawberry.ID] = strawberry.field(
        description="Global ids of your delivered coils that show it (1 to 100).")
    defect_kind: DefectKind = strawberry.field(description="Kind of defect.")
    description: str = strawberry.field(description="What you saw, up to 8,000 characters.")
    affected_tonnes: Decimal = strawberry.field(description="Tonnes affected.")
    found_during: FoundDuring = strawberry.field(description="Where you found it.")
    found_site_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the site where it was found.")
    files: list[Upload] = strawberry.field(
        default_factory=list, description="Evidence files to store with it (at most 10, "
        "sent as a GraphQL multipart request; the same types and size limit as "
        "`addDisputeEvidence`). If one is refused, nothing is stored.")


@strawberry.input(description="Move a dispute on.")
class TransitionDisputeInput:
    dispute_id: strawberry.ID = strawberry.field(description="Global id of the dispute.")
    action: DisputeAction = strawberry.field(description="The step to take.")
    note: str | None = strawberry.field(
        default=None, description="Why; required to reject.")


@strawberry.input(description="An 8D record on a dispute.")
class RecordDisputeActionInput:
    dispute_id: strawberry.ID = strawberry.field(description="Global id of the dispute.")
    kind: DisputeRecordKind = strawberry.field(description="Which record.")
    text: str = strawberry.field(description="The record, up to 8,000 characters.")
    block_coil_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="With a containment: suspect coils (same heat) to "
        "block at once.")


@strawberry.input(description="A file for a dispute, sent as a GraphQL multipart request.")
class AddDisputeEvidenceInput:
    dispute_id: strawberry.ID = strawberry.field(description="Global id of the dispute.")
    file: Upload = strawberry.field(description="The file: a photo (JPEG, PNG, WebP, TIFF) "
                                    "or a report (PDF, CSV, XLSX), within the size limit.")
    description: str | None = strawberry.field(default=None, description="What it shows.")


@strawberry.input(description="A claim for compensation on your dispute.")
class SubmitClaimInput:
    dispute_id: strawberry.ID = strawberry.field(description="Global id of the dispute.")
    amount: Decimal = strawberry.field(description="Amount claimed, to the cent.")
    currency: str = strawberry.field(description="ISO 4217 code; the contract's currency.")
    basis: ClaimBasis = strawberry.field(description="Replacement, downgrade or credit.")
    contract_id: strawberry.ID | None = strawberry.field(
        default=None, description="The contract to deduct from; needed only when the "
        "dispute's coils serve several.")
    note: str | None = strawberry.field(default=None, description="How the amount was made up.")


@strawberry.input(description="Move a claim on.")
class TransitionClaimInput:
    claim_id: strawberry.ID = strawberry.field(description="Global id of the claim.")
    action: ClaimAction = strawberry.field(description="The step to take.")
    agreed_amount: Decimal | None = strawberry.field(
        default=None, description="For partially_agree: the amount agreed, to the cent.")
    credit_note: str | None = strawberry.field(
        default=None, description="For credit: the credit note or invoice number.")
    note: str | None = strawberry.field(default=None, description="Why; required to reject.")


@strawberry.type(description="Result of a dispute mutation.")
class DisputePayload:
    dispute: QualityDispute | None = strawberry.field(description="The dispute after it.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="Result of `addDisputeEvidence`.")
class AddDisputeEvidencePayload:
    evidence: DisputeEvidence | None = strawberry.field(description="The file stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was stored.")


@strawberry.type(description="Result of a claim mutation.")
class ClaimPayload:
    claim: Claim | None = strawberry.field(description="The claim after it.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _policy(info: Info[Any, Any]) -> evidence.Policy:
    settings = ctx(info).request.app.state.settings
    return evidence.Policy(max_bytes=settings.evidence_max_bytes,
                           allowed_types=frozenset(settings.evidence_type_list))


async def _read(file: Any, limit: int) -> evidence.Upload:
    content: bytes = await file.read(limit + 1)
    return evidence.Upload(filename=file.filename or "", declared_type=file.content_type,
                           content=content[:limit], truncated=len(content) > limit)


@strawberry.type
class DisputeMutations:
    @strawberry.mutation(description="The customer opens a dispute on coils delivered to it.")
    async def open_dispute(
        self, info: Info[Any, Any], input: Annotated[OpenDisputeInput, INPUT],
    ) -> DisputePayload:
        async def run(who: Actor) -> QualityDispute:
            data = disputes.DisputeInput(
                coil_ids=[expect_id(c, "Coil") for c in input.coil_ids],
                defect_kind=input.defect_kind.value, description=input.description,
                affected_t=input.affected_tonnes, found_during=input.found_during.value,
                found_site_id=(expect_id(input.found_site_id, "Site")
                               if input.found_site_id is not None else None))
            if not input.files:
                return QualityDispute.of(await disputes.open_dispute(ctx(info).db, who,
                                                                     data))
            policy = _policy(info)
            uploads = [await _read(f, policy.max_bytes) for f in input.files]
            return QualityDispute.of(await evidence.open_with_files(
                ctx(info).db, who, data, uploads, policy))

        found, errors = await act(info, run)
        return DisputePayload(dispute=found, errors=errors)

    @strawberry.mutation(description="Move a dispute on; see `DisputeAction` for who may.")
    async def transition_dispute(
        self, info: Info[Any, Any], input: Annotated[TransitionDisputeInput, INPUT],
    ) -> DisputePayload:
        async def run(who: Actor) -> QualityDispute:
            found = await disputes.transition(
                ctx(info).db, who, expect_id(input.dispute_id, "QualityDispute"),
                input.action.name.lower(), input.note)
            return QualityDispute.of(found)

        found, errors = await act(info, run)
        return DisputePayload(dispute=found, errors=errors)

    @strawberry.mutation(description="Quality keeps an 8D record (roles: quality, admin); a "
                         "containment may block suspect coils.")
    async def record_dispute_action(
        self, info: Info[Any, Any], input: Annotated[RecordDisputeActionInput, INPUT],
    ) -> DisputePayload:
        async def run(who: Actor) -> QualityDispute:
            found = await disputes.record(
                ctx(info).db, who, expect_id(input.dispute_id, "QualityDispute"),
                input.kind.name.lower(), input.text,
                [expect_id(c, "Coil") for c in input.block_coil_ids])
            return QualityDispute.of(found)

        found, errors = await act(info, run)
        return DisputePayload(dispute=found, errors=errors)

    @strawberry.mutation(description="Either party adds a file to an open dispute (multipart "
                         "request; size and types in the README).")
    async def add_dispute_evidence(
        self, info: Info[Any, Any], input: Annotated[AddDisputeEvidenceInput, INPUT],
    ) -> AddDisputeEvidencePayload:
        async def run(who: Actor) -> DisputeEvidence:
            policy = _policy(info)
            upload = await _read(input.file, policy.max_bytes)
            found = await evidence.add(
                ctx(info).db, who, expect_id(input.dispute_id, "QualityDispute"),
                upload, input.description, policy)
            return DisputeEvidence.of(found)

        found, errors = await act(info, run)
        return AddDisputeEvidencePayload(evidence=found, errors=errors)

    @strawberry.mutation(description="The customer claims compensation on its dispute.")
    async def submit_claim(
        self, info: Info[Any, Any], input: Annotated[SubmitClaimInput, INPUT],
    ) -> ClaimPayload:
        async def run(who: Actor) -> Claim:
            data = claims.ClaimInput(
                dispute_id=expect_id(input.dispute_id, "QualityDispute"), amount=input.amount,
                currency=input.currency, basis=input.basis.value, note=input.note,
                contract_id=(expect_id(input.contract_id, "Contract")
                             if input.contract_id is not None else None))
            return Claim.of(await claims.submit(ctx(info).db, who, data))

        found, errors = await act(info, run)
        return ClaimPayload(claim=found, errors=errors)

    @strawberry.mutation(description="Move a claim on; see `ClaimAction` for who may. An "
                         "agreed amount is deducted on the contract's settlement.")
    async def transition_claim(
        self, info: Info[Any, Any], input: Annotated[TransitionClaimInput, INPUT],
    ) -> ClaimPayload:
        async def run(who: Actor) -> Claim:
            step = claims.ClaimStep(
                claim_id=expect_id(input.claim_id, "Claim"), action=input.action.name.lower(),
                agreed_amount=input.agreed_amount, credit_note=input.credit_note,
                note=input.note)
            return Claim.of(await claims.transition(ctx(info).db, who, step))

        found, errors = await act(info, run)
        return ClaimPayload(claim=found, errors=errors)
