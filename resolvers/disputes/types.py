"""GraphQL types of quality disputes, their steps, evidence, claims and containment."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.disputes import claims, containment, evidence
from domain.disputes import writes as disputes
from resolvers.common import ctx, loaders
from resolvers.contracts.loaders import ContractByIdLoader, LineByIdLoader, SettlementByIdLoader
from resolvers.contracts.types import Contract, ContractLine
from resolvers.disputes.loaders import (
    ClaimByIdLoader,
    ClaimsByDisputeLoader,
    DisputeByIdLoader,
    EvidenceByDisputeLoader,
    SuspectPageByDisputeLoader,
    TimelineByDisputeLoader,
)
from resolvers.loaders import OrganizationByIdLoader
from resolvers.parties import Organization, Site
from resolvers.quality.loaders import CoilByIdLoader
from resolvers.quality.types import Coil, QualityStatus
from resolvers.relay import (
    DEFAULT_PAGE,
    Connection,
    Node,
    after_id,
    check_first,
    connection,
    id_page_of,
    to_global_id,
)
from resolvers.service.loaders import service_level_of
from resolvers.settlements import Settlement
from resolvers.shipments.vehicles import Vehicle, site_of, vehicle_of

T = TypeVar("T")
FIRST = strawberry.argument(description="Page size, at most 100.")
AFTER = strawberry.argument(description="Cursor to start after.")


@strawberry.enum(description="Where a quality dispute stands (8D-aligned).")
class DisputeStatus(enum.Enum):
    ESTABLISHED = "established"
    PROCESSING = "processing"
    CLAIMING = "claiming"
    CORRECTING = "correcting"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@strawberry.enum(description="A step that moves a dispute on, and who may take it.")
class DisputeAction(enum.Enum):
    PROCESS = strawberry.enum_value(
        "process", description="established -> processing (quality, admin).")
    WITHDRAW = strawberry.enum_value(
        "withdraw", description="established -> withdrawn (the customer).")
    REJECT = strawberry.enum_value(
        "reject", description="processing -> rejected, with a reason (quality, admin).")
    CLAIM = strawberry.enum_value(
        "claim", description="processing -> claiming (quality, admin, the customer); "
        "submitting the first claim does it too.")
    CORRECT = strawberry.enum_value(
        "correct", description="claiming -> correcting, once the root cause is recorded and "
        "every claim decided (quality, admin).")
    COMPLETE = strawberry.enum_value(
        "complete", description="correcting -> completed: the customer accepts the verified "
        "correction (the customer).")


@strawberry.enum(description="An 8D record quality staff keep on a dispute.")
class DisputeRecordKind(enum.Enum):
    CONTAINMENT = strawberry.enum_value(
        "containment", description="What was done to contain it (D3); any open state.")
    ROOT_CAUSE = strawberry.enum_value(
        "root_cause", description="Why it happened (D4); processing to correcting.")
    CORRECTIVE_ACTION = strawberry.enum_value(
        "corrective_action", description="What corrects it (D5/D6); processing to correcting.")
    PREVENTIVE_ACTION = strawberry.enum_value(
        "preventive_action", description="What keeps it from recurring (D7); processing to "
        "correcting.")
    VERIFICATION = strawberry.enum_value(
        "verification", description="How the correction was verified (D6); correcting.")


@strawberry.enum(description="The kind of defect found.")
class DefectKind(enum.Enum):
    SURFACE = "surface"
    DIMENSION = "dimension"
    SHAPE = "shape"
    MECHANICAL = "mechanical"
    COATING = "coating"
    CHEMISTRY = "chemistry"
    PACKAGING = "packaging"
    OTHER = "other"


@strawberry.enum(description="Where the customer found the defect.")
class FoundDuring(enum.Enum):
    INCOMING_INSPECTION = "incoming_inspection"
    STORAGE = "storage"
    PROCESSING = "processing"
    FINISHED_PRODUCT = "finished_product"
    END_CUSTOMER = "end_customer"


@strawberry.enum(description="Where a claim stands.")
class ClaimStatus(enum.Enum):
    SUBMITTED = "submitted"
    ASSESSED = "assessed"
    AGREED = "agreed"
    PARTIALLY_AGREED = "partially_agreed"
    REJECTED = "rejected"
    CREDITED = "credited"


@strawberry.enum(description="What compensation a claim asks for.")
class ClaimBasis(enum.Enum):
    REPLACEMENT = "replacement"
    DOWNGRADE = "downgrade"
    CREDIT = "credit"


@strawberry.enum(description="A step on a claim, and who may take it.")
class ClaimAction(enum.Enum):
    ASSESS = strawberry.enum_value("assess", description="submitted -> assessed (quality, admin).")
    AGREE = strawberry.enum_value(
        "agree", description="assessed -> agreed: the whole amount (quality, finance, admin).")
    PARTIALLY_AGREE = strawberry.enum_value(
        "partially_agree", description="assessed -> partially_agreed: `agreedAmount` of it "
        "(quality, finance, admin).")
    REJECT = strawberry.enum_value(
        "reject", description="assessed -> rejected, with a reason (quality, finance, admin).")
    CREDIT = strawberry.enum_value(
        "credit", description="agreed or partially_agreed -> credited, naming the credit note "
        "(finance, admin).")


@strawberry.enum(description="Where a suspect coil is now.")
class WhereNow(enum.Enum):
    AT_MILL = strawberry.enum_value("at_mill", description="At the mill, not yet shipped.")
    IN_TRANSIT = strawberry.enum_value(
        "in_transit", description="Aboard a vehicle or at a port or station on the way.")
    AT_CUSTOMER = strawberry.enum_value(
        "at_customer", description="At a customer's warehouse, not yet processed.")
    CONSUMED = strawberry.enum_value(
        "consumed", description="Slit, cut or rolled into other coils, or reported processed.")


@strawberry.type(description="A claim for compensation on a quality dispute.")
class Claim(Node):
    number: str = strawberry.field(description="Claim number, e.g. `CL-2026-000012`.")
    status: ClaimStatus = strawberry.field(description="Where it stands.")
    basis: ClaimBasis = strawberry.field(description="Replacement, downgrade or credit.")
    currency: str = strawberry.field(description="ISO 4217 currency of the contract.")
    amount: Decimal = strawberry.field(description="Amount claimed, to the cent.")
    agreed_amount: Decimal | None = strawberry.field(
        description="Amount agreed, to the cent; null until agreed.")
    credit_note: str | None = strawberry.field(description="Credit note that paid it out.")
    submitted_by: str = strawberry.field(description="Who submitted it.")
    submitted_at: dt.datetime = strawberry.field(description="When.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")
    dispute_pk: strawberry.Private[int]
    contract_pk: strawberry.Private[int]
    settlement_pk: strawberry.Private[int | None]

    @strawberry.field(description="The dispute it compensates.")
    async def dispute(self, info: Info[Any, Any]) -> QualityDispute | None:
        found = await loaders(info).get(DisputeByIdLoader).load(self.dispute_pk)
        return QualityDispute.of(found) if found else None

    @strawberry.field(description="The contract whose settlement the agreed amount reduces.")
    async def contract(self, info: Info[Any, Any]) -> Contract | None:
        found = await loaders(info).get(ContractByIdLoader).load(self.contract_pk)
        return Contract.of(found) if found else None

    @strawberry.field(description="The settlement the agreed amount is deducted on; null "
                      "until agreed, or while the contract has no settlement yet.")
    async def settlement(self, info: Info[Any, Any]) -> Settlement | None:
        if self.settlement_pk is None:
            return None
        found = await loaders(info).get(SettlementByIdLoader).load(self.settlement_pk)
        return Settlement.of(found) if found else None

    @classmethod
    def of(cls, c: claims.Claim) -> Claim:
        return cls(pk=c.id, number=c.number, status=ClaimStatus(c.status),
                   basis=ClaimBasis(c.basis), currency=c.currency.strip(), amount=c.amount,
                   agreed_amount=c.agreed_amount, credit_note=c.credit_note,
                   submitted_by=c.submitted_by, submitted_at=c.submitted_at,
                   updated_at=c.updated_at, dispute_pk=c.dispute_id, contract_pk=c.contract_id,
                   settlement_pk=c.settlement_id)


@strawberry.type(description="A file attached to a dispute: a photo or a measurement report.")
class DisputeEvidence(Node):
    filename: str = strawberry.field(description="File name as uploaded (no path).")
    content_type: str = strawberry.field(description="Type found in the content.")
    size_bytes: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the content, hex.")
    description: str | None = strawberry.field(description="What it shows.")
    uploaded_by: str = strawberry.field(description="Who uploaded it.")
    uploaded_at: dt.datetime = strawberry.field(description="When.")

    @strawberry.field(description="Path to GET the file from, with the same bearer token; "
                      "only the two parties to the dispute get it.")
    def download_path(self) -> str:
        return f"/evidence/{to_global_id('DisputeEvidence', self.pk)}"

    @classmethod
    def of(cls, e: evidence.Evidence) -> DisputeEvidence:
        return cls(pk=e.id, filename=e.filename, content_type=e.content_type,
                   size_bytes=e.size_bytes, sha256=e.sha256, description=e.description,
                   uploaded_by=e.uploaded_by, uploaded_at=e.uploaded_at)


@strawberry.type(description="One step of a dispute or of its claims: who, when, what, why.")
class DisputeStep:
    action: str = strawberry.field(
        description="What happened: `opened`, a transition (`process`, `withdraw`, `reject`, "
        "`claim`, `correct`, `complete`), an 8D record (`containment`, `root_cause`, ...), "
        "`evidence_added`, or a claim step (`claim_submitted`, `claim_assessed`, ...).")
    from_status: str | None = strawberry.field(description="State before, for transitions.")
    to_status: str | None = strawberry.field(description="State after, for transitions.")
    actor: str = strawberry.field(description="Who (the token subject).")
    note: str | None = strawberry.field(description="Why, or the text recorded.")
    detail: JSON = strawberry.field(description="What, in detail (coils, amounts, files).")
    occurred_at: dt.datetime = strawberry.field(description="When.")
    actor_org_pk: strawberry.Private[int]
    claim_pk: strawberry.Private[int | None]

    @strawberry.field(description="The organization of who acted: the customer or the mill.")
    async def actor_organization(self, info: Info[Any, Any]) -> Organization | None:
        found = await loaders(info).get(OrganizationByIdLoader).load(self.actor_org_pk)
        return Organization.of(found) if found else None

    @strawberry.field(description="The claim the step concerns, if any.")
    async def claim(self, info: Info[Any, Any]) -> Claim | None:
        if self.claim_pk is None:
            return None
        found = await loaders(info).get(ClaimByIdLoader).load(self.claim_pk)
        return Claim.of(found) if found else None

    @classmethod
    def of(cls, s: disputes.Step) -> DisputeStep:
        return cls(action=s.action, from_status=s.from_status, to_status=s.to_status,
                   actor=s.actor, note=s.note, detail=JSON(s.detail), occurred_at=s.occurred_at,
                   actor_org_pk=s.actor_org_id, claim_pk=s.claim_id)


@strawberry.type(description="A coil under suspicion: of the same heat as a disputed coil.")
class SuspectCoil:
    same_parent: bool = strawberry.field(
        description="Slit or cut from the same parent coil as a disputed coil.")
    where_now: WhereNow = strawberry.field(description="At the mill, in transit, at a "
                                           "customer, or consumed.")
    since: dt.datetime | None = strawberry.field(description="Since when, by its last scan.")
    quality_status: QualityStatus = strawberry.field(description="Blocked once contained.")
    row: strawberry.Private[containment.Suspect]

    @strawberry.field(description="The coil.")
    async def coil(self, info: Info[Any, Any]) -> Coil | None:
        found = await loaders(info).get(CoilByIdLoader).load(self.row.coil_id)
        return Coil.of(found) if found else None

    @strawberry.field(description="The site it is at, if at a site.")
    async def site(self, info: Info[Any, Any]) -> Site | None:
        return await site_of(info, self.row.site_id)

    @strawberry.field(description="The vehicle it is aboard, if travelling.")
    async def vehicle(self, info: Info[Any, Any]) -> Vehicle | None:
        return await vehicle_of(info, self.row.vehicle_id)

    @strawberry.field(description="The contract it serves; null for unallocated material.")
    async def contract(self, info: Info[Any, Any]) -> Contract | None:
        if self.row.contract_id is None:
            return None
        found = await loaders(info).get(ContractByIdLoader).load(self.row.contract_id)
        return Contract.of(found) if found else None

    @strawberry.field(description="The contract line it is allocated to.")
    async def line(self, info: Info[Any, Any]) -> ContractLine | None:
        if self.row.line_id is None:
            return None
        found = await loaders(info).get(LineByIdLoader).load(self.row.line_id)
        return ContractLine.of(found) if found else None

    @classmethod
    def of(cls, s: containment.Suspect) -> SuspectCoil:
        return cls(same_parent=s.same_parent, where_now=WhereNow[s.where_now.upper()],
                   since=s.since, quality_status=QualityStatus(s.quality_status), row=s)


@strawberry.type(description="A customer's quality dispute on coils delivered to it, followed "
                 "from opening to completion (8D).")
class QualityDispute(Node):
    number: str = strawberry.field(description="Dispute number, e.g. `QD-2026-000007`.")
    status: DisputeStatus = strawberry.field(description="Where it stands.")
    defect_kind: DefectKind = strawberry.field(description="Kind of defect.")
    description: str = strawberry.field(description="The defect as the customer saw it.")
    affected_tonnes: Decimal = strawberry.field(description="Tonnes affected.")
    found_during: FoundDuring = strawberry.field(description="Where it was found.")
    opened_by: str = strawberry.field(description="Who opened it.")
    opened_at: dt.datetime = strawberry.field(description="When.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")
    closed_at: dt.datetime | None = strawberry.field(
        description="When it was completed, rejected or withdrawn.")
    containment: str | None = strawberry.field(description="Containment (D3), latest.")
    root_cause: str | None = strawberry.field(description="Root cause (D4), latest.")
    corrective_action: str | None = strawberry.field(description="Corrective action, latest.")
    preventive_action: str | None = strawberry.field(description="Preventive action, latest.")
    verification: str | None = strawberry.field(description="Verification, latest.")
    row: strawberry.Private[disputes.Dispute]

    @strawberry.field(description="The customer that opened it.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        found = await loaders(info).get(OrganizationByIdLoader).load(self.row.customer_org_id)
        return Organization.of(found) if found else None

    @strawberry.field(description="When the mill must have taken it up (`PROCESS`): its "
                      "opening plus the customer's tier's response time, else "
                      "`KEYLINK_DISPUTE_RESPONSE_HOURS`.")
    async def response_due_at(self, info: Info[Any, Any]) -> dt.datetime:
        level = await service_level_of(info, self.row.customer_org_id)
        return self.row.opened_at + dt.timedelta(hours=level.dispute_response_hours)

    @strawberry.field(description="When it should be completed: its opening plus the "
                      "customer's tier's resolution time, else "
                      "`KEYLINK_DISPUTE_RESOLUTION_DAYS`.")
    async def resolution_due_at(self, info: Info[Any, Any]) -> dt.datetime:
        level = await service_level_of(info, self.row.customer_org_id)
        return self.row.opened_at + dt.timedelta(days=level.dispute_resolution_days)

    @strawberry.field(description="Where it was found, if a site was named.")
    async def found_site(self, info: Info[Any, Any]) -> Site | None:
        return await site_of(info, self.row.found_site_id)

    @strawberry.field(description="The coils disputed (at most 100).")
    async def coils(self, info: Info[Any, Any]) -> list[Coil]:
        found = await loaders(info).get(CoilByIdLoader).load_many(self.row.coil_ids)
        return [Coil.of(c) for c in found if c is not None]

    @strawberry.field(description="Every step so far, oldest first: the dispute's timeline.")
    async def timeline(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[DisputeStep]:
        found = await loaders(info).get(TimelineByDisputeLoader).load(self.pk)
        return id_page_of(found, DisputeStep.of, first, after)

    @strawberry.field(description="Claims for compensation, oldest first.")
    async def claims(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Claim]:
        found = await loaders(info).get(ClaimsByDisputeLoader).load(self.pk)
        return id_page_of(found, Claim.of, first, after)

    @strawberry.field(description="Evidence files, oldest first.")
    async def evidence(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[DisputeEvidence]:
        found = await loaders(info).get(EvidenceByDisputeLoader).load(self.pk)
        return id_page_of(found, DisputeEvidence.of, first, after)

    @strawberry.field(description="Containment: the other coils of the disputed coils' heats "
                      "(siblings from the same parent coil marked), where each is now and what "
                      "it serves. A customer sees only its own.")
    async def suspects(
        self, info: Info[Any, Any], first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[SuspectCoil]:
        check_first(first)
        rows = await loaders(info).get(SuspectPageByDisputeLoader).load(
            (self.pk, first + 1, after_id(after)))
        return connection([(SuspectCoil.of(r), [r.coil_id]) for r in rows], first,
                          after is not None)

    @strawberry.field(description="The transitions the viewer may take now.")
    async def available_actions(self, info: Info[Any, Any]) -> list[DisputeAction]:
        me = await ctx(info).actor()
        return [DisputeAction[name.upper()] for name, t in disputes.TRANSITIONS.items()
                if t.source == self.row.status and me.may(t.roles)]

    @classmethod
    def of(cls, d: disputes.Dispute) -> QualityDispute:
        return cls(pk=d.id, number=d.number, status=DisputeStatus(d.status),
                   defect_kind=DefectKind(d.defect_kind), description=d.description,
                   affected_tonnes=d.affected_t, found_during=FoundDuring(d.found_during),
                   opened_by=d.opened_by, opened_at=d.opened_at, updated_at=d.updated_at,
                   closed_at=d.closed_at, containment=d.containment, root_cause=d.root_cause,
                   corrective_action=d.corrective_action,
                   preventive_action=d.preventive_action, verification=d.verification, row=d)
